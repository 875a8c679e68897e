"""The dashboard pages: figures, drill-down, the cases behind a number, the map data, exports,
scope through every parameter, and a query count that does not grow with the tree."""

import csv
import io

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from cases import services
from cases.dashboard import exports
from cases.models import Category
from staff.choices import Role
from tests.dashboard.conftest import NOVEMBER_PARAMS, NOW, at
from tests.factories import area

pytestmark = [pytest.mark.django_db]
LEADER, COUNTY = Role.TOWN_LEADER, Role.COUNTY_OFFICIAL


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def login(client, tree, who):
    client.force_login(tree.users[who])
    return client


def get(client, path, **params):
    return client.get(path, {**NOVEMBER_PARAMS, **params})


def numbers(response) -> list[str]:
    return sorted(c.number for c in response.context["page"].object_list)


def test_a_town_leader_sees_the_town_with_its_figures(tree, november, client):
    response = get(login(client, tree, LEADER), "/dashboard/")
    assert response.status_code == 200
    assert response.context["node"] == tree["town_a"]
    total = response.context["total"]
    assert total.counts["reported"] == 9 and total.pct["on_time_close_rate"] == "50.0%"
    html = response.content.decode()
    assert "按期结案率" in html and "50.0%" in html and 'id="dash-data"' in html
    assert [r.area.code for r in response.context["children"]] == ["330127100001", "330127100002"]


def test_a_county_official_drills_down_town_zone_grid(tree, november, client):
    login(client, tree, COUNTY)
    county = get(client, "/dashboard/")
    assert county.context["node"] == tree["county"]
    assert {r.area.pk for r in county.context["children"]} == {tree["town_a"].pk, tree["town_b"].pk}
    town = get(client, "/dashboard/", area=tree["town_a"].pk)
    assert town.context["total"].counts["reported"] == 9
    assert [a for a, _ in town.context["breadcrumb"]] == [tree["county"]]
    zone = get(client, "/dashboard/", area=tree["zone_a"].pk)
    assert [r.area.pk for r in zone.context["children"]] == [tree["village_a"].pk]
    grid = get(client, "/dashboard/", area=tree["grid_a"].pk)
    assert grid.context["total"].counts["reported"] == 7
    assert grid.status_code == 200


def test_ranking_by_any_kpi_flags_the_worst(tree, november, client):
    response = get(login(client, tree, LEADER), "/dashboard/", kpi="timely_accept_rate")
    rows = response.context["children"]
    assert [r.area.code for r in rows] == ["330127100002", "330127100001"]
    assert rows[1].flagged
    assert "末位" in response.content.decode()


def test_every_number_links_to_its_cases(tree, november, client):
    login(client, tree, LEADER)
    page = get(client, "/dashboard/").content.decode()
    assert "metric=due_late" in page and "metric=overdue" in page
    late = get(client, "/dashboard/cases/", metric="due_late")
    assert numbers(late) == sorted(november.cases[k].number for k in ("c2", "c6", "c11"))
    special = get(client, "/dashboard/cases/", metric="reported", area=tree["special_a"].pk)
    assert numbers(special) == sorted(november.cases[k].number for k in ("c7", "c9"))
    hotline = get(client, "/dashboard/cases/", metric="returned", source="hotline")
    assert numbers(hotline) == [november.cases["c4"].number]


def test_filters_are_validated(tree, november, client):
    login(client, tree, LEADER)
    response = client.get("/dashboard/", {"date_from": "2026-11-30", "date_to": "2026-11-01", "category": "99"})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "date_to" in errors and "category" in errors


@pytest.mark.parametrize("path", ["/dashboard/", "/dashboard/cases/", "/dashboard/map.json"])
@pytest.mark.parametrize("target", ["town_b", "grid_b", "zone_b", "county"])
def test_a_town_official_cannot_open_another_town(tree, november, client, path, target):
    login(client, tree, LEADER)
    assert get(client, path, area=tree[target].pk).status_code == 404


@pytest.mark.parametrize("value", ["999999", "abc", "-1"])
def test_bad_areas_are_404(tree, november, client, value):
    assert get(login(client, tree, LEADER), "/dashboard/", area=value).status_code == 404


