"""/api/v1/assessment/: scores, lines and appeals, scoped like everything else, with the project's
error shape. Mounted by the test urlconf until gridgov/urls.py includes it."""

from decimal import Decimal

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from assessment import services
from assessment.choices import SubjectKind
from assessment.models import Appeal, Score, ScoreLine
from assessment.periods import Period
from staff.choices import Role

from .conftest import JPEG, at

pytestmark = [pytest.mark.django_db]
NOV = Period.parse("2026-11")
API = "/api/v1/assessment"


@pytest.fixture
def computed(tree, november):
    with time_machine.travel(at(12, 2, 3), tick=False):
        services.compute_month(NOV)
    return november


def score(tree, kind, **filters) -> Score:
    return Score.objects.get(period__month=NOV.month, subject_kind=kind, **filters)


def test_grid_worker_sees_only_their_own_scores_and_lines(tree, computed, api_client):
    worker = tree.users[Role.GRID_WORKER]
    api_client.force_authenticate(worker)
    scores = api_client.get(f"{API}/scores/", {"month": "2026-11"}).json()
    assert scores["count"] == 1
    only = scores["results"][0]
    assert (only["subject_kind"], only["total"], only["deductions"], only["bonuses"]) == (
        "grid_worker", "983.0", "-30.0", "13.0",
    )  # fmt: skip
    assert only["user"] == {"id": worker.pk, "name": "a_grid_worker"}
    assert only["month"] == "2026-11" and only["month_status"] == "open" and only["amount"] == "983.00"
    lines = api_client.get(f"{API}/lines/", {"page_size": 100}).json()
    assert lines["count"] == 9
    assert {r["score"] for r in lines["results"]} == {only["id"]}
    late = next(r for r in lines["results"] if r["rule_code"] == "gw_late_verify")
    assert late["link"] == f"/console/case/{computed.c1.pk}/" and late["case"] == computed.c1.pk
    assert late["explanation"] == f"2026-11-05 事件 {computed.c1.number} 核查超时"
    other_line = ScoreLine.objects.filter(score__user=tree.users["worker_b"]).first()
    response = api_client.get(f"{API}/lines/{other_line.pk}/")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "对象不存在或不在您的管辖范围内"}


def test_town_leader_sees_their_town_and_another_towns_score_is_404(tree, computed, api_client):
    api_client.force_authenticate(tree.users[Role.TOWN_LEADER])
    data = api_client.get(f"{API}/scores/", {"month": "2026-11", "page_size": 100}).json()
    assert {r["town"] for r in data["results"]} == {tree["town_a"].pk}
    # town A: GW a, GC, ZC, department staff; grid_a, special_a; zone_a; town_a; dept_a
    assert data["count"] == 9
    theirs = score(tree, SubjectKind.GRID_WORKER, user=tree.users["worker_b"])
    response = api_client.get(f"{API}/scores/{theirs.pk}/")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    grids = api_client.get(f"{API}/scores/", {"subject_kind": "grid", "month": "2026-11"}).json()
    assert sorted(r["total"] for r in grids["results"]) == ["975.0", "995.0"]


def test_a_bad_month_is_a_400_in_the_error_shape(tree, computed, api_client):
    api_client.force_authenticate(tree.users[Role.TOWN_LEADER])
    response = api_client.get(f"{API}/scores/", {"month": "2026/11"})
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "detail": "提交的数据有误，请检查后重试",
        "errors": {"month": ["月份格式应为 YYYY-MM，例如 2026-11"]},
    }


