"""Celery tasks of the grids app."""

from celery import shared_task


@shared_task(name="grids.tasks.sync_effective_boundaries", ignore_result=True)
def sync_effective_boundaries() -> int:
    """Daily (beat): boundary versions whose effective date has come become the areas' boundary."""
    from .boundaries import sync_effective_boundaries as sync

    return sync()
