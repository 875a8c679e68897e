"""Forms of the cases app, and the parser of the year-schedule format shared by the admin form and
`manage.py import_calendar`.

One line per day or range of days, fields separated by spaces, tabs or commas:

    元旦 2027-01-01 2027-01-03 休
    春节 2027-02-06 2027-02-13 休
    春节调休 2027-02-14 班
    2027-10-09,workday,国庆节调休          (CSV columns date,kind,name work too)

The name is optional; a single date is a single day; the end of a range may also be joined with
~ or 至 (2027-01-01~2027-01-03). Kind: 休/放假/holiday or 班/上班/workday. Dates as 2027-01-01,
2027/1/1, 2027.1.1, 2027年1月1日 or 20270101. Blank lines and lines starting with # are ignored,
as is a header line (date,kind,name / 日期,类型,名称).
"""

import csv
import re
from dataclasses import dataclass
from datetime import date, timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import calendar
from .choices import DayKind
from .models import CalendarYear

MAX_RANGE_DAYS = 31

KIND_WORDS = {
    "休": DayKind.HOLIDAY,
    "假": DayKind.HOLIDAY,
    "休息": DayKind.HOLIDAY,
    "放假": DayKind.HOLIDAY,
    "休假": DayKind.HOLIDAY,
    "holiday": DayKind.HOLIDAY,
    "off": DayKind.HOLIDAY,
    "班": DayKind.WORKDAY,
    "上班": DayKind.WORKDAY,
    "补班": DayKind.WORKDAY,
    "调休上班": DayKind.WORKDAY,
    "workday": DayKind.WORKDAY,
    "work": DayKind.WORKDAY,
}
HEADER_WORDS = {"date", "kind", "name", "日期", "类型", "名称", "start", "end", "开始", "结束"}

_DATE = r"\d{4}(?:[-/.年]\d{1,2}[-/.月]\d{1,2}日?|\d{4})"
_DATE_RE = re.compile(rf"^{_DATE}$")
_DATE_PARTS_RE = re.compile(r"^(\d{4})(?:[-/.年](\d{1,2})[-/.月](\d{1,2})日?|(\d{2})(\d{2}))$")
_LOOKS_LIKE_DATE_RE = re.compile(r"^\d{4}[-/.年]")
_RANGE_RE = re.compile(rf"({_DATE})\s*(?:~|～|至|到|—|–|－)\s*({_DATE})")


@dataclass(frozen=True)
class ScheduleEntry:
    date: date
    kind: str
    name: str
    line: int


def _parse_date(token: str) -> date | None:
    match = _DATE_PARTS_RE.match(token)
    if not match:
        return None
    year, month, day, month8, day8 = match.groups()
    try:
        return date(int(year), int(month or month8), int(day or day8))
    except ValueError:
        return None


def _tokens(line: str) -> list[str]:
    line = _RANGE_RE.sub(r"\1 \2", line.replace("，", ","))
    if "," in line:
        fields = next(csv.reader([line], skipinitialspace=True))
        tokens = []
        for value in fields:
            value = value.strip()
            # A field may still hold "date date" or "name date kind"; split it unless it is a name.
            parts = value.split()
            if len(parts) > 1 and any(_DATE_RE.match(p) or p.lower() in KIND_WORDS for p in parts):
                tokens.extend(parts)
            elif value:
                tokens.append(value)
        return tokens
    return line.split()


