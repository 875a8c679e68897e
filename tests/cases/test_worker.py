"""A real Celery worker on Redis runs the deadline sweep: the task goes through the broker, the
worker (in a thread, solo pool) claims the due case in its own database connection, and the
notifications it enqueues after commit come back through the broker too."""

import importlib
import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.apps import apps
from django.db import connections
from django.utils import timezone

from cases.choices import Action
from cases.models import Case, CaseEvent, Category, Notification, Reminder
from cases.services import case_report
from cases.tasks import sweep_deadlines
from gridgov.celery import app
from staff.choices import Role
from tests.factories import build_tree

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


#: (task name, task id) of every task the embedded worker finished, in order.
finished: list[tuple[str, str]] = []


def _after_task(sender=None, task_id=None, **kwargs):
    # Runs in the worker's thread: close that thread's connections, then record the task.
    connections.close_all()
    finished.append((sender.name, task_id))


@pytest.fixture
def worker(monkeypatch):
    """An embedded worker consuming the configured broker (CELERY_BROKER_URL), torn down (and its
    thread joined) before the test's database is flushed."""
    monkeypatch.setenv("CELERY_SKIP_CHECKS", "1")
    saved = {key: app.conf[key] for key in ("task_always_eager", "worker_hijack_root_logger")}
    app.conf.task_always_eager = False
    app.conf.worker_hijack_root_logger = False  # leave pytest's log capture alone
    app.control.purge()  # nothing left over from an earlier run on this broker database
    finished.clear()
    task_postrun.connect(_after_task, weak=False)
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING", shutdown_timeout=30) as w:
            yield w
    finally:
        task_postrun.disconnect(_after_task)
        app.conf.update(saved)


def wait_for(predicate, timeout=20.0):
    """Poll the database while another thread (the worker) does the work."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_worker_on_redis_runs_the_sweep_and_delivers_its_notifications(worker):
    importlib.import_module("cases.migrations.0003_default_categories").add(apps, None)
    tree = build_tree()
    case = case_report(
        reporter=tree.users[Role.GRID_WORKER],
        area=tree["grid_a"],
        category=Category.objects.get(code="0202"),
        description="路口有人聚众赌博",
    )
    assert case.due_at > timezone.now()
    Case.objects.filter(pk=case.pk).update(remind_at=timezone.now() - timedelta(minutes=1))
    assert not Reminder.objects.exists()

    first = sweep_deadlines.delay()

    assert wait_for(lambda: Reminder.objects.filter(case=case).exists()), "the worker did not run the sweep"
    centre = tree.users[Role.CENTRE_STAFF]
    # deliver_events was enqueued by the worker after its commit and run by the worker as well.
    assert wait_for(lambda: Notification.objects.filter(recipient=centre, kind=Action.REMIND).exists())
    assert ("cases.tasks.sweep_deadlines", first.id) in finished
    assert [name for name, _ in finished] == [
        "cases.tasks.deliver_event_notifications",  # the filing's own notifications
        "cases.tasks.sweep_deadlines",
        "cases.tasks.deliver_events",
    ]
    assert Reminder.objects.filter(case=case).count() == 1
    reminder = Reminder.objects.get(case=case)
    assert (reminder.automatic, reminder.step) == (True, 1)
    assert CaseEvent.objects.filter(case=case, action=Action.REMIND).count() == 1
    case.refresh_from_db()
    assert case.remind_at is None
    assert case.reminder_count == 1

    # A second run through the broker finds nothing more to do.
    second = sweep_deadlines.delay()
    assert wait_for(lambda: ("cases.tasks.sweep_deadlines", second.id) in finished)
    assert Reminder.objects.filter(case=case).count() == 1
    assert CaseEvent.objects.filter(case=case, action=Action.REMIND).count() == 1
    assert len(finished) == 4  # no notifications to deliver this time
