"""Reads behind the grid worker's phone pages. Everything starts from `Model.objects.visible_to(user)`
(grids.scope) and is narrowed to the grids the user works in as a grid worker or grid chief, so a
user who also holds a higher post still sees only their grid here."""

from __future__ import annotations

import calendar as pycalendar
import datetime as dt
from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.db.models import Count, Exists, F, Max, OuterRef, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from grids.choices import GRID_LEVELS, AreaLevel
from grids.models import Area, Household, Resident, Visit
from grids.selectors import subtree_filter
from staff.selectors import posts_of

from ..choices import OPEN_STATES, Action, CaseState, Source
from ..models import Case, GridDayCompliance, Notification, PatrolLog, Reminder
from ..periodic import DAILY_MINIMUM
from ..transitions import GRID_ROLES, allowed_actions

#: The actions a grid worker takes from the phone pages.
WORKER_ACTIONS = (Action.VERIFY, Action.REWORK, Action.SELF_RESOLVE)
CASE_RELATED = ("category", "area", "owner_area", "owner_department__area", "household")


def my_grids(user) -> list[Area]:
    """The grids (grid, special grid, sub-grid) where the user holds a grid worker or grid chief post."""
    grids = {}
    for post in posts_of(user):
        area = post.area
        if post.role in GRID_ROLES and area is not None and area.is_active and area.level in GRID_LEVELS:
            grids[area.pk] = area
    return sorted(grids.values(), key=lambda a: a.code)


def in_grids(grids: list[Area]) -> Q:
    """Records (households, residents, cases, visits …) under any of `grids`."""
    if not grids:
        return Q(pk__in=[])
    return reduce(or_, (subtree_filter(g) for g in grids))


def grid_areas(user, grids: list[Area]) -> QuerySet:
    """Where a worker may file or register: their grids and the groups / sub-grids inside them."""
    if not grids:
        return Area.objects.none()
    ranges = reduce(or_, (Q(tree_id=g.tree_id, lft__gte=g.lft, rght__lte=g.rght) for g in grids))
    return (
        Area.objects.visible_to(user)
        .filter(ranges, is_active=True, level__in=(*GRID_LEVELS, AreaLevel.GROUP))
        .order_by("tree_id", "lft")
    )


def my_cases(user, grids: list[Area]) -> QuerySet:
    return Case.objects.visible_to(user).filter(in_grids(grids))


def my_households(user, grids: list[Area]) -> QuerySet:
    return Household.objects.visible_to(user).filter(in_grids(grids))


def my_residents(user, grids: list[Area]) -> QuerySet:
    return Resident.objects.visible_to(user).filter(in_grids(grids))


def my_visits(user, grids: list[Area]) -> QuerySet:
    return Visit.objects.visible_to(user).filter(in_grids(grids))


# --- days -------------------------------------------------------------------------------------


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_default_timezone()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    return start, start + dt.timedelta(days=1)


def real_reports(qs: QuerySet) -> QuerySet:
    """Patrol reports that count towards the daily minimum: not rejected, not merged as duplicates."""
    return qs.filter(source=Source.PATROL).exclude(state=CaseState.REJECTED).exclude(merged_into__isnull=False)


def reports_today(user, grids: list[Area], today: dt.date | None = None) -> int:
    start, end = day_bounds(today or timezone.localdate())
    return real_reports(my_cases(user, grids).filter(reporter=user, created_at__gte=start, created_at__lt=end)).count()


# --- what needs me now ------------------------------------------------------------------------


def _with_actions(cases, user, wanted) -> list[Case]:
    result = []
    for case in cases:
        actions = allowed_actions(case, user)
        case.worker_actions = [a for a in actions if a in WORKER_ACTIONS]
        if any(a in wanted for a in actions):
            result.append(case)
    return result


def to_verify(user, grids: list[Area], limit: int = 50) -> list[Case]:
    """Cases fed back in my grid that I may check on the spot (核查)."""
    qs = (
        my_cases(user, grids)
        .filter(state=CaseState.FEEDBACK)
        .select_related(*CASE_RELATED)
        .order_by("due_at", "id")[:limit]
    )
    return _with_actions(qs, user, {Action.VERIFY})


def to_self_resolve(user, grids: list[Area], limit: int = 50) -> list[Case]:
    """Cases just reported in my grid that I may solve inside the grid (一般问题不出格)."""
    qs = (
        my_cases(user, grids)
        .filter(state=CaseState.REPORTED)
        .select_related(*CASE_RELATED)
        .order_by("due_at", "id")[:limit]
    )
    return _with_actions(qs, user, {Action.SELF_RESOLVE})


def sent_back_to_me(user, grids: list[Area], days: int = 7, limit: int = 20) -> QuerySet:
    """Cases I reported that came back: reworked or returned and still open, or not accepted
    (不予立案) in the last `days` days."""
    since = timezone.now() - dt.timedelta(days=days)
    return (
        my_cases(user, grids)
        .filter(reporter=user)
        .filter(
            Q(state__in=OPEN_STATES, rework_count__gt=0)
            | Q(state__in=OPEN_STATES, return_count__gt=0)
            | Q(state=CaseState.REJECTED, updated_at__gte=since)
        )
        .select_related("category")
        .order_by("-updated_at", "-id")[:limit]
    )


