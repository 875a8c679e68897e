"""Boundary versions in the Django admin: read-only history (every change is made through the map
editor, the import page or the commands, which validate and version it), with a link to the
GeoJSON import page."""

from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .boundary_models import BoundaryVersion


@admin.register(BoundaryVersion)
class BoundaryVersionAdmin(admin.ModelAdmin):
    list_display = ("area", "number", "kind", "effective_from", "area_m2", "author", "created_at", "map_link")
    list_filter = ("kind", "effective_from")
    search_fields = ("area__code", "area__name", "note")
    list_select_related = ("area", "author")
    readonly_fields = (
        "area",
        "number",
        "kind",
        "effective_from",
        "area_m2",
        "author",
        "note",
        "geometry",
        "created_at",
    )
    change_list_template = "boundaries/admin_changelist.html"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        from .scope import scope_for

        return qs.filter(scope_for(request.user).area_q("area__"))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("历史"))
    def map_link(self, obj):
        try:
            url = reverse("boundaries:history", args=[obj.area_id])
        except NoReverseMatch:  # the boundary pages are not mounted
            return ""
        return format_html('<a href="{}">{}</a>', url, _("查看"))

    def changelist_view(self, request, extra_context=None):
        extra = dict(extra_context or {})
        try:
            extra["boundary_import_url"] = reverse("boundaries:import")
        except NoReverseMatch:
            extra["boundary_import_url"] = ""
        return super().changelist_view(request, extra_context=extra)
