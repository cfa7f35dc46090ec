from django.urls import path

from modules.payments_test import views

urlpatterns = [
    path("pay/<int:payment_id>/", views.pay, name="pay"),
    path("secure/<int:payment_id>/", views.secure, name="secure"),
]