def parse_schedule(text: str, *, year: int | None = None) -> list[ScheduleEntry]:
    """Parse the schedule text into one entry per day, or raise ValidationError listing every bad
    line (in Chinese, with its line number). With `year`, every date must lie in that year."""
    errors: list[str] = []
    entries: list[ScheduleEntry] = []
    seen: dict[date, int] = {}
    first_content_line = True
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip().lstrip("\ufeff")
        if not line or line.startswith("#"):
            continue
        tokens = _tokens(line)
        if first_content_line and tokens and all(t.lower() in HEADER_WORDS for t in tokens):
            first_content_line = False
            continue
        first_content_line = False

        def error(message, _number=number, **params):
            errors.append(gettext("第 %(line)d 行：") % {"line": _number} + message % params)

        dates: list[date] = []
        kinds: list[str] = []
        names: list[str] = []
        bad = False
        for token in tokens:
            if _DATE_RE.match(token) or _LOOKS_LIKE_DATE_RE.match(token):
                parsed = _parse_date(token)
                if parsed is None:
                    error(gettext("无法识别的日期“%(token)s”（应为 2027-01-01 这样的格式）"), token=token)
                    bad = True
                else:
                    dates.append(parsed)
            elif token.lower() in KIND_WORDS:
                kinds.append(KIND_WORDS[token.lower()])
            else:
                names.append(token)
        if bad:
            continue
        if not dates:
            error(gettext("缺少日期（应为 2027-01-01 这样的格式）"))
            continue
        if len(dates) > 2:
            error(gettext("最多只能写开始和结束两个日期"))
            continue
        if not kinds:
            error(gettext("缺少类型，应写“休”或“班”"))
            continue
        if len(kinds) > 1:
            error(gettext("类型只能写一个（“休”或“班”）"))
            continue
        name = " ".join(names)
        if len(name) > 50:
            error(gettext("名称过长（最多 50 个字）"))
            continue
        start, end = dates[0], dates[-1]
        if end < start:
            error(gettext("结束日期 %(end)s 早于开始日期 %(start)s"), start=start, end=end)
            continue
        if (end - start).days + 1 > MAX_RANGE_DAYS:
            error(gettext("日期范围超过 %(max)d 天，请检查"), max=MAX_RANGE_DAYS)
            continue
        if year is not None and (start.year != year or end.year != year):
            error(gettext("日期不在 %(year)s 年内（跨年的日期请在对应年度录入）"), year=year)
            continue
        day = start
        while day <= end:
            if day in seen:
                error(gettext("日期 %(date)s 与第 %(other)d 行重复"), date=day, other=seen[day])
                break
            seen[day] = number
            entries.append(ScheduleEntry(date=day, kind=kinds[0], name=name, line=number))
            day += timedelta(days=1)
    if errors:
        raise ValidationError(errors)
    return entries


SCHEDULE_HELP = _(
    "每行一段日期：名称 开始日期 [结束日期] 休/班，例如：<br>"
    "元旦 2027-01-01 2027-01-03 休<br>春节 2027-02-06 2027-02-13 休<br>春节调休 2027-02-14 班<br>"
    "已存在的日期会被更新；任何一行有误时不会保存任何日期。"
)


class CalendarYearForm(forms.ModelForm):
    """A year's record plus the fast entry of its whole schedule as text (all or nothing)."""

    schedule = forms.CharField(
        label=_("快速录入"),
        required=False,
        strip=False,  # keep leading blank lines: error line numbers must match the textarea
        widget=forms.Textarea(
            attrs={"rows": 14, "cols": 70, "placeholder": "元旦 2027-01-01 2027-01-03 休\n春节调休 2027-02-14 班"}
        ),
        help_text=SCHEDULE_HELP,
    )
    replace_days = forms.BooleanField(
        label=_("替换原有日期"),
        required=False,
        help_text=_("勾选后，该年度已录入但不在本次内容中的日期将被删除。"),
    )

    class Meta:
        model = CalendarYear
        fields = ["year", "complete", "note"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.schedule_entries: list[ScheduleEntry] = []
        if self.instance.pk and "year" in self.fields:
            # Days refer to the year by its number: it cannot change once the year exists.
            self.fields["year"].disabled = True

    def _year(self) -> int | None:
        return self.cleaned_data.get("year") or (self.instance.year if self.instance.pk else None)

    def clean(self):
        cleaned = super().clean()
        text = cleaned.get("schedule") or ""
        year = self._year()
        if cleaned.get("replace_days") and not text.strip():
            self.add_error("replace_days", gettext("勾选“替换原有日期”时必须填写快速录入内容"))
        if text.strip() and year:
            try:
                self.schedule_entries = parse_schedule(text, year=year)
            except ValidationError as exc:
                self.add_error("schedule", exc)
        return cleaned

    def save_schedule(self) -> calendar.ScheduleResult | None:
        """Write the parsed days (call after the year itself is saved). None without input."""
        if not self.schedule_entries:
            return None
        return calendar.save_calendar_days(
            self.schedule_entries,
            years={self.instance.year},
            replace=bool(self.cleaned_data.get("replace_days")),
        )

    def save(self, commit=True):
        if not commit:
            return super().save(commit=False)
        with transaction.atomic():
            instance = super().save()
            self.save_schedule()
        return instance
