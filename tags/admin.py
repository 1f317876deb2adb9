from __future__ import annotations

from django.contrib import admin

from tags.codes import normalize_short_code
from tags.models import Scan, Tag


class ShortCodeSearchMixin:
    """Search by code the way people type it: "abcd-efgh" finds ABCDEFGH."""

    code_field = "code"

    def get_search_results(self, request, queryset, search_term):
        code = normalize_short_code(search_term or "")
        if code is not None:
            return queryset.filter(**{self.code_field: code}), False
        return super().get_search_results(request, queryset, search_term)


@admin.register(Tag)
class TagAdmin(ShortCodeSearchMixin, admin.ModelAdmin):
    list_display = ("code", "twin", "status", "batch", "label", "created_at", "retired_at")
    list_filter = ("status", "batch")
    list_select_related = ("twin",)
    search_fields = ("code", "token", "batch", "label", "twin__name")
    readonly_fields = ("token", "code", "created_at", "retired_at")
    raw_id_fields = ("twin",)


@admin.register(Scan)
class ScanAdmin(ShortCodeSearchMixin, admin.ModelAdmin):
    code_field = "tag__code"
    list_display = ("time", "tag", "twin", "by_owner", "user_agent")
    list_filter = ("by_owner",)
    list_select_related = ("tag", "twin")
    search_fields = ("tag__code", "twin__name")
    raw_id_fields = ("tag", "twin")
    date_hierarchy = "time"

    def has_add_permission(self, request) -> bool:
        # Scans are a log of real openings, not something to type in.
        return False
