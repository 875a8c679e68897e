"""The working calendar: the only place deadlines are computed.

Which days are working days — sources, first match wins, day by day:

a. days entered by admins (`CalendarDay`: an official holiday 休 or a make-up workday 调休上班);
b. the `chinesecalendar` package, for the years its release covers (it raises NotImplementedError
   for any other year; that is caught per year here and never escapes);
c. otherwise Monday–Friday work, Saturday/Sunday off. A year that reaches this fallback without
   having been entered completely by admins is reported by `missing_calendar_years()`, which the
   admin index shows as "2027 年节假日安排尚未录入".

Working time is the working periods (default 08:30–12:00 and 14:00–17:30, i.e. 420 minutes; see
`WorkingHours`) of working days, in settings.TIME_ZONE (Asia/Shanghai). Periods are half-open:
12:00 itself is not working time, 14:00 is.

Limits (see `LimitUnit`):

* working minutes / hours — `due` is the *earliest* instant at which that much working time has
  elapsed since `start`. Counting starts at the first working instant at or after `start` (an
  evening, a lunch break or a holiday adds nothing). Consequently a deadline that lands exactly on
  the end of a period is that end: 1 working hour from 11:00 is 12:00, not 14:00; 2 hours from
  16:30 on a Friday is 09:30 on the next working day.
* working days — N working days = N × the daily working minutes, counted in working time, placed
  at the *same working-clock position* N working days later: `start` is first moved to the next
  working instant (18:00 → next working day 08:30; 12:30 → 14:00), and the due time is that clock
  time on the N-th working day after it. Received Wednesday 10:00 with 3 working days → 10:00 on
  the third working day after (holidays skipped, make-up Saturdays counted). Because every working
  day has the same periods this is exactly N × 420 working minutes after `start`; among the
  instants with that much elapsed working time it picks the one on the clock (08:30 start → 08:30
  on day N, not 17:30 the day before). A limit of 0 returns `start`.
* natural minutes / hours (urgent matters) — wall-clock time; the calendar is ignored.

`elapsed_minutes(start, end)` is the reverse for KPIs: working minutes (whole, rounded towards
zero) between two instants; negative when end < start. For every start and working-minute limit m,
`elapsed_minutes(start, due(start, m)) == m`.

Day lookups are cached in-process per year (the admin rows of a year are read once, in two
queries); the cache is invalidated by post_save/post_delete signals of CalendarDay/CalendarYear,
again when the transaction commits, and expires after CACHE_TTL_SECONDS so that other processes
(web workers, Celery) pick up changes made elsewhere. After commit `calendar_changed` is sent with
`years=set[int]`; its receiver enqueues `cases.tasks.recompute_deadlines_for_years`.
"""

from __future__ import annotations

import functools
import logging
import threading
import time as _time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import chinese_calendar
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import Signal, receiver
from django.utils import timezone
from django.utils.translation import gettext

from .choices import DayKind, LimitUnit

logger = logging.getLogger(__name__)

#: Sent after commit when CalendarDay/CalendarYear rows were saved or deleted; `years` is a set of
#: the affected years. Receivers must not assume anything about `sender`.
calendar_changed = Signal()

#: How long a process trusts its cached copy of a year (changes made by other processes become
#: visible after at most this long; changes made in this process are visible at once).
CACHE_TTL_SECONDS = 300

#: A working-time computation gives up (CalendarError) after this many consecutive days off.
MAX_CONSECUTIVE_DAYS_OFF = 366

DEFAULT_PERIODS: tuple[tuple[time, time], ...] = ((time(8, 30), time(12, 0)), (time(14, 0), time(17, 30)))

_DAY = timedelta(days=1)
_ZERO = timedelta(0)
_MINUTE = timedelta(minutes=1)


class CalendarError(ValueError):
    """A limit cannot be computed (no working time within a year, bad periods, bad amount)."""


# --- day sources ---------------------------------------------------------------------------------


class DaySource:
    ADMIN = "admin"
    PACKAGE = "chinesecalendar"
    FALLBACK = "weekday"


@functools.cache
def package_covers(year: int) -> bool:
    """Does the installed chinesecalendar release know this year's holidays?"""
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


@dataclass(frozen=True)
class YearData:
    """Everything the calendar needs about one year, read from the database once."""

    year: int
    admin_days: dict[date, bool]  # date -> is a working day
    record_id: int | None  # CalendarYear pk, if admins created the year
    complete: bool  # admins marked the year complete
    package: bool  # chinesecalendar covers the year
    loaded_at: float = field(default=0.0, compare=False)

    @property
    def covered(self) -> bool:
        return self.complete or self.package

    def day(self, d: date) -> tuple[bool, str]:
        """(is working day, source) for a day of this year."""
        admin = self.admin_days.get(d)
        if admin is not None:
            return admin, DaySource.ADMIN
        if self.package:
            working = _package_workday(d)
            if working is not None:
                return working, DaySource.PACKAGE
        return d.weekday() < 5, DaySource.FALLBACK


