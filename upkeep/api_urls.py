from django.urls import path

from upkeep import apis

urlpatterns = [
    path("things/<str:slug>/purchase", apis.PurchaseApi.as_view(), name="api-upkeep-purchase"),
    path("things/<str:slug>/attachments/", apis.AttachmentsApi.as_view(), name="api-upkeep-attachments"),
    path(
        "things/<str:slug>/attachments/<int:attachment_id>/",
        apis.AttachmentApi.as_view(),
        name="api-upkeep-attachment",
    ),
    path(
        "things/<str:slug>/attachments/<int:attachment_id>/file",
        apis.AttachmentFileApi.as_view(),
        name="api-upkeep-attachment-file",
    ),
    path("things/<str:slug>/maintenance/", apis.SchedulesApi.as_view(), name="api-upkeep-schedules"),
    path(
        "things/<str:slug>/maintenance/<int:schedule_id>/",
        apis.ScheduleApi.as_view(),
        name="api-upkeep-schedule",
    ),
    path(
        "things/<str:slug>/maintenance/<int:schedule_id>/done",
        apis.ScheduleDoneApi.as_view(),
        name="api-upkeep-schedule-done",
    ),
]
