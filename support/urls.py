"""Support pages (support.views)."""

from django.urls import path

from support import views

urlpatterns = [
    path("things/<str:slug>/support/", views.thing_support, name="thing-support"),
    path("support/", views.my_cases, name="support-cases"),
    path("support/<str:case_id>/", views.case_page, name="support-case"),
    path("support/<str:case_id>/reply/", views.case_reply, name="support-case-reply"),
    path("support/<str:case_id>/answer/", views.case_answer, name="support-case-answer"),
    path("support/<str:case_id>/status/", views.case_status, name="support-case-status"),
    path("support/<str:case_id>/read/", views.case_read, name="support-case-read"),
    path("orgs/<str:slug>/support/", views.org_queue, name="org-support"),
    path("orgs/<str:slug>/support/<str:case_id>/", views.org_case, name="org-support-case"),
    path("orgs/<str:slug>/support/<str:case_id>/reply/", views.org_case_reply, name="org-support-case-reply"),
    path("orgs/<str:slug>/support/<str:case_id>/ask/", views.org_case_ask, name="org-support-case-ask"),
    path("orgs/<str:slug>/support/<str:case_id>/assign/", views.org_case_assign, name="org-support-case-assign"),
    path("orgs/<str:slug>/support/<str:case_id>/status/", views.org_case_status, name="org-support-case-status"),
    path("orgs/<str:slug>/support/<str:case_id>/read/", views.org_case_read, name="org-support-case-read"),
]