@functools.lru_cache(maxsize=4096)
def _package_workday(d: date) -> bool | None:
    """chinesecalendar's answer for a day, memoised: the package recomputes its year range on every
    call (≈ 20 µs), and deadline arithmetic asks about the same days over and over."""
    try:
        return bool(chinese_calendar.is_workday(d))
    except NotImplementedError:  # pragma: no cover - package_covers() said it would not
        return None


_cache: dict[int, YearData] = {}
_generation: dict[int | str, int] = {"*": 0}
_lock = threading.Lock()
# Per thread: years changed by the thread's open transaction (not cached meanwhile, so that a
# rollback cannot leave phantom rows in the cache) and years waiting for the commit signal.
_local = threading.local()


def _dirty_years(using: str = DEFAULT_DB_ALIAS) -> set[int]:
    dirty = getattr(_local, "dirty", None)
    if dirty is None:
        dirty = _local.dirty = set()
    elif dirty and not connections[using].in_atomic_block:
        dirty.clear()  # the transaction that changed them is over (committed or rolled back)
    return dirty


def _load_year(year: int) -> YearData:
    from .models import CalendarDay, CalendarYear

    record = CalendarYear.objects.filter(year=year).values("pk", "complete").first()
    days = CalendarDay.objects.filter(date__gte=date(year, 1, 1), date__lte=date(year, 12, 31))
    admin_days = {d: kind == DayKind.WORKDAY for d, kind in days.values_list("date", "kind")}
    return YearData(
        year=year,
        admin_days=admin_days,
        record_id=record["pk"] if record else None,
        complete=bool(record and record["complete"]),
        package=package_covers(year),
        loaded_at=_time.monotonic(),
    )


def year_data(year: int) -> YearData:
    """The cached data of a year (loaded on first use and after invalidation or expiry)."""
    entry = _cache.get(year)
    dirty = _dirty_years()
    if entry is not None and year not in dirty and _time.monotonic() - entry.loaded_at < CACHE_TTL_SECONDS:
        return entry
    generation = (_generation["*"], _generation.get(year, 0))
    entry = _load_year(year)
    if year not in dirty:
        with _lock:
            # Do not store what was read before a concurrent invalidation.
            if (_generation["*"], _generation.get(year, 0)) == generation:
                _cache[year] = entry
    return entry


def invalidate(years: Iterable[int] | None = None) -> None:
    """Forget cached years (all of them, and the working hours, when `years` is None)."""
    with _lock:
        if years is None:
            _cache.clear()
            _generation["*"] += 1
        else:
            for year in years:
                _cache.pop(year, None)
                _generation[year] = _generation.get(year, 0) + 1
    if years is None:
        invalidate_working_hours()


def reset() -> None:
    """Forget the cache and this thread's pending change tracking (tests call it between tests,
    whose transactions are rolled back without on_commit callbacks)."""
    invalidate(None)
    _local.dirty = set()
    _local.pending = set()


class _Days:
    """Day lookups for one computation: each year is fetched from the cache at most once."""

    def __init__(self) -> None:
        self._years: dict[int, YearData] = {}

    def year(self, year: int) -> YearData:
        data = self._years.get(year)
        if data is None:
            data = self._years[year] = year_data(year)
        return data

    def is_workday(self, d: date) -> bool:
        return self.year(d.year).day(d)[0]


def is_workday(d: date) -> bool:
    """Is this day a working day (admin days, then chinesecalendar, then Monday–Friday)?"""
    return year_data(d.year).day(d)[0]


def day_source(d: date) -> str:
    """Which source decided the day: DaySource.ADMIN, PACKAGE or FALLBACK."""
    return year_data(d.year).day(d)[1]


# --- missing years -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CalendarWarning:
    year: int
    record_id: int | None  # the incomplete CalendarYear to open, if there is one

    @property
    def message(self) -> str:
        return gettext("%(year)s 年节假日安排尚未录入") % {"year": self.year}

    def __str__(self) -> str:
        return self.message


def missing_calendar_years(today: date | None = None) -> list[int]:
    """Years whose holidays neither admins (a CalendarYear marked complete) nor chinesecalendar
    cover: the current year, and from November 1st on (when the State Council usually publishes
    the next year's schedule) the next year too."""
    return [w.year for w in calendar_warnings(today)]


