"""Support: REST API routes under /api/ (support.apis)."""

from django.urls import path

from support import apis

urlpatterns = [
    path("support/cases", apis.MyCasesApi.as_view(), name="api-support-cases"),
    path("support/cases/<str:case_id>", apis.MyCaseApi.as_view(), name="api-support-case"),
    path("support/cases/<str:case_id>/replies", apis.MyCaseReplyApi.as_view(), name="api-support-case-reply"),
    path("support/cases/<str:case_id>/answer", apis.MyCaseAnswerApi.as_view(), name="api-support-case-answer"),
    path("support/cases/<str:case_id>/status", apis.MyCaseStatusApi.as_view(), name="api-support-case-status"),
    path("support/cases/<str:case_id>/read", apis.MyCaseReadApi.as_view(), name="api-support-case-read"),
    path("things/<str:slug>/support/", apis.ThingSupportApi.as_view(), name="api-thing-support"),
    path("things/<str:slug>/support/cases", apis.CaseOpenApi.as_view(), name="api-thing-support-open"),
    path("orgs/<str:slug>/support/cases", apis.QueueApi.as_view(), name="api-org-support-cases"),
    path("orgs/<str:slug>/support/cases/<str:case_id>", apis.OrgCaseApi.as_view(), name="api-org-support-case"),
    path(
        "orgs/<str:slug>/support/cases/<str:case_id>/replies",
        apis.OrgCaseReplyApi.as_view(),
        name="api-org-support-case-reply",
    ),
    path(
        "orgs/<str:slug>/support/cases/<str:case_id>/asks",
        apis.OrgCaseAskApi.as_view(),
        name="api-org-support-case-ask",
    ),
    path(
        "orgs/<str:slug>/support/cases/<str:case_id>/assignee",
        apis.OrgCaseAssignApi.as_view(),
        name="api-org-support-case-assign",
    ),
    path(
        "orgs/<str:slug>/support/cases/<str:case_id>/status",
        apis.OrgCaseStatusApi.as_view(),
        name="api-org-support-case-status",
    ),
    path(
        "orgs/<str:slug>/support/cases/<str:case_id>/read",
        apis.OrgCaseReadApi.as_view(),
        name="api-org-support-case-read",
    ),
]