def test_no_filter_widens_the_scope(tree, november, client):
    login(client, tree, LEADER)
    b1 = november.cases["b1"].number
    for metric in ("reported", "open", "state_reported"):
        for extra in ({}, {"category": "02"}, {"source": "patrol"}, {"within": tree["town_b"].pk}):
            response = get(client, "/dashboard/cases/", metric=metric, **extra)
            assert b1 not in numbers(response)
    points = get(client, "/dashboard/map.json", metric="open").json()["points"]
    assert b1 not in {p["number"] for p in points}


def test_grid_workers_and_departments_have_no_dashboard(tree, november, client):
    for who in (Role.GRID_WORKER, Role.DEPARTMENT, "nobody"):
        assert get(login(client, tree, who), "/dashboard/").status_code == 403
    client.logout()
    assert client.get("/dashboard/").status_code == 302


def test_map_data_colours_children_with_boundaries(tree, november, client):
    square = {"type": "Polygon", "coordinates": [[[119, 29.5], [119.1, 29.5], [119.1, 29.7], [119, 29.7], [119, 29.5]]]}
    tree["zone_a"].boundary = square
    tree["zone_a"].save()
    data = get(login(client, tree, LEADER), "/dashboard/map.json").json()
    [feature] = data["areas"]["features"]
    assert feature["properties"]["id"] == tree["zone_a"].pk
    assert feature["properties"]["kpis"]["on_time_close_rate"] == 0.5
    assert len(data["points"]) == 9 and not data["truncated"]


def test_map_data_without_boundaries_still_has_points(tree, november, client):
    data = get(login(client, tree, LEADER), "/dashboard/map.json", metric="overdue").json()
    assert data["areas"]["features"] == []
    assert [p["number"] for p in data["points"]] == [november.cases["c6"].number]


def test_dashboard_query_count_does_not_grow_with_areas_or_cases(tree, november, client):
    login(client, tree, COUNTY)
    get(client, "/dashboard/")  # warm caches (content types, sessions)
    with CaptureQueriesContext(connection) as few:
        assert get(client, "/dashboard/").status_code == 200
    # Three more towns, each with zones and grids, and cases in them.
    county = tree["county"].__class__.objects.get(pk=tree["county"].pk)
    worker = tree.users[Role.GRID_WORKER]
    for t in range(3):
        town = area(f"33012711{t}", f"新镇{t}", "town", county)
        for z in range(2):
            zone = area(f"33012711{t}00{z}", f"新片区{t}{z}", "zone", town)
            for g in range(3):
                grid = area(f"33012711{t}00{z}00{g}", f"新网格{t}{z}{g}", "grid", zone)
                services.case_report(
                    reporter=worker,
                    area=grid,
                    category=Category.objects.get(code="0202"),
                    description="新增",
                    now=at(11, 20, 9),
                )
    with CaptureQueriesContext(connection) as many:
        response = get(client, "/dashboard/")
    assert len(response.context["children"]) == 5
    assert response.context["total"].counts["reported"] == 28
    assert len(many) == len(few), [q["sql"][:120] for q in many.captured_queries]
    assert len(many) <= 20


def test_the_cases_page_query_count_is_flat(tree, november, client):
    login(client, tree, LEADER)
    with CaptureQueriesContext(connection) as few:
        get(client, "/dashboard/cases/", metric="reported")
    for day in range(3, 20):
        services.case_report(
            reporter=tree.users[Role.GRID_WORKER],
            area=tree["special_a"],
            category=Category.objects.get(code="1401"),
            description="垃圾",
            now=at(11, day, 9),
        )
    with CaptureQueriesContext(connection) as many:
        response = get(client, "/dashboard/cases/", metric="reported")
    assert response.context["page"].paginator.count == 26
    assert len(many) == len(few) <= 15


# --- exports ---------------------------------------------------------------------------------------


