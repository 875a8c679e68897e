"""Locating a point: the index (edges, holes, outside, depth), the API (scope, errors) and how the
index notices changes in this process and in others."""

import json

import pytest
import shapely
from django.urls import reverse

from grids import locate as locate_module
from grids.boundaries import boundary_save
from grids.locate import LocateIndex, get_index, locate
from grids.models import Area
from staff.choices import Role
from tests.boundaries.conftest import add_grid, lonlat, rect

pytestmark = pytest.mark.django_db


def where(x: float, y: float, user=None):
    lon, lat = lonlat(x, y)
    found = locate(lat=lat, lon=lon, user=user)
    return found.area.code if found else None


def test_a_point_goes_to_the_deepest_area_containing_it(geo):
    # grid_a is the deepest boundary there (its group has none).
    assert where(1000, 1000) == geo["grid_a"].code
    found = locate(lat=lonlat(1000, 1000)[1], lon=lonlat(1000, 1000)[0])
    assert [a.code for a in found.path] == ["330127", "330127100", "330127100001", "330127100201", "330127100201001"]


def test_a_point_in_the_village_outside_every_grid_goes_to_the_village(geo):
    assert where(4000, 1000) == geo["village_a"].code


def test_a_point_on_an_outer_edge_counts_as_inside(geo):
    assert where(0, 3000) == geo["grid_a"].code


def test_a_point_on_the_edge_shared_by_two_grids_goes_to_the_lower_code_every_time(geo, admin):
    second = add_grid(geo, "002", "二网格")
    boundary_save(area=second, geometry=rect(2500, 0, 5000, 6000), author=admin)
    assert {where(2500, 3000) for _ in range(5)} == {geo["grid_a"].code}
    assert where(2500.5, 3000) == second.code


def test_a_point_in_a_hole_goes_to_the_area_around_the_hole(geo):
    # grid_b has a lake x 7000–8000, y 4000–5000; zone_b has no hole.
    assert where(7500, 4500) == geo["zone_b"].code
    assert where(6000, 4500) == geo["grid_b"].code


def test_a_point_outside_everything_is_nowhere(geo):
    assert where(-500, 3000) is None
    assert where(20000, 20000) is None


def test_the_index_alone_orders_candidates_deepest_first():
    square = shapely.box(0, 0, 10, 10)
    index = LocateIndex(
        [(1, 0, "1", square), (2, 1, "2", shapely.box(0, 0, 5, 5)), (3, 1, "3", shapely.box(5, 0, 10, 5))]
    )
    assert index.candidates(2, 2) == [2, 1]
    assert index.candidates(5, 2) == [2, 3, 1]  # shared edge: both, by code
    assert index.locate(7, 7) == 1
    assert index.locate(11, 11) is None
    assert LocateIndex([]).locate(0, 0) is None


def test_an_unreadable_stored_boundary_is_left_out_not_fatal(geo):
    Area.objects.filter(pk=geo["grid_b"].pk).update(boundary={"type": "Polygon", "coordinates": [[["x"]]]})
    locate_module.invalidate()
    assert where(6000, 4500) == geo["zone_b"].code


# --- change detection -----------------------------------------------------------------------


def test_a_save_in_this_process_is_seen_at_once(geo, admin):
    assert where(2000, 3000) == geo["grid_a"].code
    boundary_save(area=geo["grid_a"], geometry=rect(0, 0, 1500, 6000), author=admin)
    assert where(2000, 3000) == geo["village_a"].code


def test_a_change_made_by_another_process_is_seen_after_the_recheck_interval(geo, monkeypatch, settings):
    settings.GRIDGOV_LOCATE_RECHECK_SECONDS = 5
    clock = [1000.0]
    monkeypatch.setattr(locate_module.time, "monotonic", lambda: clock[0])
    assert where(2000, 3000) == geo["grid_a"].code
    # Another process writes (no signal here): simulate with a queryset update.
    from django.utils import timezone

    Area.objects.filter(pk=geo["grid_a"].pk).update(boundary=rect(0, 0, 1500, 6000), updated_at=timezone.now())
    clock[0] += 2
    assert where(2000, 3000) == geo["grid_a"].code  # within the interval: the cached index
    clock[0] += 4
    assert where(2000, 3000) == geo["village_a"].code  # token read again, changed, rebuilt


def test_the_change_token_is_read_at_most_once_per_interval(geo, monkeypatch, django_assert_num_queries):
    clock = [50.0]
    monkeypatch.setattr(locate_module.time, "monotonic", lambda: clock[0])
    index = get_index()
    with django_assert_num_queries(0):
        for _ in range(100):
            assert get_index() is index
    clock[0] += 60
    with django_assert_num_queries(2):  # newest version id; areas' latest update and count
        assert get_index() is index  # unchanged: not rebuilt


# --- the API --------------------------------------------------------------------------------


def api_locate(api_client, user, x=None, y=None, **params):
    api_client.force_authenticate(user)
    if x is not None:
        lon, lat = lonlat(x, y)
        params = {"lat": lat, "lon": lon, **params}
    return api_client.get(reverse("area-locate"), params)


def test_api_locate_returns_the_area_and_its_path(geo, api_client):
    response = api_locate(api_client, geo.users[Role.GRID_WORKER], 1000, 1000)
    assert response.status_code == 200
    data = response.json()
    assert data["code"] == geo["grid_a"].code and data["level"] == "grid" and data["level_display"] == "网格"
    assert [p["code"] for p in data["path"]][-2:] == [geo["village_a"].code, geo["grid_a"].code]


