from django.urls import path

from modules.accounts import views

urlpatterns = [
    path("", views.portal, name="portal"),
    path("profile/", views.profile, name="profile"),
]