def test_appeal_filed_accepted_and_refused_twice_through_the_api(tree, computed, api_client):
    worker = tree.users[Role.GRID_WORKER]
    mine = score(tree, SubjectKind.GRID_WORKER, user=worker)
    target = mine.lines.get(rule__code="gw_missed_visit")
    api_client.force_authenticate(worker)
    created = api_client.post(
        f"{API}/appeals/",
        {"line": target.pk, "reason": "已走访，未及时录入", "evidence": SimpleUploadedFile("a.jpg", JPEG)},
        format="multipart",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["status"], body["line"], body["line_points"]) == ("pending", target.pk, "-10.0")
    assert body["evidence_url"] == f"{API}/appeals/{body['id']}/evidence/"
    again = api_client.post(f"{API}/appeals/", {"line": target.pk, "reason": "再次"}, format="json")
    assert again.status_code == 409
    assert again.json() == {"code": "conflict", "detail": "该条目已有待审核或已采纳的申诉"}
    own = api_client.post(f"{API}/appeals/{body['id']}/accept/", {}, format="json")
    assert own.status_code == 403 and own.json()["code"] == "permission_denied"

    api_client.force_authenticate(tree.users["worker_b"])
    assert api_client.post(f"{API}/appeals/{body['id']}/accept/", {}, format="json").status_code == 404

    api_client.force_authenticate(tree.users[Role.CENTRE_STAFF])
    accepted = api_client.post(f"{API}/appeals/{body['id']}/accept/", {"note": "属实"}, format="json")
    assert accepted.status_code == 200
    assert (accepted.json()["status"], accepted.json()["total_after"]) == ("accepted", "993.0")
    twice = api_client.post(f"{API}/appeals/{body['id']}/reject/", {"note": "x"}, format="json")
    assert twice.status_code == 409 and twice.json()["detail"] == "该申诉已审核（已采纳）"
    mine.refresh_from_db()
    assert mine.total == Decimal("993")
    download = api_client.get(f"{API}/appeals/{body['id']}/evidence/")
    assert b"".join(download.streaming_content) == JPEG


def test_appeal_refusals_through_the_api(tree, computed, api_client):
    worker = tree.users[Role.GRID_WORKER]
    mine = score(tree, SubjectKind.GRID_WORKER, user=worker)
    api_client.force_authenticate(worker)
    bonus = mine.lines.get(rule__code="gw_solved")
    response = api_client.post(f"{API}/appeals/", {"line": bonus.pk, "reason": "x"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"line": ["只能对扣分条目提出申诉"]}
    theirs = ScoreLine.objects.filter(score__user=tree.users["worker_b"]).first()
    assert api_client.post(f"{API}/appeals/", {"line": theirs.pk, "reason": "x"}, format="json").status_code == 404
    missing = api_client.post(f"{API}/appeals/", {"line": mine.lines.first().pk}, format="json")
    assert missing.status_code == 400 and "reason" in missing.json()["errors"]
    appeal = services.file_appeal(line_id=mine.lines.get(rule__code="gw_late_verify").pk, user=worker, reason="x")
    api_client.force_authenticate(tree.users[Role.CENTRE_STAFF])
    no_reason = api_client.post(f"{API}/appeals/{appeal.pk}/reject/", {}, format="json")
    assert no_reason.status_code == 400
    assert no_reason.json()["errors"] == {"decision_note": ["驳回申诉须填写理由"]}


def test_appeals_list_is_scoped(tree, computed, api_client):
    a = score(tree, SubjectKind.GRID_WORKER, user=tree.users[Role.GRID_WORKER])
    b = score(tree, SubjectKind.GRID_WORKER, user=tree.users["worker_b"])
    services.file_appeal(line_id=a.lines.get(rule__code="gw_late_verify").pk, user=a.user, reason="a")
    services.file_appeal(line_id=b.lines.get(rule__code="gw_day_short").pk, user=b.user, reason="b")
    api_client.force_authenticate(tree.users[Role.CENTRE_STAFF])
    assert [r["reason"] for r in api_client.get(f"{API}/appeals/").json()["results"]] == ["a"]
    api_client.force_authenticate(tree.users["worker_b"])
    assert [r["reason"] for r in api_client.get(f"{API}/appeals/").json()["results"]] == ["b"]
    assert Appeal.objects.count() == 2


def test_schema_documents_the_endpoints(tree, api_client):
    api_client.force_authenticate(tree.users[Role.ADMIN])
    schema = api_client.get("/api/schema/", {"format": "json"}).json()
    paths = set(schema["paths"])
    assert {f"{API}/scores/", f"{API}/lines/{{id}}/", f"{API}/appeals/{{id}}/accept/"} <= paths


def test_anonymous_is_401(api_client):
    response = api_client.get(f"{API}/scores/")
    assert response.status_code in (401, 403)
