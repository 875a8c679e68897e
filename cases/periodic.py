"""Periodic work on cases besides the deadline sweep: nightly reporting compliance and deadline
recomputation after a working-calendar change."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils.translation import gettext as _

from grids.choices import AreaLevel
from grids.models import Area

from .choices import OPEN_STATES, Action, CaseState, Source
from .models import Case, GridDayCompliance, Supervision
from .services import _calendar, _event, _remind_time

DAILY_MINIMUM = 2


def record_compliance(day: dt.date) -> int:
    """Upsert one GridDayCompliance row per grid for `day`: patrol reports filed in the grid that
    day, not counting rejected ones or duplicates merged into others (real items, not padding)."""
    tz = ZoneInfo(settings.TIME_ZONE)
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    end = start + dt.timedelta(days=1)
    counts = dict(
        Case.objects.filter(created_at__gte=start, created_at__lt=end, source=Source.PATROL, grid__isnull=False)
        .exclude(state=CaseState.REJECTED)
        .exclude(merged_into__isnull=False)
        .values_list("grid_id")
        .annotate(n=Count("id"))
    )
    grids = Area.objects.filter(level__in=(AreaLevel.GRID, AreaLevel.SPECIAL_GRID), is_active=True)
    rows = []
    for grid_id, town_id in _grid_towns(grids):
        n = counts.get(grid_id, 0)
        rows.append(
            GridDayCompliance(grid_id=grid_id, day=day, reports=n, compliant=n >= DAILY_MINIMUM, town_id=town_id)
        )
    GridDayCompliance.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["grid", "day"],
        update_fields=["reports", "compliant", "town"],
        batch_size=1000,
    )
    return len(rows)


def _grid_towns(grids) -> list[tuple[int, int | None]]:
    from grids.paths import PathCache

    cache = PathCache()
    return [(g.pk, cache(g.pk)["town"]) for g in grids.only("id")]


def recompute_deadlines(years: list[int]) -> int:
    """Open cases whose working-time step runs through `years`: due time recomputed from the
    step's budget in working minutes on the calendar as it is now; each change is an event."""
    if not years:
        return 0
    tz = ZoneInfo(settings.TIME_ZONE)
    first = dt.datetime(min(years), 1, 1, tzinfo=tz)
    last = dt.datetime(max(years) + 1, 1, 1, tzinfo=tz)
    candidates = (
        Case.objects.filter(state__in=OPEN_STATES, step_budget_minutes__isnull=False, step_started_at__lt=last)
        .filter(Q(due_at__gte=first) | Q(due_at__isnull=True))
        .values_list("pk", flat=True)
    )
    changed = 0
    for pk in candidates.iterator():
        with transaction.atomic():
            case = Case.objects.select_for_update(of=("self",)).select_related("category", "county").get(pk=pk)
            if case.state not in OPEN_STATES or case.step_budget_minutes is None:
                continue
            cal = _calendar(case)
            new_due = cal.add_working_minutes(case.step_started_at, case.step_budget_minutes)
            if new_due == case.due_at:
                continue
            old = case.due_at
            case.due_at = new_due
            if case.remind_at is not None:
                # Not reminded yet in this step: at REMIND_SHARE of the step's budget on the calendar
                # as it is now. Once reminded (remind_at cleared by the sweep) the step gets no second
                # automatic reminder.
                case.remind_at = _remind_time(cal, case.step_started_at, new_due, natural=False)
            if case.state == CaseState.HANDLING and old is not None and case.handle_due_at == old:
                # The handling deadline that closed_on_time is judged by moves with the step.
                case.handle_due_at = new_due
            if case.is_overdue and new_due > dt.datetime.now(tz):
                case.is_overdue = False
                case.escalate_at = None
                case.is_supervised = False
                Supervision.objects.filter(case=case, step=case.step, automatic=True, is_open=True).update(
                    is_open=False, closed_at=dt.datetime.now(tz)
                )
            case.save(
                update_fields=[
                    "due_at",
                    "remind_at",
                    "handle_due_at",
                    "is_overdue",
                    "is_supervised",
                    "escalate_at",
                    "updated_at",
                ]
            )
            _event(
                case,
                Action.RECALCULATE,
                None,
                case.state,
                case.state,
                case.owner_label,
                case.owner_label,
                _("节假日安排调整，期限由 %(old)s 改为 %(new)s")
                % {
                    "old": old.astimezone(tz).strftime("%Y-%m-%d %H:%M") if old else "—",
                    "new": new_due.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                },
                {"old_due_at": old.isoformat() if old else None, "new_due_at": new_due.isoformat()},
                None,
            )
            changed += 1
    return changed
