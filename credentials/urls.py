"""Routes of the credentials feature (included by config.urls when installed)."""

from django.urls import include, path

from credentials import apis, views

urlpatterns = [
    # The owner's wallet.
    path("credentials/", views.wallet, name="credential-wallet"),
    path("credentials/<uuid:credential_id>/", views.credential_detail, name="credential"),
    path("credentials/<uuid:credential_id>/credential.json", views.credential_json, name="credential-json"),
    path("credentials/<uuid:credential_id>/present/", views.credential_present, name="credential-present"),
    # Public: the status lists verifiers fetch, the verifier page and its API.
    path("credentials/status/<str:list_id>", views.status_list, name="credential-status-list"),
    path("verify/credential", views.verify_credential, name="verify-credential"),
    path("verify/credential/<str:session_id>", views.verify_session, name="verify-session"),
    path("api/credentials/verify", apis.CredentialVerifyApi.as_view(), name="api-credentials-verify"),
    # A signed-in owner acting as a shop.
    path("verify/policies/", views.policies, name="verify-policies"),
    path("verify/policies/<str:policy_id>/", views.policy_edit, name="verify-policy"),
    path("verify/policies/<str:policy_id>/delete/", views.policy_delete, name="verify-policy-delete"),
    path("", include("credentials.access_urls")),  # keepers, service access, emergency access
    path("", include("credentials.authenticity_urls")),  # makers' authenticity credentials, their status lists
]
