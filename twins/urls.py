from django.urls import path

from twins import views

urlpatterns = [
    path("things/", views.thing_list, name="things"),
    path("things/new/", views.thing_create, name="thing-new"),
    path("things/<str:slug>/", views.thing_detail, name="thing"),
    path("things/<str:slug>/edit/", views.thing_edit, name="thing-edit"),
    path("things/<str:slug>/photo", views.thing_photo, name="thing-photo"),
    path("things/<str:slug>/photo/upload/", views.thing_photo_upload, name="thing-photo-upload"),
    path("things/<str:slug>/archive/", views.thing_archive, name="thing-archive"),
    path("things/<str:slug>/public/", views.thing_public_settings, name="thing-public"),
    path("things/<str:slug>/lost/", views.thing_lost, name="thing-lost"),
    path("things/<str:slug>/readings/new/", views.reading_create, name="reading-new"),
    path("things/<str:slug>/journal/new/", views.note_create, name="note-new"),
    path("things/<str:slug>/journal/<int:note_id>/edit/", views.note_edit, name="note-edit"),
    path("things/<str:slug>/journal/<int:note_id>/delete/", views.note_delete, name="note-delete"),
]
