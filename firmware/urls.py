"""Firmware pages: a model's releases (members), a thing's acceptance (its owner), and what devices fetch
(public under /twins/<slug>/, like the twin's DID log: see firmware.device)."""

from django.urls import path

from firmware import device, views

urlpatterns = [
    path("orgs/<str:slug>/models/<str:gtin>/firmware/", views.releases, name="firmware-releases"),
    path("orgs/<str:slug>/models/<str:gtin>/firmware/cosign", views.cosign, name="firmware-cosign"),
    path("orgs/<str:slug>/models/<str:gtin>/firmware/policy", views.policy, name="firmware-policy"),
    path("orgs/<str:slug>/models/<str:gtin>/firmware/withdraw", views.withdraw, name="firmware-withdraw"),
    path("things/<str:slug>/firmware/accept", views.accept, name="firmware-accept"),
    path("twins/<str:slug>/firmware/latest", device.latest, name="firmware-latest"),
    path("twins/<str:slug>/firmware/payload", device.payload, name="firmware-payload"),
]