def calendar_warnings(today: date | None = None) -> list[CalendarWarning]:
    """One warning per missing year (see `missing_calendar_years`); str() is the message,
    e.g. "2027 年节假日安排尚未录入"."""
    today = today or timezone.localdate()
    years = [today.year] + ([today.year + 1] if today.month >= 11 else [])
    warnings = []
    for year in years:
        data = year_data(year)
        if not data.covered:
            warnings.append(CalendarWarning(year=year, record_id=data.record_id))
    return warnings


# --- working hours -------------------------------------------------------------------------------

_hours_cache: tuple[float, dict[int | None, tuple[tuple[time, time], ...]]] | None = None
_hours_generation = 0


def invalidate_working_hours() -> None:
    global _hours_cache, _hours_generation
    with _lock:
        _hours_cache = None
        _hours_generation += 1


def _working_hours_map() -> dict[int | None, tuple[tuple[time, time], ...]]:
    global _hours_cache
    cached = _hours_cache
    if cached is not None and _time.monotonic() - cached[0] < CACHE_TTL_SECONDS:
        return cached[1]
    from .models import WorkingHours

    generation = _hours_generation
    rows = {row.area_id: row.periods for row in WorkingHours.objects.order_by("pk")}
    with _lock:
        if generation == _hours_generation:
            _hours_cache = (_time.monotonic(), rows)
    return rows


# --- the calendar --------------------------------------------------------------------------------


def _offset(t: time) -> timedelta:
    return timedelta(hours=t.hour, minutes=t.minute, seconds=t.second, microseconds=t.microsecond)


