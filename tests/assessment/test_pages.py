"""Assessment pages: my score on the phone, score detail and trend, rankings with the bottom N
flagged, appeals through the pages, the subsidy sheet (HTML and Excel) — all through scope."""

import io
from decimal import Decimal

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import load_workbook

from assessment import services
from assessment.choices import AppealStatus, SubjectKind
from assessment.models import Appeal, Score
from assessment.periods import Period
from staff.choices import Role

from .conftest import JPEG, at

pytestmark = [pytest.mark.django_db]
NOV = Period.parse("2026-11")
D = Decimal


@pytest.fixture
def computed(tree, november):
    with time_machine.travel(at(12, 2, 3), tick=False):
        services.compute_month(NOV)
    return november


def score(tree, kind, **filters) -> Score:
    return Score.objects.get(period__month=NOV.month, subject_kind=kind, **filters)


def test_grid_worker_sees_only_their_own_score_with_every_line_explained(tree, computed, client):
    client.force_login(tree.users[Role.GRID_WORKER])
    response = client.get("/assessment/me/")
    assert response.status_code == 200
    html = response.content.decode()
    mine = score(tree, SubjectKind.GRID_WORKER, user=tree.users[Role.GRID_WORKER])
    assert [c["score"] for c in response.context["cards"]] == [mine]
    assert 'data-total="983.0"' in html
    assert "2026-11-03 网格日报不足 2 条（实报 1 条）" in html
    assert f'href="/console/case/{computed.c1.pk}/"' in html  # the late verification links to its case
    assert "对此条申诉" in html
    assert "2026年11月" in html
    # Nobody else's lines: the grid chief's overdue line and the units' lines are not here.
    assert "在“梦姑塘第一网格”办理超时" not in html


def test_my_score_query_count_does_not_grow_with_lines(tree, computed, client, django_assert_max_num_queries):
    client.force_login(tree.users[Role.GRID_WORKER])
    with django_assert_max_num_queries(14):
        assert client.get("/assessment/me/", {"month": "2026-11"}).status_code == 200


def test_grid_chief_sees_own_score_and_the_grid_they_head(tree, computed, client):
    client.force_login(tree.users[Role.GRID_CHIEF])
    response = client.get("/assessment/me/")
    kinds = sorted(c["score"].subject_kind for c in response.context["cards"])
    assert kinds == ["grid", "grid_chief"]
    assert {c["score"].area_id for c in response.context["cards"]} == {tree["grid_a"].pk}


def test_month_switcher_lists_computed_months(tree, computed, client):
    with time_machine.travel(at(12, 20), tick=False):
        services.compute_month(Period.parse("2026-12"))
    client.force_login(tree.users[Role.GRID_WORKER])
    response = client.get("/assessment/me/")
    assert response.context["period"].key == "2026-12"  # the latest by default
    assert response.context["older"].key == "2026-11"
    november = client.get("/assessment/me/", {"month": "2026-11"})
    assert november.context["cards"][0]["score"].total == D("983")
    assert november.context["newer"].key == "2026-12"


def test_another_persons_score_is_404_for_a_grid_worker(tree, computed, client):
    client.force_login(tree.users[Role.GRID_WORKER])
    chief = score(tree, SubjectKind.GRID_CHIEF)
    other = score(tree, SubjectKind.GRID_WORKER, user=tree.users["worker_b"])
    assert client.get(f"/assessment/score/{chief.pk}/").status_code == 404
    assert client.get(f"/assessment/score/{other.pk}/").status_code == 404
    line = other.lines.first()
    assert client.get(f"/assessment/line/{line.pk}/appeal/").status_code == 404
    assert client.get("/assessment/ranking/").status_code == 302  # not a viewer: back to my score


