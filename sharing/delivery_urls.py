"""The delivery log's replay button (sharing.delivery_views); the log itself is sharing.grant_urls'."""

from django.urls import path

from sharing import delivery_views as views

urlpatterns = [
    path("things/<str:slug>/sharing/replay/", views.thing_deliveries_replay, name="thing-sharing-replay"),
]
