from django.urls import path

from twins import identity_views, readings_views, transfer_views, views

urlpatterns = [
    path("things/", views.thing_list, name="things"),
    path("things/new/", views.thing_create, name="thing-new"),
    path("things/<str:slug>/", views.thing_detail, name="thing"),
    path("things/<str:slug>/edit/", views.thing_edit, name="thing-edit"),
    path("things/<str:slug>/photo", views.thing_photo, name="thing-photo"),
    path("things/<str:slug>/photo/upload/", views.thing_photo_upload, name="thing-photo-upload"),
    path("things/<str:slug>/archive/", views.thing_archive, name="thing-archive"),
    path("things/<str:slug>/deactivate/", views.thing_deactivate, name="thing-deactivate"),
    path("things/<str:slug>/public/", views.thing_public_settings, name="thing-public"),
    path("things/<str:slug>/lost/", views.thing_lost, name="thing-lost"),
    path("things/<str:slug>/readings/new/", views.reading_create, name="reading-new"),
    path("things/<str:slug>/readings/", readings_views.readings_page, name="readings"),
    path("things/<str:slug>/readings.csv", readings_views.readings_csv, name="readings-csv"),
    path("things/<str:slug>/journal/new/", views.note_create, name="note-new"),
    path("things/<str:slug>/journal/<int:note_id>/edit/", views.note_edit, name="note-edit"),
    path("things/<str:slug>/journal/<int:note_id>/delete/", views.note_delete, name="note-delete"),
    path("things/<str:slug>/export.json", transfer_views.export, name="thing-export"),
    path("things/<str:slug>/transfer/", transfer_views.transfer, name="thing-transfer"),
    path("things/<str:slug>/transfer/qr.svg", transfer_views.transfer_qr, name="thing-transfer-qr"),
    path("things/<str:slug>/transfer/cancel/", transfer_views.transfer_cancel, name="thing-transfer-cancel"),
    path("things/<str:slug>/transfer/entries/", transfer_views.transfer_entries, name="thing-transfer-entries"),
    path("things/<str:slug>/transfer/sign/", transfer_views.transfer_sign, name="thing-transfer-sign"),
    # Any signed-in account holding the offer link (the buyer).
    path("transfer/<str:token>", transfer_views.offer_page, name="transfer-offer"),
    path("transfer/<str:token>/accept", transfer_views.offer_accept_view, name="transfer-accept"),
    path("transfer/<str:token>/photo", transfer_views.offer_photo, name="transfer-offer-photo"),
    # Public identity: did:webvh maps did:webvh:SCID:host:twins:<slug> to /twins/<slug>/did.jsonl.
    path("twins/<str:slug>/did.jsonl", identity_views.did_log, name="twin-did-log"),
    path("twins/<str:slug>/did.json", identity_views.did_web, name="twin-did-web"),
    path("twins/<str:slug>/verify", identity_views.verify, name="twin-verify"),
]
