"""Celery tasks of the cases app."""

import logging

from celery import shared_task

from . import calendar

logger = logging.getLogger(__name__)


@shared_task(name="cases.tasks.recompute_deadlines_for_years", ignore_result=True)
def recompute_deadlines_for_years(years) -> list[int]:
    """Enqueued (after commit) whenever admins add, change or delete holidays / make-up workdays
    or mark a year complete: `years` are the calendar years whose days changed.

    PLACEHOLDER — there is no Case model yet. The case-engine issue (#3) wires this task to
    recompute `due_at` of the open cases whose working-time limits run through these years (with
    `cases.calendar.WorkingCalendar`). Today it only refreshes this worker's calendar cache and
    logs; it does not recompute any deadline.
    """
    years = sorted({int(year) for year in years})
    calendar.invalidate(years)
    logger.info(
        "working calendar changed for %s; open cases' due times are not recomputed yet "
        "(wired by the case-engine issue)",
        ", ".join(map(str, years)) or "no year",
    )
    return years
