"""Bulk actions: REST API routes under /api/."""

from django.urls import path

from bulk import apis

urlpatterns = [
    path("bulk/jobs", apis.JobCreateApi.as_view(), name="api-bulk-jobs"),
    path("bulk/jobs/<int:job_id>", apis.JobApi.as_view(), name="api-bulk-job"),
    path("bulk/jobs/<int:job_id>/cancel", apis.JobCancelApi.as_view(), name="api-bulk-job-cancel"),
]