def test_api_locate_is_limited_to_the_callers_scope(geo, api_client):
    # The town-B grid worker asks about a point in town A: nothing of theirs is there.
    response = api_locate(api_client, geo.users["worker_b"], 1000, 1000)
    assert response.status_code == 404 and response.json()["code"] == "not_located"
    # A town-A grid worker asking about the village outside their grid: not theirs either.
    response = api_locate(api_client, geo.users[Role.GRID_WORKER], 4000, 1000)
    assert response.status_code == 404
    # The centre staff of town A sees the village.
    assert api_locate(api_client, geo.users[Role.CENTRE_STAFF], 4000, 1000).json()["code"] == geo["village_a"].code
    # Town A's centre asks about town B: the county would contain it, but the county is not theirs.
    assert api_locate(api_client, geo.users[Role.CENTRE_STAFF], 7000, 1000).status_code == 404
    assert api_locate(api_client, geo.users[Role.COUNTY_OFFICIAL], 7000, 1000).json()["code"] == geo["grid_b"].code


def test_api_locate_outside_everything_is_404_not_located(geo, api_client):
    response = api_locate(api_client, geo.users[Role.COUNTY_OFFICIAL], -5000, -5000)
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "not_located" and "区域" in body["detail"]


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({}, "lat", "缺少纬度"),
        ({"lat": "29.6"}, "lon", "缺少经度"),
        ({"lat": "abc", "lon": "119"}, "lat", "必须是数字"),
        ({"lat": "119.0", "lon": "29.6"}, "lat", "写反"),
        ({"lat": "29.6", "lon": "200"}, "lon", "-180 到 180"),
        ({"lat": "nan", "lon": "119"}, "lat", "数字"),
    ],
)
def test_api_locate_bad_coordinates_are_400_in_chinese(geo, api_client, params, field, words):
    response = api_locate(api_client, geo.users[Role.COUNTY_OFFICIAL], **params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "bad_coordinates" and field in body["errors"]
    assert words in body["detail"]


def test_api_locate_needs_a_login(geo, api_client):
    lon, lat = lonlat(1000, 1000)
    assert api_client.get(reverse("area-locate"), {"lat": lat, "lon": lon}).status_code in (401, 403)


def test_api_subtree_export_is_a_feature_collection_of_the_subtree(geo, api_client):
    api_client.force_authenticate(geo.users[Role.CENTRE_STAFF])
    response = api_client.get(reverse("area-boundaries", args=[geo["zone_a"].pk]))
    assert response.status_code == 200 and response["Content-Type"].startswith("application/geo+json")
    data = response.json()
    assert data["type"] == "FeatureCollection"
    assert [f["properties"]["code"] for f in data["features"]] == [
        geo["zone_a"].code,
        geo["village_a"].code,
        geo["grid_a"].code,
    ]
    first = data["features"][0]
    assert first["geometry"]["type"] == "Polygon"
    assert first["properties"]["version"] == 1 and first["properties"]["parent_code"] == geo["town_a"].code
    with_empty = api_client.get(reverse("area-boundaries", args=[geo["zone_a"].pk]), {"include_empty": "1"}).json()
    assert geo["group_a"].code in [f["properties"]["code"] for f in with_empty["features"]]


def test_api_subtree_export_of_another_town_is_404(geo, api_client):
    api_client.force_authenticate(geo.users["worker_b"])
    response = api_client.get(reverse("area-boundaries", args=[geo["zone_a"].pk]))
    assert response.status_code == 404


def test_api_export_from_the_county_is_scoped_to_the_callers_subtree(geo, api_client):
    # A grid worker cannot even address the county; from their own grid they get their grid only.
    api_client.force_authenticate(geo.users[Role.GRID_WORKER])
    assert api_client.get(reverse("area-boundaries", args=[geo["county"].pk])).status_code == 404
    data = api_client.get(reverse("area-boundaries", args=[geo["grid_a"].pk])).json()
    assert [f["properties"]["code"] for f in data["features"]] == [geo["grid_a"].code]


def test_api_locate_query_count_is_pinned(geo, api_client, django_assert_max_num_queries):
    user = geo.users[Role.CENTRE_STAFF]
    api_locate(api_client, user, 1000, 1000)  # warm: index built, token read
    with django_assert_max_num_queries(3):  # the user's posts, the visible candidates, the path
        assert api_locate(api_client, user, 1000, 1000).status_code == 200


def test_the_openapi_schema_describes_the_boundary_endpoints(geo, api_client):
    api_client.force_authenticate(geo.users[Role.COUNTY_OFFICIAL])
    response = api_client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = json.loads(response.content)["paths"]
    assert {p["name"] for p in paths["/api/v1/areas/locate/"]["get"]["parameters"]} == {"lat", "lon"}
    assert "/api/v1/areas/{id}/boundaries/" in paths


def test_deactivating_an_area_takes_it_out_of_the_index(geo):
    assert where(1000, 1000) == geo["grid_a"].code
    grid = Area.objects.get(pk=geo["grid_a"].pk)
    grid.is_active = False
    grid.save()
    assert where(1000, 1000) == geo["village_a"].code
