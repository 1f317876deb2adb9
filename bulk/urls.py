"""Bulk actions: pages."""

from django.urls import path

from bulk import views

urlpatterns = [
    path("bulk/act", views.bulk_act, name="bulk-act"),
    path("bulk/count", views.bulk_count, name="bulk-count"),
    path("bulk/jobs/", views.job_list, name="bulk-jobs"),
    path("bulk/jobs/<int:job_id>/", views.job_detail, name="bulk-job"),
    path("bulk/jobs/<int:job_id>/cancel", views.job_cancel, name="bulk-job-cancel"),
]
