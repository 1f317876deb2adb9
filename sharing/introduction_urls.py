"""Routes of introductions (sharing.introduction_views)."""

from django.urls import path

from sharing import introduction_views as views

urlpatterns = [
    path("introductions/", views.introduction_list, name="introductions"),
    path("introductions/<int:introduction_id>/", views.introduction_detail, name="introduction"),
    path("introductions/<int:introduction_id>/accept/", views.introduction_accept, name="introduction-accept"),
    path("introductions/<int:introduction_id>/decline/", views.introduction_decline, name="introduction-decline"),
    path("things/<str:slug>/introduce/", views.thing_introduce, name="thing-introduce"),
]
