# Case engine models arrive with the case-engine issue (#3). Until then this module holds the
# working calendar's data: admin-entered holidays / make-up workdays and working hours.
from datetime import time

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import IntegrityError, models, transaction
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from .choices import DayKind

DEFAULT_MORNING = (time(8, 30), time(12, 0))
DEFAULT_AFTERNOON = (time(14, 0), time(17, 30))


class CalendarYear(models.Model):
    """One calendar year as entered by admins. `complete` says the admins have entered the State
    Council's whole schedule for the year: only then does the year count as covered by admins
    (days alone may be partial, e.g. a single local holiday). Days of a year that is not complete
    still override chinesecalendar / the Monday–Friday fallback one by one."""

    year = models.PositiveSmallIntegerField(
        _("年度"), unique=True, validators=[MinValueValidator(2000), MaxValueValidator(2100)]
    )
    complete = models.BooleanField(
        _("已完整录入"),
        default=False,
        help_text=_("该年度的全部法定节假日和调休上班日均已录入。未标记时，后台首页会提示录入。"),
    )
    note = models.TextField(_("备注"), blank=True, help_text=_("例如国务院办公厅通知的文号。"))
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("节假日年度")
        verbose_name_plural = _("节假日年度")
        ordering = ["-year"]

    def __str__(self) -> str:
        return f"{self.year} 年"


class CalendarDay(models.Model):
    """A day whose status an admin has fixed: an official holiday (休) or a make-up workday
    (调休上班, usually a Saturday or Sunday). It takes precedence over chinesecalendar and over the
    Monday–Friday fallback. Its year is derived from the date (and its CalendarYear row is created
    on first use, not marked complete)."""

    date = models.DateField(_("日期"), unique=True)
    kind = models.CharField(_("类型"), max_length=16, choices=DayKind.choices)
    name = models.CharField(_("名称"), max_length=50, blank=True, help_text=_("例如 春节、国庆节调休。"))
    calendar_year = models.ForeignKey(
        CalendarYear,
        verbose_name=_("年度"),
        to_field="year",
        db_column="year",
        on_delete=models.CASCADE,
        related_name="days",
        editable=False,
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("节假日/调休日")
        verbose_name_plural = _("节假日/调休日")
        ordering = ["date"]

    def __str__(self) -> str:
        label = self.name or self.get_kind_display()
        return f"{self.date:%Y-%m-%d} {label}"

    def save(self, *args, **kwargs) -> None:
        if self.calendar_year_id != self.date.year:
            self.calendar_year_id = _ensure_year(self.date.year).year
        super().save(*args, **kwargs)

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        # Remember the stored year: moving a day to another year changes both years.
        instance._stored_year = instance.__dict__.get("calendar_year_id")
        return instance

    @property
    def year(self) -> int | None:
        return self.date.year if self.date else None

    def clean(self) -> None:
        if self.date and self.calendar_year_id is not None and self.date.year != self.calendar_year_id:
            raise ValidationError(
                {"date": _("日期 %(date)s 不属于 %(year)s 年") % {"date": self.date, "year": self.calendar_year_id}}
            )


def _ensure_year(year: int) -> CalendarYear:
    try:
        with transaction.atomic():
            return CalendarYear.objects.get_or_create(year=year)[0]
    except IntegrityError:  # created concurrently
        return CalendarYear.objects.get(year=year)


class WorkingHours(models.Model):
    """Daily working hours (作息时间): a morning and an afternoon period, the same for every working
    day. The row without an area is the default for everybody; a row for an area applies to that
    area and everything below it (the nearest ancestor with a row wins). Without any row the
    built-in default 08:30–12:00 and 14:00–17:30 (7 working hours) applies."""

    area = models.OneToOneField(
        "grids.Area",
        verbose_name=_("区域"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="working_hours",
        help_text=_("留空表示全局默认；选择区域则对该区域及其全部下级生效。"),
    )
    morning_start = models.TimeField(_("上午上班"), default=DEFAULT_MORNING[0])
    morning_end = models.TimeField(_("上午下班"), default=DEFAULT_MORNING[1])
    afternoon_start = models.TimeField(_("下午上班"), default=DEFAULT_AFTERNOON[0])
    afternoon_end = models.TimeField(_("下午下班"), default=DEFAULT_AFTERNOON[1])
    note = models.CharField(_("备注"), max_length=200, blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("作息时间")
        verbose_name_plural = _("作息时间")
        constraints = [
            # One row per area and a single default row (NULL area counts as area 0).
            models.UniqueConstraint(
                Coalesce("area", Value(0)),
                name="working_hours_one_per_area",
                violation_error_message=_("该范围的作息时间已存在，请修改原有记录"),
            ),
        ]

    def __str__(self) -> str:
        where = str(self.area) if self.area_id else _("全局默认")
        spans = "，".join(f"{start:%H:%M}–{end:%H:%M}" for start, end in self.periods)
        return f"{where}：{spans}"

    @property
    def periods(self) -> tuple[tuple[time, time], tuple[time, time]]:
        return ((self.morning_start, self.morning_end), (self.afternoon_start, self.afternoon_end))

    def clean(self) -> None:
        times = [self.morning_start, self.morning_end, self.afternoon_start, self.afternoon_end]
        if None in times:
            return
        if not (times[0] < times[1] <= times[2] < times[3]):
            raise ValidationError(_("时间须依次为：上午上班 < 上午下班 ≤ 下午上班 < 下午下班"))