class WorkingCalendar:
    """Deadlines and elapsed working time for one set of working hours (see the module docstring
    for the exact rules). Instances hold no data about days and may be kept and shared."""

    def __init__(self, periods: Iterable[tuple[time, time]] = DEFAULT_PERIODS, *, tz: ZoneInfo | None = None):
        periods = tuple(periods)
        offsets = tuple((_offset(a), _offset(b)) for a, b in periods)
        if not offsets:
            raise CalendarError("at least one working period is required")
        previous_end = _ZERO
        for start, end in offsets:
            if not (previous_end <= start < end):
                raise CalendarError(f"working periods must be ordered and non-empty: {periods!r}")
            previous_end = end
        self.periods = periods
        self._offsets = offsets
        self.daily = sum((end - start for start, end in offsets), _ZERO)
        self.tz = tz or ZoneInfo(settings.TIME_ZONE)

    def __repr__(self) -> str:
        spans = ", ".join(f"{a:%H:%M}–{b:%H:%M}" for a, b in self.periods)
        return f"<WorkingCalendar {spans}>"

    @property
    def daily_minutes(self) -> int:
        return int(self.daily / _MINUTE)

    @classmethod
    def for_area(cls, area=None) -> WorkingCalendar:
        """The calendar with the working hours of `area` (a grids.Area or None): the nearest
        ancestor-or-self with a WorkingHours row, else the default row, else DEFAULT_PERIODS."""
        hours = _working_hours_map()
        if area is not None and any(key is not None for key in hours):
            for pk in area.get_ancestors(ascending=True, include_self=True).values_list("pk", flat=True):
                if pk in hours:
                    return cls(hours[pk])
        return cls(hours.get(None, DEFAULT_PERIODS))

    # --- public API ------------------------------------------------------------------------------

    def due(self, start: datetime, amount: int | float | Decimal, unit: str) -> datetime:
        """The due time of a limit of `amount` `unit`s (a LimitUnit) counted from `start`."""
        unit = LimitUnit(unit)
        if amount < 0:
            raise CalendarError("a time limit cannot be negative")
        if unit == LimitUnit.WORKING_DAYS:
            if int(amount) != amount:
                raise CalendarError("working days must be whole; use working hours for fractions")
            return self.add_working_days(start, int(amount))
        minutes = float(amount) * (60 if unit in (LimitUnit.WORKING_HOURS, LimitUnit.NATURAL_HOURS) else 1)
        if unit in (LimitUnit.NATURAL_MINUTES, LimitUnit.NATURAL_HOURS):
            return self.add_natural_time(start, timedelta(minutes=minutes))
        return self.add_working_time(start, timedelta(minutes=minutes))

    def add_working_minutes(self, start: datetime, minutes: int) -> datetime:
        return self.add_working_time(start, timedelta(minutes=minutes))

    def add_working_time(self, start: datetime, amount: timedelta) -> datetime:
        """The earliest instant at which `amount` of working time has elapsed since `start`."""
        local = self._local(start)
        if amount < _ZERO:
            raise CalendarError("a time limit cannot be negative")
        if amount == _ZERO:
            return local
        days = _Days()
        day, pos = local.date(), self._clock(local)
        remaining = amount
        days_off = 0
        while True:
            if days.is_workday(day):
                days_off = 0
                # Whole working days at once when the computation starts at midnight.
                if pos == _ZERO and remaining > self.daily:
                    remaining -= self.daily
                else:
                    for start_offset, end_offset in self._offsets:
                        if pos >= end_offset:
                            continue
                        begin = max(pos, start_offset)
                        available = end_offset - begin
                        if remaining <= available:
                            return self._at(day, begin + remaining)
                        remaining -= available
            else:
                days_off = self._count_day_off(days_off, day)
            day, pos = day + _DAY, _ZERO

    def add_working_days(self, start: datetime, days_count: int) -> datetime:
        """The same working-clock position `days_count` working days later (module docstring)."""
        local = self._local(start)
        if days_count < 0:
            raise CalendarError("a time limit cannot be negative")
        if days_count == 0:
            return local
        days = _Days()
        anchor = self._next_working_instant(local, days)
        day, clock = anchor.date(), self._clock(anchor)
        found = days_off = 0
        while found < days_count:
            day += _DAY
            if days.is_workday(day):
                found += 1
                days_off = 0
            else:
                days_off = self._count_day_off(days_off, day)
        return self._at(day, clock)

    def add_natural_time(self, start: datetime, amount: timedelta) -> datetime:
        """Wall-clock time: nights, weekends and holidays count."""
        if amount < _ZERO:
            raise CalendarError("a time limit cannot be negative")
        return (self._local(start).astimezone(UTC) + amount).astimezone(self.tz)

    def next_working_instant(self, moment: datetime) -> datetime:
        """`moment` itself if it is working time, else the start of the next working period."""
        return self._next_working_instant(self._local(moment), _Days())

    def is_working_time(self, moment: datetime) -> bool:
        local = self._local(moment)
        return self._next_working_instant(local, _Days()) == local

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Working time in [start, end); negative when end < start."""
        a, b = self._local(start), self._local(end)
        if b < a:
            return -self.working_time_between(end, start)
        days = _Days()
        total = _ZERO
        day, last = a.date(), b.date()
        while day <= last:
            if days.is_workday(day):
                low = self._clock(a) if day == a.date() else _ZERO
                high = self._clock(b) if day == last else _DAY
                if low == _ZERO and high == _DAY:
                    total += self.daily
                else:
                    for start_offset, end_offset in self._offsets:
                        overlap = min(end_offset, high) - max(start_offset, low)
                        if overlap > _ZERO:
                            total += overlap
            day += _DAY
        return total

    def elapsed_minutes(self, start: datetime, end: datetime) -> int:
        """Whole working minutes between two instants (rounded towards zero; negative when
        end < start)."""
        spent = self.working_time_between(start, end)
        if spent < _ZERO:
            return -((-spent) // _MINUTE)
        return spent // _MINUTE

    # --- helpers -----------------------------------------------------------------------------

    def _local(self, moment: datetime) -> datetime:
        if not isinstance(moment, datetime) or timezone.is_naive(moment):
            raise CalendarError(f"an aware datetime is required, got {moment!r}")
        return moment.astimezone(self.tz)

    @staticmethod
    def _clock(local: datetime) -> timedelta:
        return _offset(local.time())

    def _at(self, day: date, offset: timedelta) -> datetime:
        return (datetime.combine(day, time()) + offset).replace(tzinfo=self.tz)

    def _next_working_instant(self, local: datetime, days: _Days) -> datetime:
        day, pos = local.date(), self._clock(local)
        days_off = 0
        while True:
            if days.is_workday(day):
                days_off = 0
                for start_offset, end_offset in self._offsets:
                    if pos < end_offset:
                        return local if pos >= start_offset else self._at(day, start_offset)
            else:
                days_off = self._count_day_off(days_off, day)
            day, pos = day + _DAY, _ZERO

    @staticmethod
    def _count_day_off(days_off: int, day: date) -> int:
        days_off += 1
        if days_off > MAX_CONSECUTIVE_DAYS_OFF:
            raise CalendarError(f"no working day in the {MAX_CONSECUTIVE_DAYS_OFF} days before {day}")
        return days_off


def has_area_hours() -> bool:
    """Whether any area has working hours of its own (else every case uses the default)."""
    return any(key is not None for key in _working_hours_map())


def default_calendar() -> WorkingCalendar:
    """The calendar with the default working hours (no area)."""
    return WorkingCalendar.for_area(None)


def due(start: datetime, amount: int | float | Decimal, unit: str, *, area=None) -> datetime:
    """Shortcut: `WorkingCalendar.for_area(area).due(start, amount, unit)`."""
    return WorkingCalendar.for_area(area).due(start, amount, unit)


# --- writes --------------------------------------------------------------------------------------


@dataclass
class ScheduleResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    years: set[int] = field(default_factory=set)


@transaction.atomic
def save_calendar_days(
    entries: Iterable,
    *,
    years: Iterable[int] = (),
    replace: bool = False,
    mark_complete: bool = False,
) -> ScheduleResult:
    """Write parsed schedule entries (objects with .date, .kind, .name) as CalendarDay rows, all or
    nothing. Existing days of the same date are updated. `years` adds years to touch even without
    entries; with `replace`, days of the touched years that are not among the entries are deleted;
    with `mark_complete` the touched years are marked complete."""
    from .models import CalendarDay, CalendarYear

    entries = list(entries)
    result = ScheduleResult(years=set(years) | {e.date.year for e in entries})
    existing = {day.date: day for day in CalendarDay.objects.filter(date__in=[e.date for e in entries])}
    for entry in entries:
        day = existing.get(entry.date)
        if day is None:
            CalendarDay.objects.create(date=entry.date, kind=entry.kind, name=entry.name)
            result.created += 1
        elif day.kind != entry.kind or day.name != entry.name:
            day.kind, day.name = entry.kind, entry.name
            day.save()
            result.updated += 1
        else:
            result.unchanged += 1
    if replace and result.years:
        keep = {e.date for e in entries}
        for day in CalendarDay.objects.filter(calendar_year_id__in=result.years).exclude(date__in=keep):
            day.delete()
            result.deleted += 1
    if mark_complete:
        for year in sorted(result.years):
            record, _created = CalendarYear.objects.get_or_create(year=year)
            if not record.complete:
                record.complete = True
                record.save()
    return result


# --- change tracking -----------------------------------------------------------------------------


def notify_calendar_changed(years: Iterable[int], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Record that calendar rows of these years changed: drop them from the cache now and again at
    commit, then send `calendar_changed`. Called by the model signals; call it yourself after
    QuerySet.update() or bulk_create(), which send none."""
    years = {int(y) for y in years if y is not None}
    if not years:
        return
    if connections[using].in_atomic_block:
        _dirty_years(using).update(years)
    invalidate(years)
    pending = getattr(_local, "pending", None)
    if pending is None:
        pending = _local.pending = set()
    pending.update(years)
    transaction.on_commit(_flush_pending, using=using, robust=True)


