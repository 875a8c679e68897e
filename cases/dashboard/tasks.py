"""Thin Celery tasks for the dashboards: build a large export in the background, purge old ones."""

from celery import shared_task


@shared_task(name="cases.dashboard.tasks.build_export", ignore_result=True)
def build_export(token: str) -> None:
    from .exports import run_job

    run_job(token)


@shared_task(name="cases.dashboard.tasks.purge_exports", ignore_result=True)
def purge_exports() -> int:
    from .exports import purge_jobs

    return purge_jobs()


@shared_task(name="cases.dashboard.tasks.compact_rollup", ignore_result=True)
def compact_rollup() -> dict | None:
    from .rollup import compact

    return compact()
