"""Two real concurrent submits of one report form (a double tap without JavaScript, or a retry
racing the first attempt) file one case. PostgreSQL only: each request runs in its own thread with
its own connection, and the second blocks on the unique (user, key) row until the first commits."""

import threading
import time
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from cases import services
from cases.models import Attachment, Case, IdempotencyKey
from staff.choices import Role
from tests.factories import build_tree

from .conftest import jpeg

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_concurrent_submits_with_one_key_file_one_case(monkeypatch):
    tree = build_tree()
    worker = tree.users[Role.GRID_WORKER]
    real = services.case_report
    inside = threading.Event()

    def slow_report(**kwargs):
        case = real(**kwargs)
        inside.set()
        time.sleep(0.5)  # hold the first transaction open while the second request arrives
        return case

    monkeypatch.setattr(services, "case_report", slow_report)
    key = str(uuid.uuid4())
    data = {"category": "1401", "description": "连点两次", "area": tree["grid_a"].pk, "idempotency_key": key}
    responses = []

    def submit(wait_for_first: bool):
        try:
            client = Client()
            client.force_login(worker)
            if wait_for_first:
                assert inside.wait(10)
            responses.append(client.post(reverse("worker:report"), {**data, "photos": [jpeg()]}))
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(second,)) for second in (False, True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    case = Case.objects.get()
    assert [r.status_code for r in responses] == [302, 302]
    assert {r["Location"] for r in responses} == {reverse("worker:case", args=[case.pk])}
    assert Attachment.objects.count() == 1 and IdempotencyKey.objects.get().case == case
