from django.contrib import admin, messages
from django.db.models import Count, Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from gridgov.admin_scope import ScopedAdminMixin

from . import calendar
from .choices import DayKind
from .forms import CalendarYearForm
from .models import CalendarDay, CalendarYear, Case, CaseEvent, Category, WorkingHours

WEEKDAYS = "一二三四五六日"


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin):
    list_display = ("date", "weekday", "kind", "name", "calendar_year")
    list_filter = ("kind", "calendar_year")
    date_hierarchy = "date"
    search_fields = ("name",)
    ordering = ("date",)
    fields = ("date", "kind", "name")

    @admin.display(description=_("星期"))
    def weekday(self, obj):
        return gettext("星期%(day)s") % {"day": WEEKDAYS[obj.date.weekday()]}


class CalendarDayInline(admin.TabularInline):
    model = CalendarDay
    fields = ("date", "kind", "name")
    ordering = ("date",)
    extra = 0


@admin.register(CalendarYear)
class CalendarYearAdmin(admin.ModelAdmin):
    """A year with its days inline, and the fast entry of the whole schedule as text."""

    form = CalendarYearForm
    inlines = [CalendarDayInline]
    list_display = ("__str__", "complete", "holiday_count", "workday_count", "source", "note")
    list_filter = ("complete",)
    actions = ["mark_complete"]
    fieldsets = (
        (None, {"fields": ("year", "complete", "note")}),
        (_("快速录入年度安排"), {"fields": ("schedule", "replace_days")}),
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                holidays=Count("days", filter=Q(days__kind=DayKind.HOLIDAY)),
                workdays=Count("days", filter=Q(days__kind=DayKind.WORKDAY)),
            )
        )

    def get_readonly_fields(self, request, obj=None):
        # Days refer to the year by its number: it cannot change once the year exists.
        return ("year",) if obj is not None else ()

    @admin.display(description=_("放假天数"), ordering="holidays")
    def holiday_count(self, obj):
        return obj.holidays

    @admin.display(description=_("调休上班天数"), ordering="workdays")
    def workday_count(self, obj):
        return obj.workdays

    @admin.display(description=_("期限计算依据"))
    def source(self, obj):
        if obj.complete:
            return gettext("管理员录入（完整）")
        if calendar.package_covers(obj.year):
            return gettext("chinesecalendar 内置数据，管理员录入的日期优先")
        return gettext("未完整录入：缺少的日期按周一至周五上班计算")

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        result = form.save_schedule()
        if result is not None:
            self.message_user(
                request,
                gettext("已录入 %(year)s 年：新增 %(created)d 天，更新 %(updated)d 天，删除 %(deleted)d 天。")
                % {
                    "year": form.instance.year,
                    "created": result.created,
                    "updated": result.updated,
                    "deleted": result.deleted,
                },
                messages.SUCCESS,
            )

    @admin.action(description=_("标记为已完整录入"))
    def mark_complete(self, request, queryset):
        count = 0
        for record in queryset.filter(complete=False):
            record.complete = True
            record.save(update_fields=["complete", "updated_at"])
            count += 1
        self.message_user(request, gettext("已标记 %(count)d 个年度为已完整录入。") % {"count": count})


@admin.register(WorkingHours)
class WorkingHoursAdmin(admin.ModelAdmin):
    list_display = ("scope", "morning_start", "morning_end", "afternoon_start", "afternoon_end", "daily_hours")
    raw_id_fields = ("area",)
    fields = ("area", "morning_start", "morning_end", "afternoon_start", "afternoon_end", "note")

    @admin.display(description=_("适用范围"))
    def scope(self, obj):
        return str(obj.area) if obj.area_id else gettext("全局默认")

    @admin.display(description=_("每日工作时长"))
    def daily_hours(self, obj):
        minutes = calendar.WorkingCalendar(obj.periods).daily_minutes
        return gettext("%(hours)d 小时 %(minutes)d 分") % {"hours": minutes // 60, "minutes": minutes % 60}


# --- case engine --------------------------------------------------------------------------------


class SubcategoryInline(admin.TabularInline):
    model = Category
    fk_name = "parent"
    fields = (
        "code",
        "name",
        "kind",
        "default_level",
        "urgent",
        "accept_amount",
        "accept_unit",
        "handle_amount",
        "handle_unit",
        "verify_amount",
        "verify_unit",
        "is_active",
    )
    extra = 0


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    """The catalogue is edited here: 大类 with their 小类 inline, each with its limits."""

    list_display = (
        "code",
        "name",
        "parent",
        "kind",
        "default_level",
        "urgent",
        "handle_amount",
        "handle_unit",
        "is_active",
    )
    list_filter = ("kind", "default_level", "urgent", "is_active")
    search_fields = ("code", "name")
    list_select_related = ("parent",)
    inlines = [SubcategoryInline]


class CaseEventInline(admin.TabularInline):
    model = CaseEvent
    fields = ("seq", "action", "actor", "from_state", "to_state", "owner_before", "owner_after", "note", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("seq",)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Case)
class CaseAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Read-only in the admin: every change to a case goes through the engine's actions."""

    list_display = ("number", "title", "state", "category", "area", "is_overdue", "due_at", "created_at")
    list_filter = ("state", "source", "is_overdue", "is_supervised", "category__parent")
    search_fields = ("number", "title")
    list_select_related = ("category", "area")
    date_hierarchy = "created_at"
    inlines = [CaseEventInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
