"""Firmware: REST API routes under /api/."""

from django.urls import path

from firmware import apis

urlpatterns = [
    path("orgs/<str:slug>/models/<str:gtin>/firmware/", apis.ReleaseListApi.as_view(), name="api-firmware-releases"),
    path("orgs/<str:slug>/models/<str:gtin>/firmware/cosign", apis.CosignApi.as_view(), name="api-firmware-cosign"),
    path("orgs/<str:slug>/models/<str:gtin>/firmware/policy", apis.PolicyApi.as_view(), name="api-firmware-policy"),
    path(
        "orgs/<str:slug>/models/<str:gtin>/firmware/withdraw", apis.WithdrawApi.as_view(), name="api-firmware-withdraw"
    ),
    path("things/<str:slug>/firmware/", apis.TwinFirmwareApi.as_view(), name="api-firmware-status"),
    path("things/<str:slug>/firmware/accept", apis.TwinAcceptApi.as_view(), name="api-firmware-accept"),
]
