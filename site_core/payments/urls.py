from django.urls import path

from site_core.payments import views

app_name = "payments"

urlpatterns = [
    path("checkout/<uuid:public_id>/", views.checkout, name="checkout"),
    path("checkout/<uuid:public_id>/pay/<slug:provider>/", views.pay, name="pay"),
    path("return/<int:payment_id>/", views.payment_return, name="return"),
    path("paid/<uuid:public_id>/", views.paid, name="paid"),
]

webhook_urlpatterns = [
    path("payments/webhooks/<slug:provider>/", views.webhook, name="payments_webhook"),
]