def test_town_leader_sees_their_town_and_not_the_other(tree, computed, client):
    client.force_login(tree.users[Role.TOWN_LEADER])
    mine = score(tree, SubjectKind.GRID_WORKER, user=tree.users[Role.GRID_WORKER])
    theirs = score(tree, SubjectKind.GRID_WORKER, user=tree.users["worker_b"])
    detail = client.get(f"/assessment/score/{mine.pk}/")
    assert detail.status_code == 200
    assert detail.context["trend"] == [{"month": "2026-11", "total": 983.0, "deductions": -30.0, "bonuses": 13.0}]
    assert 'id="trend-data"' in detail.content.decode() and "echarts.min.js" in detail.content.decode()
    assert client.get(f"/assessment/score/{theirs.pk}/").status_code == 404
    town_b = score(tree, SubjectKind.TOWN, area=tree["town_b"])
    assert client.get(f"/assessment/score/{town_b.pk}/").status_code == 404


def test_ranking_per_town_and_kind_flags_the_bottom(tree, computed, client):
    client.force_login(tree.users[Role.TOWN_LEADER])
    grids = client.get("/assessment/ranking/", {"month": "2026-11", "kind": "grid", "bottom": 1})
    rows = [(r.score.area.name, r.rank, r.score.total, r.flagged) for r in grids.context["rows"]]
    # Town A's grids only: special_a 995, grid_a 975 (grid_b is in town B)
    assert rows == [("工业园专属网格", 1, D("995"), False), ("梦姑塘第一网格", 2, D("975"), True)]
    assert "末位" in grids.content.decode()
    assert grids.context["average_trend"] == [{"month": "2026-11", "average": 985.0, "lowest": 975.0}]
    workers = client.get("/assessment/ranking/", {"kind": "grid_worker"})
    assert [r.score.user for r in workers.context["rows"]] == [tree.users[Role.GRID_WORKER]]


def test_county_official_ranks_the_whole_county(tree, computed, client):
    client.force_login(tree.users[Role.COUNTY_OFFICIAL])
    response = client.get("/assessment/ranking/", {"kind": "grid_worker", "bottom": 1})
    rows = [(r.score.user.username, r.rank, r.flagged) for r in response.context["rows"]]
    assert rows == [("b_grid_worker", 1, False), ("a_grid_worker", 2, True)]
    by_town = client.get("/assessment/ranking/", {"kind": "grid_worker", "town": tree["town_b"].pk})
    assert [r.score.user.username for r in by_town.context["rows"]] == ["b_grid_worker"]


def test_ranking_ties_at_the_boundary_are_all_flagged(tree, computed):
    from assessment.selectors import ranking

    Score.objects.filter(subject_kind=SubjectKind.GRID).update(total=D("990"))
    ranked = ranking(Score.objects.filter(subject_kind=SubjectKind.GRID), 1)
    assert [(r.rank, r.flagged) for r in ranked] == [(1, True), (1, True), (1, True)]


def test_appeal_through_the_phone_page_and_decide_through_the_review_page(tree, computed, client):
    worker = tree.users[Role.GRID_WORKER]
    mine = score(tree, SubjectKind.GRID_WORKER, user=worker)
    target = mine.lines.get(rule__code="gw_late_verify")
    client.force_login(worker)
    bad = client.post(
        f"/assessment/line/{target.pk}/appeal/",
        {"reason": "当天已核查", "evidence": SimpleUploadedFile("x.txt", b"hello world")},
    )
    assert bad.status_code == 400 and "不支持的文件类型" in bad.content.decode()
    assert not Appeal.objects.exists()
    ok = client.post(
        f"/assessment/line/{target.pk}/appeal/",
        {"reason": "当天已核查", "evidence": SimpleUploadedFile("现场.jpg", JPEG)},
    )
    assert ok.status_code == 302 and ok["Location"] == "/assessment/me/?month=2026-11"
    appeal = Appeal.objects.get()
    assert "申诉待审核" in client.get("/assessment/me/").content.decode()
    assert b"".join(client.get(f"/assessment/appeal/{appeal.pk}/evidence/").streaming_content) == JPEG
    # The worker cannot decide their own appeal.
    client.post(f"/assessment/appeal/{appeal.pk}/", {"decision": "accepted"})
    appeal.refresh_from_db()
    assert appeal.status == AppealStatus.PENDING

    client.force_login(tree.users[Role.CENTRE_STAFF])
    queue = client.get("/assessment/appeals/")
    assert [a.pk for a in queue.context["to_review"]] == [appeal.pk]
    no_reason = client.post(f"/assessment/appeal/{appeal.pk}/", {"decision": "rejected"})
    assert no_reason.status_code == 400 and "驳回申诉须填写理由" in no_reason.content.decode()
    done = client.post(f"/assessment/appeal/{appeal.pk}/", {"decision": "accepted", "decision_note": "属实"})
    assert done.status_code == 302
    mine.refresh_from_db()
    assert mine.total == D("993")

    client.force_login(tree.users["worker_b"])
    assert client.get(f"/assessment/appeal/{appeal.pk}/").status_code == 404
    assert client.get(f"/assessment/appeal/{appeal.pk}/evidence/").status_code == 404


