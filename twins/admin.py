from django.contrib import admin

from twins.models import JournalNote, Reading, Twin


@admin.register(Twin)
class TwinAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "slug", "lost", "latest_value", "latest_at", "archived_at")
    list_filter = ("lost", "icon")
    search_fields = ("name", "slug", "serial", "owner__username")
    raw_id_fields = ("owner",)
    readonly_fields = ("slug", "created_at", "updated_at", "latest_value", "latest_unit", "latest_at")
    list_select_related = ("owner",)


@admin.register(Reading)
class ReadingAdmin(admin.ModelAdmin):
    list_display = ("twin", "kind", "value", "unit", "time", "source")
    list_filter = ("source",)
    search_fields = ("twin__name", "twin__slug")
    raw_id_fields = ("twin",)
    list_select_related = ("twin",)


@admin.register(JournalNote)
class JournalNoteAdmin(admin.ModelAdmin):
    list_display = ("title", "twin", "time")
    search_fields = ("title", "twin__name")
    raw_id_fields = ("twin",)
    list_select_related = ("twin",)
