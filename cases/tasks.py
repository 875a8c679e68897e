"""Celery tasks of the cases app: thin wrappers around services."""

import datetime as dt
import logging

from celery import shared_task
from django.utils import timezone

from . import calendar

logger = logging.getLogger(__name__)


@shared_task(name="cases.tasks.sweep_deadlines", ignore_result=True)
def sweep_deadlines() -> dict:
    """Every minute (beat): reminders, overdue + supervision, automatic escalation."""
    from .sweep import sweep_deadlines as sweep

    result = sweep()
    if any(result.as_dict().values()):
        logger.info("deadline sweep: %s", result.as_dict())
    return result.as_dict()


@shared_task(
    name="cases.tasks.deliver_event_notifications",
    ignore_result=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    max_retries=5,
)
def deliver_event_notifications(event_id: int) -> int:
    from .notifications import deliver

    return deliver([event_id])


@shared_task(
    name="cases.tasks.deliver_events", ignore_result=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5
)
def deliver_events(event_ids: list[int]) -> int:
    from .notifications import deliver

    return deliver(event_ids)


@shared_task(name="cases.tasks.record_reporting_compliance", ignore_result=True)
def record_reporting_compliance(day: str | None = None) -> int:
    """Nightly (beat, 00:20): grid-days with ≥ 2 reports for `day` (default: yesterday)."""
    from .periodic import record_compliance

    target = dt.date.fromisoformat(day) if day else timezone.localdate() - dt.timedelta(days=1)
    return record_compliance(target)


@shared_task(name="cases.tasks.recompute_deadlines_for_years", ignore_result=True)
def recompute_deadlines_for_years(years) -> int:
    """Enqueued (after commit) whenever admins change holidays / make-up workdays of `years`:
    open cases whose working-time step runs through those years get their due time recomputed
    from their step budget, each change recorded as an event."""
    from .periodic import recompute_deadlines

    years = sorted({int(year) for year in years})
    calendar.invalidate(years)
    changed = recompute_deadlines(years)
    logger.info("working calendar changed for %s: %d open cases recomputed", years, changed)
    return changed
