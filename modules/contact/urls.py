from django.urls import path

from modules.contact import views

urlpatterns = [
    path("<int:page_id>/", views.contact_expert, name="form"),
    path("<int:page_id>/sent/", views.message_sent, name="sent"),
]
