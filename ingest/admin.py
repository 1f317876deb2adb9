from django.contrib import admin

from ingest.models import Delivery, Source, SourceThing


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "public_id", "rate_limit", "previous_valid_until", "created_at")
    search_fields = ("name", "public_id", "owner__username")
    # Sealed secrets never appear: they are not editable fields.
    readonly_fields = ("public_id", "previous_valid_until")


@admin.register(SourceThing)
class SourceThingAdmin(admin.ModelAdmin):
    list_display = ("source", "twin", "external_id")


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("source", "webhook_id", "status", "created_at")
    search_fields = ("webhook_id",)
