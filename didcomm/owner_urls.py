from django.urls import path

from didcomm import views

urlpatterns = [
    path("things/<str:slug>/connections/", views.connections, name="thing-connections"),
]
