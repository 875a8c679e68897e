from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from gridgov.admin_scope import ScopedAdminMixin

from .models import Department, Post

User = get_user_model()


class PostInline(admin.TabularInline):
    model = Post
    fields = ("role", "area", "department", "title", "is_active")
    raw_id_fields = ("area", "department")
    extra = 1


admin.site.unregister(User)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """Users with their posts edited inline: a post = (role, area) or (部门, department)."""

    inlines = [PostInline]


@admin.register(Post)
class PostAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("user", "role", "area", "department", "title", "is_active")
    list_filter = ("role", "is_active")
    search_fields = ("user__username", "user__first_name", "user__last_name", "area__name", "department__name")
    raw_id_fields = ("user", "area", "department")
    list_select_related = ("user", "area", "department")


@admin.register(Department)
class DepartmentAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "code", "kind", "area", "is_active")
    list_filter = ("kind", "is_active")
    search_fields = ("name", "code")
    raw_id_fields = ("area",)
