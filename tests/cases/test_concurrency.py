"""Concurrency on PostgreSQL: many requests at once, each thread with its own database connection
(closed at the end) and its own APIClient, all released together by a barrier."""

import importlib
import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient

from cases.choices import Action, CaseState
from cases.models import Case, CaseEvent, CaseNumber, Category, IdempotencyKey
from cases.services import case_report
from staff.choices import Role
from tests.factories import build_tree

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def tree():
    """The tree on a committed database, with the default catalogue of migration 0003 (which a
    transactional test's flush removes afterwards)."""
    importlib.import_module("cases.migrations.0003_default_categories").add(apps, None)
    return build_tree()


def in_threads(count, work):
    """Run work(i) in `count` threads released together; exceptions are re-raised here."""
    barrier = threading.Barrier(count)
    results, errors = [None] * count, []

    def run(i):
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,), name=f"concurrent-{i}") for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    if errors:
        raise errors[0]
    return results


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_concurrent_posts_with_one_idempotency_key_file_one_case(tree):
    worker = tree.users[Role.GRID_WORKER]
    body = {"area": tree["grid_a"].pk, "category": "0202", "description": "路口有人聚众赌博"}
    url = reverse("case-list")

    def post(i):
        response = client_for(worker).post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="report-42")
        return response.status_code, response.json(), response.headers.get("Idempotent-Replayed")

    results = in_threads(20, post)

    assert Case.objects.count() == 1
    case = Case.objects.get()
    assert [status for status, _, _ in results] == [201] * 20
    assert {data["id"] for _, data, _ in results} == {case.pk}
    assert {data["number"] for _, data, _ in results} == {case.number}
    replayed = [flag for _, _, flag in results]
    assert replayed.count("true") == 19
    assert replayed.count(None) == 1
    assert CaseEvent.objects.filter(case=case, action=Action.REPORT).count() == 1
    row = IdempotencyKey.objects.get()
    assert (row.user, row.key, row.case, row.status_code) == (worker, "report-42", case, 201)

    other = client_for(worker).post(
        url, {**body, "description": "另一件事"}, format="json", HTTP_IDEMPOTENCY_KEY="report-42"
    )
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert Case.objects.count() == 1


def test_concurrent_dispatches_of_one_case_succeed_once(tree):
    centre, leader = tree.users[Role.CENTRE_STAFF], tree.users[Role.TOWN_LEADER]
    dept = tree.departments["dept_a"]
    case = case_report(
        reporter=tree.users[Role.GRID_WORKER],
        area=tree["grid_a"],
        category=Category.objects.get(code="0202"),
        description="路口有人聚众赌博",
    )
    version = case.version
    url = reverse("case-act", args=[case.pk, "dispatch"])
    # Both hold the town (社管中心 and 镇街领导): half the requests come from each.
    users = [centre if i % 2 == 0 else leader for i in range(50)]

    def dispatch(i):
        response = client_for(users[i]).post(
            url, {"version": version, "target": {"department": dept.pk}}, format="json"
        )
        return response.status_code, response.json()

    results = in_threads(50, dispatch)

    statuses = [status for status, _ in results]
    assert statuses.count(200) == 1
    assert statuses.count(409) == 49
    event = CaseEvent.objects.get(case=case, action=Action.DISPATCH)
    winner = event.actor
    loser = leader if winner == centre else centre
    for status, data in results:
        if status == 409:
            assert data["code"] == "conflict"
            assert winner.username in data["detail"]
            assert loser.username not in data["detail"]
    case.refresh_from_db()
    assert case.state == CaseState.HANDLING
    assert case.owner_department == dept
    assert case.version == version + 1
    assert case.dispatch_count == 1
    assert list(case.events.order_by("seq").values_list("action", flat=True)) == [Action.REPORT, Action.DISPATCH]


def test_case_numbers_stay_unique_when_cases_are_filed_at_once(tree):
    reporter = tree.users[Role.GRID_WORKER]
    category = Category.objects.get(code="0202")
    now = datetime(2026, 11, 24, 9, 0, tzinfo=SH)

    def file(i):
        # `now` names the day of the number; time_machine is process-wide, so not used in threads.
        case = case_report(reporter=reporter, area=tree["grid_a"], category=category, description=f"隐患 {i}", now=now)
        return case.number

    numbers = in_threads(20, file)

    assert sorted(numbers) == [f"20261124{n:05d}" for n in range(1, 21)]
    assert sorted(Case.objects.values_list("number", flat=True)) == sorted(numbers)
    assert CaseNumber.objects.get(day=now.date()).last == 20