def _flush_pending() -> None:
    years = getattr(_local, "pending", None) or set()
    _local.pending = set()
    dirty = getattr(_local, "dirty", None)
    if dirty:
        dirty.clear()
    if not years:
        return  # an earlier callback of the same transaction already sent them
    invalidate(years)
    calendar_changed.send(sender=WorkingCalendar, years=set(years))


@receiver(post_save, sender="cases.CalendarDay", dispatch_uid="cases.calendar.day_saved")
@receiver(post_delete, sender="cases.CalendarDay", dispatch_uid="cases.calendar.day_deleted")
def _day_changed(sender, instance, using=DEFAULT_DB_ALIAS, **kwargs) -> None:
    years = {instance.date.year, getattr(instance, "_stored_year", None)}
    instance._stored_year = instance.date.year
    notify_calendar_changed(years, using=using)


@receiver(post_save, sender="cases.CalendarYear", dispatch_uid="cases.calendar.year_saved")
@receiver(post_delete, sender="cases.CalendarYear", dispatch_uid="cases.calendar.year_deleted")
def _year_changed(sender, instance, using=DEFAULT_DB_ALIAS, **kwargs) -> None:
    notify_calendar_changed({instance.year}, using=using)


@receiver(post_save, sender="cases.WorkingHours", dispatch_uid="cases.calendar.hours_saved")
@receiver(post_delete, sender="cases.WorkingHours", dispatch_uid="cases.calendar.hours_deleted")
def _hours_changed(sender, **kwargs) -> None:
    # Deadlines already stored are not recomputed when working hours change; new ones use them.
    invalidate_working_hours()
    transaction.on_commit(invalidate_working_hours, robust=True)


@receiver(calendar_changed, dispatch_uid="cases.calendar.enqueue_recompute")
def _enqueue_recompute(sender, years, **kwargs) -> None:
    from .tasks import recompute_deadlines_for_years

    payload = sorted(years)
    transaction.on_commit(lambda: recompute_deadlines_for_years.delay(payload), robust=True)
