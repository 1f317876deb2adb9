from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from owners.models import Notification, Owner


@admin.register(Owner)
class OwnerAdmin(UserAdmin):
    fieldsets = (
        *UserAdmin.fieldsets,
        (
            "Contact card",
            {
                "fields": (
                    ("contact_name", "show_name"),
                    ("contact_email", "show_email"),
                    ("contact_phone", "show_phone"),
                    ("contact_message", "show_message"),
                )
            },
        ),
    )


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("title", "owner", "kind", "count", "updated_at", "read_at")
    list_filter = ("kind",)
    search_fields = ("title", "owner__username")
    raw_id_fields = ("owner", "twin")
    list_select_related = ("owner",)
