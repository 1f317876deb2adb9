from django.contrib import admin

from didcomm.models import Agent, Connection, InboundMessage, OutboundMessage, RecipientKey


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = ("__str__", "created_at")
    raw_id_fields = ("twin", "owner")
    exclude = ("key_sealed",)


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    list_display = ("agent", "their_label", "state", "created_at", "last_ping_at")
    list_filter = ("state",)
    raw_id_fields = ("agent",)
    exclude = ("my_key_sealed",)


@admin.register(InboundMessage)
class InboundMessageAdmin(admin.ModelAdmin):
    list_display = ("agent", "type", "message_id", "received_at")
    raw_id_fields = ("agent", "connection")


@admin.register(OutboundMessage)
class OutboundMessageAdmin(admin.ModelAdmin):
    list_display = ("agent", "type", "message_id", "status", "created_at")
    list_filter = ("status",)
    raw_id_fields = ("agent", "connection", "in_reply_to")


@admin.register(RecipientKey)
class RecipientKeyAdmin(admin.ModelAdmin):
    list_display = ("verkey", "agent", "created_at")
    raw_id_fields = ("agent",)
