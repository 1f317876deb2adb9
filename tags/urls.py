from django.urls import path

from tags import views

urlpatterns = [
    # Public: anyone who holds the tag.
    path("t/", views.tag_enter, name="tag-enter"),
    path("t/<str:token>", views.tag_scan, name="tag-scan"),
    path("t/<str:token>/message", views.tag_message, name="tag-message"),
    path("t/<str:token>/photo", views.tag_public_photo, name="tag-public-photo"),
    path("t/<str:token>/claim", views.tag_claim, name="tag-claim"),
    path("t/<str:token>/reading", views.tag_reading, name="tag-reading"),
    # Private: the owner's tag management.
    path("things/<str:slug>/tags/new/", views.tag_create, name="tag-new"),
    path("things/<str:slug>/tags/labels/", views.tag_labels, name="tag-labels"),
    path("things/<str:slug>/tags/nfc/", views.tag_nfc, name="tag-nfc"),
    path("things/<str:slug>/tags/nfc/setting/", views.tag_nfc_setting, name="tag-nfc-setting"),
    path("things/<str:slug>/tags/<int:tag_id>/", views.tag_show, name="tag-show"),
    path("things/<str:slug>/tags/<int:tag_id>/qr.png", views.tag_qr_png, name="tag-qr-png"),
    path("things/<str:slug>/tags/<int:tag_id>/qr.svg", views.tag_qr_svg, name="tag-qr-svg"),
    path("things/<str:slug>/tags/<int:tag_id>/nfc.ndef", views.tag_ndef, name="tag-ndef"),
    path("things/<str:slug>/tags/<int:tag_id>/retire/", views.tag_retire, name="tag-retire"),
]