def post_export(client, **params):
    return client.post("/dashboard/export/", {**NOVEMBER_PARAMS, **params})


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_excel_ledger_has_the_filtered_rows(tree, november, client):
    login(client, tree, LEADER)
    response = post_export(client, metric="due_late", format="xlsx")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in response["Content-Disposition"]
    ws = load_workbook(io.BytesIO(body(response)), read_only=True)["事件台账"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:3] == ("编号", "标题", "大类")
    assert sorted(r[0] for r in rows[1:]) == sorted(november.cases[k].number for k in ("c2", "c6", "c11"))
    c6 = next(r for r in rows[1:] if r[0] == november.cases["c6"].number)
    assert c6[7] == "处置中" and c6[8] == "千岛湖镇" and c6[13].year == 2026


def test_csv_ledger_with_category_and_area(tree, november, client):
    login(client, tree, LEADER)
    response = post_export(client, metric="reported", format="csv", category="0203")
    text = body(response).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert [r[0] for r in rows[1:]] == [november.cases["c8"].number]
    response = post_export(client, metric="reported", format="csv", area=tree["special_a"].pk)
    rows = list(csv.reader(io.StringIO(body(response).decode("utf-8-sig"))))
    assert sorted(r[0] for r in rows[1:]) == sorted(november.cases[k].number for k in ("c7", "c9"))


def test_kpi_tables_per_level(tree, november, client):
    login(client, tree, COUNTY)
    wb = load_workbook(io.BytesIO(body(post_export(client, kind="kpis", format="xlsx"))), read_only=True)
    assert wb.sheetnames[:5] == ["汇总", "镇街", "片区", "村社区", "网格"]
    towns = {r[0]: r for r in wb["镇街"].iter_rows(min_row=2, values_only=True)}
    assert towns["千岛湖镇"][3] == 50.0  # 按期结案率 in %
    summary = list(wb["汇总"].iter_rows(min_row=2, values_only=True))
    assert summary[0][0] == "淳安县" and len(summary) == 3
    rows = list(
        csv.reader(io.StringIO(body(post_export(client, kind="kpis", format="csv", level="grid")).decode("utf-8-sig")))
    )
    assert [r[0] for r in rows[1:]] == ["淳安县", "梦姑塘第一网格", "工业园专属网格", "文昌第一网格"]


def test_export_is_post_only_and_scoped(tree, november, client):
    login(client, tree, LEADER)
    assert client.get("/dashboard/export/").status_code == 405
    assert post_export(client, area=tree["town_b"].pk).status_code == 404
    assert post_export(client, area=tree["grid_b"].pk, kind="kpis").status_code == 404


def test_a_large_ledger_runs_in_the_background_and_only_its_owner_downloads_it(
    tree, november, client, monkeypatch, settings
):
    monkeypatch.setattr(exports, "EXPORT_INLINE_MAX", 2)
    login(client, tree, LEADER)
    response = post_export(client, metric="reported", format="xlsx")
    assert response.status_code == 302
    status_url = response["Location"]
    token = status_url.rstrip("/").rsplit("/", 1)[1]
    page = client.get(status_url)
    assert page.status_code == 200 and "下载文件" in page.content.decode()
    state = client.get(f"/dashboard/export/{token}/status.json").json()
    assert state["status"] == "done" and state["rows"] == 9  # the task ran eagerly
    download = client.get(state["download"])
    assert download.status_code == 200
    ws = load_workbook(io.BytesIO(body(download)), read_only=True)["事件台账"]
    assert len(list(ws.iter_rows(min_row=2))) == 9
    assert (settings.MEDIA_ROOT / "exports" / f"{token}.xlsx").exists()
    # Another user, even of the same town, cannot poll or fetch it; nor can a forged token.
    login(client, tree, Role.CENTRE_STAFF)
    assert client.get(status_url).status_code == 404
    assert client.get(state["download"]).status_code == 404
    assert client.get("/dashboard/export/..%2F..%2Fsecret/download/").status_code == 404


def test_old_exports_are_purged(tree, settings, tmp_path):
    import os
    import time

    settings.MEDIA_ROOT = tmp_path
    token = exports.new_job(tree.users[LEADER], {"format": "csv"}, "x.csv", 1)
    path = tmp_path / "exports" / f"{token}.json"
    os.utime(path, (time.time() - 3600,) * 2)  # an hour old (the clock is frozen by the fixture)
    assert exports.purge_jobs() == 0 and path.exists()
    os.utime(path, (time.time() - 2 * 86400,) * 2)
    assert exports.purge_jobs() == 1 and not path.exists()
