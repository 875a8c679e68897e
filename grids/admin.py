from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from mptt.admin import DraggableMPTTAdmin

from gridgov.admin_scope import ScopedAdminMixin

from .models import Area, Household, Resident, Tag
from .paths import set_path


@admin.register(Area)
class AreaAdmin(ScopedAdminMixin, DraggableMPTTAdmin):
    """Drag-and-drop tree (django-mptt's admin); moves go through Area.move_to, which takes the
    tree lock and refreshes the records' denormalised paths."""

    list_display = ("tree_actions", "indented_title", "code", "level", "is_active")
    list_display_links = ("indented_title",)
    list_filter = ("level", "is_active")
    search_fields = ("name", "code")
    # The boundary is edited on the map (validated and versioned), never as raw JSON here.
    readonly_fields = ("boundary", "created_at", "updated_at")
    fields = ("code", "name", "level", "parent", "is_active", "boundary", "created_at", "updated_at")
    raw_id_fields = ("parent",)
    mptt_level_indent = 18

    def delete_model(self, request, obj):
        try:
            obj.delete()
        except ValidationError as exc:
            self.message_user(request, "；".join(exc.messages), messages.ERROR)

    def delete_queryset(self, request, queryset):
        for obj in queryset.order_by("-depth"):
            self.delete_model(request, obj)


class ResidentInline(admin.TabularInline):
    model = Resident
    fields = ("name", "masked_id", "masked_phone", "relation", "is_active")
    readonly_fields = ("masked_id", "masked_phone")
    extra = 0
    show_change_link = True

    @admin.display(description=_("身份证号"))
    def masked_id(self, obj):
        return obj.id_number_masked

    @admin.display(description=_("电话"))
    def masked_phone(self, obj):
        return obj.phone_masked


@admin.register(Household)
class HouseholdAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("code", "address", "area", "is_active")
    list_filter = ("is_active", "tags")
    search_fields = ("code", "address")
    raw_id_fields = ("area",)
    filter_horizontal = ("tags",)
    inlines = [ResidentInline]
    list_select_related = ("area",)

    def save_model(self, request, obj, form, change):
        set_path(obj)
        super().save_model(request, obj, form, change)
        if change and "area" in form.changed_data:
            for resident in obj.residents.all():
                resident.save()


class ResidentAdminForm(forms.ModelForm):
    """The stored ID number and phone never travel to the browser: the fields start empty with the
    masked value as a hint, and an empty submission keeps what is stored."""

    class Meta:
        model = Resident
        fields = ["household", "name", "id_number", "phone", "relation", "tags", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, masked in (("id_number", self.instance.id_number_masked), ("phone", self.instance.phone_masked)):
            if name in self.fields and self.instance.pk:
                self.initial[name] = ""
                self.fields[name].required = False
                self.fields[name].help_text = _("当前：%(value)s；留空表示不修改") % {"value": masked or "—"}

    def _keep(self, name):
        value = self.cleaned_data.get(name)
        if not value and self.instance.pk:
            return type(self.instance).objects.filter(pk=self.instance.pk).values_list(name, flat=True).first()
        return value

    def clean_id_number(self):
        return self._keep("id_number")

    def clean_phone(self):
        return self._keep("phone")


@admin.register(Resident)
class ResidentAdmin(ScopedAdminMixin, admin.ModelAdmin):
    form = ResidentAdminForm
    list_display = ("name", "masked_id", "masked_phone", "relation", "household")
    list_filter = ("relation", "tags", "is_active")
    search_fields = ("name", "household__code")
    raw_id_fields = ("household",)
    filter_horizontal = ("tags",)
    readonly_fields = ("gender", "birth_date", "area")
    exclude = ("county", "town", "zone", "village", "grid")
    list_select_related = ("household",)

    @admin.display(description=_("身份证号"))
    def masked_id(self, obj):
        return obj.id_number_masked

    @admin.display(description=_("电话"))
    def masked_phone(self, obj):
        return obj.phone_masked


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "key_visit", "order")
    list_editable = ("key_visit", "order")


from . import admin_boundaries, admin_visits  # noqa: E402,F401
