from django.urls import path

from upkeep import views

urlpatterns = [
    path("things/<str:slug>/purchase/", views.purchase_edit, name="upkeep-purchase"),
    path("things/<str:slug>/attachments/", views.attachment_add, name="upkeep-attachment-add"),
    path(
        "things/<str:slug>/attachments/<int:attachment_id>/",
        views.attachment_download,
        name="upkeep-attachment",
    ),
    path(
        "things/<str:slug>/attachments/<int:attachment_id>/delete/",
        views.attachment_delete,
        name="upkeep-attachment-delete",
    ),
    path("things/<str:slug>/maintenance/", views.maintenance_list, name="upkeep-maintenance"),
    path(
        "things/<str:slug>/maintenance/<int:schedule_id>/done/",
        views.schedule_done,
        name="upkeep-schedule-done",
    ),
    path(
        "things/<str:slug>/maintenance/<int:schedule_id>/delete/",
        views.schedule_delete,
        name="upkeep-schedule-delete",
    ),
]
