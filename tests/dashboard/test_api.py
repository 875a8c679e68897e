"""The stats API: same figures as the pages, scoped, with the API's error shape."""

import pytest
import time_machine

from staff.choices import Role
from tests.dashboard.conftest import NOVEMBER_PARAMS, NOW

pytestmark = [pytest.mark.django_db]


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def get(api_client, tree, who, path, **params):
    api_client.force_authenticate(tree.users[who])
    return api_client.get(f"/api/v1/stats/{path}/", {**NOVEMBER_PARAMS, **params})


def test_summary_has_every_count_and_kpi(tree, november, api_client):
    response = get(api_client, tree, Role.TOWN_LEADER, "summary")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["area"]["code"] == "330127100"
    assert data["period"]["date_from"] == "2026-11-01"
    assert data["counts"]["reported"] == 9 and data["counts"]["due_late"] == 3
    kpi = data["kpis"]["on_time_close_rate"]
    assert (kpi["value"], kpi["numerator"], kpi["denominator"]) == (0.5, 3, 6)
    assert data["kpis"]["return_rate"]["value"] == 0.5
    assert {r["code"] for r in data["by_source"]} == {"patrol", "hotline"}
    assert data["by_category"][0]["code"] == "02"


def test_children_ranked_with_the_worst_flagged(tree, november, api_client):
    data = get(api_client, tree, Role.COUNTY_OFFICIAL, "children", kpi="close_rate").json()
    assert data["kpi"] == "close_rate"
    assert [c["area"]["code"] for c in data["children"]] == ["330127100", "330127101"]
    assert data["children"][0]["rank"] == 1 and data["children"][1]["rank"] is None  # town B: nothing due
    assert data["children"][0]["kpis"]["close_rate"] == pytest.approx(5 / 6)


def test_trend_per_day(tree, november, api_client):
    days = get(api_client, tree, Role.TOWN_LEADER, "trend").json()["days"]
    assert len(days) == 30
    by_day = {d["day"]: d for d in days}
    assert by_day["2026-11-02"]["reported"] == 2
    assert by_day["2026-11-05"]["closed"] == 1  # c11 (c4 closed on 11-06)
    assert sum(d["reported"] for d in days) == 9 and sum(d["closed"] for d in days) == 6


@pytest.mark.parametrize("path", ["summary", "children", "trend"])
@pytest.mark.parametrize("target", ["town_b", "grid_b", "county"])
def test_another_towns_area_is_not_found(tree, november, api_client, path, target):
    response = get(api_client, tree, Role.TOWN_LEADER, path, area=tree[target].pk)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_bad_parameters_are_400_with_errors(tree, november, api_client):
    response = get(
        api_client, tree, Role.TOWN_LEADER, "summary", date_from="2026-12-01", date_to="2026-11-01", source="x"
    )
    assert response.status_code == 400
    body = response.json()
    # The first field's code, as everywhere in the API (gridgov.api.exception_handler).
    assert body["code"] == "invalid_choice" and {"date_to", "source"} <= set(body["errors"])
    assert body["detail"]
    too_long = get(api_client, tree, Role.TOWN_LEADER, "trend", date_from="2020-01-01", date_to="2026-11-30")
    assert too_long.status_code == 400 and "date_to" in too_long.json()["errors"]


def test_grid_workers_are_refused_and_anonymous_must_log_in(tree, november, api_client):
    response = get(api_client, tree, Role.GRID_WORKER, "summary")
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    api_client.force_authenticate(None)
    assert api_client.get("/api/v1/stats/summary/").status_code in (401, 403)


def test_the_schema_documents_the_stats_endpoints(tree, api_client):
    api_client.force_authenticate(tree.users[Role.COUNTY_OFFICIAL])
    response = api_client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    for name in ("summary", "children", "trend"):
        assert f"/api/v1/stats/{name}/" in paths
    params = {p["name"] for p in paths["/api/v1/stats/children/"]["get"]["parameters"]}
    assert {"area", "date_from", "date_to", "category", "source", "kpi"} <= params
