"""Routes of keepers, service access and emergency access (included by credentials/urls.py)."""

from django.urls import path

from credentials import access_apis, access_views

urlpatterns = [
    # The owner's: who may act on one thing.
    path("things/<str:slug>/keepers/", access_views.thing_keepers, name="thing-keepers"),
    path("things/<str:slug>/service-access/", access_views.thing_service_access, name="thing-service-access"),
    path("things/<str:slug>/access/revoke/", access_views.thing_access_revoke, name="thing-access-revoke"),
    # The wallet's keeper and service credentials: their issuer's and their holder's.
    path("credentials/access/<uuid:credential_id>/", access_views.access_credential_detail, name="access-credential"),
    path(
        "credentials/access/<uuid:credential_id>/credential.json",
        access_views.access_credential_json,
        name="access-credential-json",
    ),
    path(
        "credentials/access/<uuid:credential_id>/present/",
        access_views.access_credential_present,
        name="access-credential-present",
    ),
    # The guardian's: emergency links, their access log, revoking.
    path("emergency/", access_views.emergency_grants, name="emergency-grants"),
    path("emergency/new/", access_views.emergency_new, name="emergency-new"),
    path("emergency/revoke/", access_views.emergency_revoke, name="emergency-revoke"),
    path(
        "emergency/credentials/<uuid:credential_id>.json",
        access_views.emergency_credential_json,
        name="emergency-credential-json",
    ),
    # Public: whoever holds the link (a rescue service); the token is the authority.
    path("emergency/present", access_views.emergency_present, name="emergency-present"),  # or present it
    path("api/emergency/challenges", access_apis.EmergencyChallengeApi.as_view(), name="api-emergency-challenges"),
    path("api/emergency/present", access_apis.EmergencyPresentApi.as_view(), name="api-emergency-present"),
    path("emergency/<str:token>", access_views.emergency_page, name="emergency-view"),
]
