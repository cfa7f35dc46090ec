from django.urls import path

from modules.booking import views

urlpatterns = [
    path("<int:page_id>/", views.start, name="start"),
    path("<int:page_id>/product/", views.product, name="product"),
    path("<int:page_id>/time/", views.slot, name="slot"),
    path("<int:page_id>/confirm/", views.confirm, name="confirm"),
    path("done/<str:code>/", views.done, name="done"),
    path("abandon/<str:code>/", views.abandon, name="abandon"),
    path("cancel/<str:code>/", views.cancel, name="cancel"),
    path("move/<str:code>/", views.reschedule, name="reschedule"),
    path("ics/<str:code>/", views.appointment_ics, name="ics"),
    path("answer/<str:token>/", views.answer, name="answer"),
    path("proposal/<str:token>/", views.proposal, name="proposal"),
    path("calendar/<str:token>.ics", views.calendar_feed, name="feed"),
]
