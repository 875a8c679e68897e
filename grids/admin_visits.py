"""Admin for the grid worker's records: visits, 1+X pairings, patrol logs (scoped like every other
changelist), and the ID-number access log, which nobody can add to, edit or delete here."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from cases.models import PatrolItem, PatrolLog
from gridgov.admin_scope import ScopedAdminMixin

from .visits import IdNumberAccess, Pairing, Visit


@admin.register(Visit)
class VisitAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("date", "household", "visitor", "has_photo", "follow_up_case")
    list_filter = ("date",)
    search_fields = ("household__code", "household__address", "discussed")
    date_hierarchy = "date"
    raw_id_fields = ("household", "visitor", "follow_up_case")
    # The photo is served only through the worker pages' scoped view, never from MEDIA_URL.
    fields = ("household", "visitor", "date", "discussed", "follow_up_case", "area", "has_photo", "created_at")
    readonly_fields = ("household", "visitor", "area", "has_photo", "created_at")
    list_select_related = ("household", "visitor", "follow_up_case")

    @admin.display(description=_("照片"), boolean=True)
    def has_photo(self, obj) -> bool:
        return bool(obj.photo)

    def has_add_permission(self, request) -> bool:
        return False  # recorded from the grid worker's pages, with the household's path


@admin.register(Pairing)
class PairingAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("display_name", "cadre_title", "household", "since", "until")
    list_filter = ("until",)
    search_fields = ("cadre_name", "cadre__username", "household__code", "household__address")
    raw_id_fields = ("household", "cadre")
    list_select_related = ("household", "cadre")


@admin.register(IdNumberAccess)
class IdNumberAccessAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Read-only audit log of full ID number views."""

    list_display = ("created_at", "user", "resident", "reason", "ip_address")
    list_filter = ("created_at",)
    search_fields = ("user__username", "resident__name", "reason")
    date_hierarchy = "created_at"
    fields = ("created_at", "user", "resident", "reason", "ip_address")
    readonly_fields = fields
    list_select_related = ("user", "resident")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class PatrolItemInline(admin.TabularInline):
    model = PatrolItem
    fields = ("case", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(PatrolLog)
class PatrolLogAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("day", "worker", "area", "started_at", "ended_at")
    list_filter = ("day",)
    search_fields = ("worker__username", "area__name")
    date_hierarchy = "day"
    fields = ("worker", "day", "area", "started_at", "ended_at", "note")
    readonly_fields = ("worker", "day", "area", "started_at", "ended_at")
    inlines = [PatrolItemInline]
    list_select_related = ("worker", "area")

    def has_add_permission(self, request) -> bool:
        return False
