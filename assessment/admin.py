from django import forms
from django.contrib import admin, messages
from django.urls import NoReverseMatch
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from gridgov.admin_scope import ScopedAdminMixin

from . import services
from .models import Appeal, AssessmentLog, AssessmentMonth, Rule, RuleSet, Score, ScoreLine


class RuleInline(admin.TabularInline):
    model = Rule
    fields = ("order", "code", "name", "subject_kind", "measure", "points", "cap", "active")
    extra = 0
    ordering = ("order", "code")


@admin.register(RuleSet)
class RuleSetAdmin(admin.ModelAdmin):
    """Rule versions with their rules inline. A version used by a closed month is read-only:
    change the rules by adding a version from the next month."""

    list_display = ("name", "valid_from", "base_score", "yuan_per_point", "rule_count", "frozen")
    inlines = [RuleInline]
    fields = ("name", "valid_from", "base_score", "yuan_per_point", "note")

    @admin.display(description=_("规则条数"))
    def rule_count(self, obj):
        return obj.rules.count()

    @admin.display(description=_("已用于关账月份"), boolean=True)
    def frozen(self, obj):
        return obj.is_frozen

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_frozen:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.months.exists():
            return False
        return super().has_delete_permission(request, obj)


class AssessmentMonthForm(forms.ModelForm):
    class Meta:
        model = AssessmentMonth
        fields = ("month",)

    def clean_month(self):
        month = self.cleaned_data["month"].replace(day=1)
        if AssessmentMonth.objects.filter(month=month).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(_("该月份已存在"))
        return month


@admin.register(AssessmentMonth)
class AssessmentMonthAdmin(admin.ModelAdmin):
    """Months: compute (or recompute an open month) and close. Add a month by any day of it."""

    form = AssessmentMonthForm
    list_display = ("month_label", "status", "rule_set", "computed_at", "subject_count", "line_count", "took_ms")
    list_filter = ("status",)
    fields = ("month",)
    actions = ["compute", "close"]

    @admin.display(description=_("月份"), ordering="month")
    def month_label(self, obj):
        return obj.period.label

    def get_readonly_fields(self, request, obj=None):
        return ("month",) if obj else ()

    @admin.action(description=_("计算（未关账月份可重复计算）"))
    def compute(self, request, queryset):
        for month in queryset.order_by("month"):
            try:
                result = services.compute_month(month.period, actor=request.user)
            except services.AssessmentError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(
                    request,
                    gettext("%(month)s：%(n)d 个考核对象，%(lines)d 条记分，用时 %(s).1f 秒")
                    % {
                        "month": month.period.label,
                        "n": result.subjects,
                        "lines": result.lines,
                        "s": result.took_ms / 1000,
                    },
                    messages.SUCCESS,
                )

    @admin.action(description=_("关账（关账后只能通过申诉更改）"))
    def close(self, request, queryset):
        for month in queryset.order_by("month"):
            try:
                services.close_month(month.period, actor=request.user)
            except services.AssessmentError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(request, gettext("%(month)s 已关账") % {"month": month.period.label})


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Score)
class ScoreAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    list_display = ("period", "subject_kind", "subject", "town", "total", "deductions", "bonuses", "line_count")
    list_filter = ("period", "subject_kind", "is_current")
    search_fields = ("user__username", "user__first_name", "area__name", "department__name")
    list_select_related = ("period", "user", "area", "department", "town")

    @admin.display(description=_("对象"))
    def subject(self, obj):
        try:
            return format_html('<a href="{}">{}</a>', obj.get_absolute_url(), obj.subject_label)
        except NoReverseMatch:  # the assessment pages are not mounted (gridgov/urls.py)
            return obj.subject_label


@admin.register(ScoreLine)
class ScoreLineAdmin(ReadOnlyAdmin):
    list_display = ("occurred_on", "score", "rule", "points", "capped", "voided", "explanation")
    list_filter = ("score__period", "rule__subject_kind", "voided", "capped")
    list_select_related = ("score__period", "score__user", "score__area", "score__department", "rule")
    raw_id_fields = ("score",)
    show_full_result_count = False

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs if request.user.is_superuser else qs.visible_to(request.user)


@admin.register(Appeal)
class AppealAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "appellant", "line_explanation", "line_points", "status", "reviewer", "reviewed_at")
    list_filter = ("status", "score__period")
    list_select_related = ("appellant", "reviewer", "score__period")

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs if request.user.is_superuser else qs.visible_to(request.user)


@admin.register(AssessmentLog)
class AssessmentLogAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "period", "action", "actor", "note")
    list_filter = ("action", "period")
    list_select_related = ("period", "actor")
