from django.urls import path

from modules.payments_paypal import views

urlpatterns = [
    path("cancel/<int:payment_id>/", views.cancel, name="cancel"),
]
