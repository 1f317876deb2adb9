from django.contrib import admin

from didcomm.models import Connection, InboundMessage, OutboundMessage, RecipientKey


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    list_display = ("twin", "their_label", "state", "created_at", "last_ping_at")
    list_filter = ("state",)
    raw_id_fields = ("twin",)


@admin.register(InboundMessage)
class InboundMessageAdmin(admin.ModelAdmin):
    list_display = ("twin", "type", "message_id", "received_at")
    raw_id_fields = ("twin", "connection")


@admin.register(OutboundMessage)
class OutboundMessageAdmin(admin.ModelAdmin):
    list_display = ("twin", "type", "message_id", "status", "created_at")
    list_filter = ("status",)
    raw_id_fields = ("twin", "connection", "in_reply_to")


@admin.register(RecipientKey)
class RecipientKeyAdmin(admin.ModelAdmin):
    list_display = ("verkey", "twin", "created_at")
    raw_id_fields = ("twin",)
