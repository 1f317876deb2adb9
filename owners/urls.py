from django.contrib.auth import views as auth_views
from django.urls import path

from owners import views

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    # Limited per address and per account by core.middleware.LoginRateLimitMiddleware (as is the admin's login).
    path("login/", views.OwnerLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", views.RateLimitedPasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("password-reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("profile/", views.profile, name="profile"),
    path("profile/time-zone/", views.profile_time_zone, name="profile-time-zone"),
    path("profile/api-token/", views.api_token, name="api-token"),
    path("profile/keys/", views.keys, name="owner-keys"),
    path("profile/keys/download", views.key_download, name="owner-key-download"),
    path("profile/keys/self-held", views.key_self_held, name="owner-key-self-held"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/read/", views.inbox_read_all, name="inbox-read-all"),
    path("inbox/<int:notification_id>/", views.inbox_item, name="inbox-item"),
]