def my_reminders(user, grids: list[Area], limit: int = 20) -> list[Reminder]:
    """催办 on the current step of open cases in my grid that wait for me (to check or to solve)."""
    reminders = list(
        Reminder.objects.filter(
            case__in=my_cases(user, grids).filter(state__in=OPEN_STATES).values("pk"), step=F("case__step")
        )
        .select_related(*(f"case__{r}" for r in CASE_RELATED), "sent_by")
        .order_by("-created_at", "-id")[: limit * 2]
    )
    mine = []
    for reminder in reminders:
        if any(a in WORKER_ACTIONS for a in allowed_actions(reminder.case, user)):
            mine.append(reminder)
    return mine[:limit]


def month_bounds(day: dt.date) -> tuple[dt.date, dt.date]:
    first = day.replace(day=1)
    last = day.replace(day=pycalendar.monthrange(day.year, day.month)[1])
    return first, last


def key_households_q() -> Q:
    """Households with a 五必访 tag on the household or on one of its active residents."""
    own = Exists(Household.tags.through.objects.filter(household_id=OuterRef("pk"), tag__key_visit=True))
    residents = Exists(
        Resident.tags.through.objects.filter(
            resident__household_id=OuterRef("pk"), resident__is_active=True, tag__key_visit=True
        )
    )
    return own | residents


def visited_in_month_q(day: dt.date) -> Exists:
    first, last = month_bounds(day)
    return Exists(Visit.objects.filter(household_id=OuterRef("pk"), date__gte=first, date__lte=last))


def key_households_due(user, grids: list[Area], today: dt.date | None = None) -> QuerySet:
    """Key households (五必访) of my grids not yet visited this calendar month."""
    today = today or timezone.localdate()
    return (
        my_households(user, grids)
        .filter(is_active=True)
        .filter(key_households_q())
        .filter(~visited_in_month_q(today))
        .annotate(last_visit=Max("visits__date"))
        .order_by("last_visit", "code")
    )


def unread_count(user) -> int:
    return Notification.objects.filter(recipient=user, is_read=False).count()


def today_patrol(user, today: dt.date | None = None) -> PatrolLog | None:
    return PatrolLog.objects.visible_to(user).filter(worker=user, day=today or timezone.localdate()).first()


# --- the compliance calendar ------------------------------------------------------------------


@dataclass
class CalendarDay:
    day: dt.date
    in_month: bool
    reports: int | None = None  # None: no figure (future day)
    compliant: bool | None = None
    recorded: bool = False  # from GridDayCompliance (else counted live)
    patrolled: bool = False
    is_today: bool = False


def compliance_month(user, grid: Area, month: dt.date, today: dt.date | None = None) -> list[list[CalendarDay]]:
    """Weeks (Monday first) of `month` for one grid: reports per day and whether the day met the
    ≥ 2 minimum. Recorded days come from GridDayCompliance (the nightly job); today and any day
    not recorded yet are counted live, the same way the nightly job counts."""
    today = today or timezone.localdate()
    first, last = month_bounds(month)
    recorded = {
        row.day: row for row in GridDayCompliance.objects.filter(grid=grid, day__gte=first, day__lte=min(last, today))
    }
    live: dict[dt.date, int] = {}
    missing = [first + dt.timedelta(days=i) for i in range((min(last, today) - first).days + 1)]
    missing = [d for d in missing if d not in recorded or d == today]
    if missing:
        start, _ = day_bounds(min(missing))
        _, end = day_bounds(max(missing))
        tz = timezone.get_default_timezone()
        rows = (
            real_reports(Case.objects.visible_to(user).filter(subtree_filter(grid)))
            .filter(created_at__gte=start, created_at__lt=end)
            .annotate(local_day=TruncDate("created_at", tzinfo=tz))
            .values("local_day")
            .annotate(n=Count("id"))
        )
        live = {row["local_day"]: row["n"] for row in rows}
    patrolled = set(
        PatrolLog.objects.visible_to(user)
        .filter(worker=user, day__gte=first, day__lte=last)
        .values_list("day", flat=True)
    )
    weeks: list[list[CalendarDay]] = []
    cursor = first - dt.timedelta(days=first.weekday())
    while cursor <= last:
        week = []
        for _i in range(7):
            cell = CalendarDay(day=cursor, in_month=cursor.month == month.month, is_today=cursor == today)
            if cell.in_month and cursor <= today:
                row = recorded.get(cursor)
                if row is not None and cursor != today:
                    cell.reports, cell.compliant, cell.recorded = row.reports, row.compliant, True
                else:
                    cell.reports = live.get(cursor, 0)
                    cell.compliant = cell.reports >= DAILY_MINIMUM
                cell.patrolled = cursor in patrolled
            week.append(cell)
            cursor += dt.timedelta(days=1)
        weeks.append(week)
    return weeks


DAILY_TARGET = DAILY_MINIMUM
