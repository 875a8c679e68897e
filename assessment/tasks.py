"""Celery tasks of the assessment: thin wrappers around services."""

import logging

from celery import shared_task
from django.utils import timezone

from .periods import Period

logger = logging.getLogger(__name__)


@shared_task(name="assessment.tasks.compute_previous_month", ignore_result=True)
def compute_previous_month(month: str | None = None) -> dict:
    """Monthly (beat, the 1st at 01:30, after the night's reporting-compliance record of the last
    day): compute the month before (or `month`, "YYYY-MM"). A closed month is left alone."""
    from . import services

    period = Period.parse(month) if month else Period.current(timezone.now()).previous()
    try:
        result = services.compute_month(period)
    except services.MonthClosed as exc:
        logger.info("assessment %s not recomputed: %s", period, exc.message)
        return {"month": period.key, "skipped": exc.code}
    logger.info(
        "assessment %s computed: %d subjects, %d lines, %d ms", period, result.subjects, result.lines, result.took_ms
    )
    return {"month": period.key, "subjects": result.subjects, "lines": result.lines, "took_ms": result.took_ms}