def test_subsidy_sheet_and_its_excel_export(tree, computed, client):
    client.force_login(tree.users[Role.TOWN_LEADER])
    page = client.get("/assessment/subsidy/", {"month": "2026-11"})
    assert page.status_code == 200
    # Town A's people: grid worker 983, grid chief 986, zone chief 987, department staff 960
    assert sorted(s.total for s in page.context["scores"]) == [D("960"), D("983"), D("986"), D("987")]
    assert page.context["total"] == D("3916")
    response = client.get("/assessment/subsidy/", {"month": "2026-11", "format": "xlsx"})
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response["Content-Disposition"] == 'attachment; filename="subsidy-2026-11.xlsx"'
    ws = load_workbook(io.BytesIO(response.content)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0] == "2026年11月 千分制考核补贴表（千岛湖镇）"
    assert rows[1] == (
        "序号", "镇街", "姓名", "账号", "考核类别", "网格/片区/部门", "基础分", "扣分", "加分", "得分",
        "每分补贴（元）", "补贴金额（元）",
    )  # fmt: skip
    body = {r[3]: r for r in rows[2:-1]}
    assert body["a_grid_worker"] == (
        1, "千岛湖镇", "a_grid_worker", "a_grid_worker", "网格员", "梦姑塘第一网格", 1000, -30, 13, 983, 1, 983,
    )  # fmt: skip
    assert body["a_department"][4:] == ("部门工作人员", "千岛湖镇综合执法队", 1000, -40, 0, 960, 1, 960)
    assert set(body) == {"a_grid_worker", "a_grid_chief", "a_zone_chief", "a_department"}
    assert rows[-1][1:3] == ("合计", "4 人") and rows[-1][11] == 3916


def test_subsidy_sheet_is_for_viewers_only(tree, computed, client):
    client.force_login(tree.users[Role.GRID_WORKER])
    assert client.get("/assessment/subsidy/", {"format": "xlsx"}).status_code == 302


def test_home_sends_each_user_to_their_page(tree, computed, client):
    client.force_login(tree.users[Role.GRID_WORKER])
    assert client.get("/assessment/")["Location"] == "/assessment/me/"
    client.force_login(tree.users[Role.CENTRE_STAFF])
    assert client.get("/assessment/")["Location"] == "/assessment/ranking/"


def test_pages_need_a_login(client):
    assert client.get("/assessment/me/").status_code == 302


def test_ranking_query_count_does_not_grow_with_rows(tree, computed, client, django_assert_max_num_queries):
    from staff.models import Post
    from tests.factories import UserFactory

    client.force_login(tree.users[Role.COUNTY_OFFICIAL])
    with django_assert_max_num_queries(12) as few:
        client.get("/assessment/ranking/", {"kind": "grid_worker"})
    for i in range(10):
        Post.objects.create(user=UserFactory(username=f"extra{i}"), role=Role.GRID_WORKER, area=tree["grid_b"])
    with time_machine.travel(at(12, 2, 4), tick=False):
        services.compute_month(NOV)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get("/assessment/ranking/", {"kind": "grid_worker"})
    assert len(response.context["rows"]) == 12
