"""The area/household/resident API: paths, children, filters, errors, auth, schema and health."""

import pytest
from django.urls import reverse

from grids.models import Household
from staff.choices import Role

pytestmark = pytest.mark.django_db


def test_area_detail_carries_its_ancestor_path(tree, api_client):
    api_client.force_authenticate(tree.users[Role.CENTRE_STAFF])
    data = api_client.get(reverse("area-detail", args=[tree["group_a"].pk])).json()
    assert [p["code"] for p in data["path"]] == [
        "330127",
        "330127100",
        "330127100001",
        "330127100201",
        "330127100201001",
        "330127100201001001",
    ]
    assert data["level"] == "group" and data["level_display"] == "组"


def test_children_endpoint_lists_direct_children_in_code_order(tree, api_client):
    api_client.force_authenticate(tree.users[Role.CENTRE_STAFF])
    data = api_client.get(reverse("area-children", args=[tree["town_a"].pk])).json()
    assert [r["code"] for r in data["results"]] == ["330127100001", "330127100002"]
    assert data["results"][0]["children_count"] == 1


def test_area_filters(tree, api_client):
    api_client.force_authenticate(tree.users[Role.COUNTY_OFFICIAL])
    url = reverse("area-list")

    def codes(**params):
        return {r["code"] for r in api_client.get(url, params).json()["results"]}

    assert codes(level="grid") == {"330127100201001", "330127101001001"}
    assert codes(level=["grid", "special_grid"], within=tree["town_a"].pk) == {"330127100201001", "330127100002"}
    assert codes(parent=tree["town_b"].pk) == {"330127101001"}
    assert codes(code="330127100") == {"330127100"}
    assert codes(search="文昌") == {"330127101", "330127101001", "330127101001001"}


def test_bad_filter_value_is_a_400_with_field_errors(tree, api_client):
    api_client.force_authenticate(tree.users[Role.COUNTY_OFFICIAL])
    response = api_client.get(reverse("area-list"), {"level": "planet"})
    assert response.status_code == 400
    assert "level" in response.json()["errors"]


def test_household_create_sets_path_and_refuses_bad_level(tree, api_client):
    api_client.force_authenticate(tree.users[Role.CENTRE_STAFF])
    ok = api_client.post(
        reverse("household-list"),
        {"code": "H-NEW-1", "area": tree["group_a"].pk, "address": "上村 8 号", "tags": ["dibao"]},
        format="json",
    )
    assert ok.status_code == 201, ok.content
    hh = Household.objects.get(code="H-NEW-1")
    assert (hh.town_id, hh.zone_id, hh.village_id, hh.grid_id) == (
        tree["town_a"].pk,
        tree["zone_a"].pk,
        tree["village_a"].pk,
        tree["grid_a"].pk,
    )
    bad = api_client.post(
        reverse("household-list"), {"code": "H-NEW-2", "area": tree["zone_a"].pk, "address": "x"}, format="json"
    )
    assert bad.status_code == 400 and bad.json()["code"] == "bad_area_level"
    assert "网格或组" in bad.json()["errors"]["area"][0]
    dup = api_client.post(
        reverse("household-list"), {"code": "H-NEW-1", "area": tree["grid_a"].pk, "address": "x"}, format="json"
    )
    assert dup.status_code == 400 and "code" in dup.json()["errors"]
    assert Household.objects.filter(code__startswith="H-NEW").count() == 1


def test_household_with_residents_cannot_be_deleted(tree, api_client):
    api_client.force_authenticate(tree.users[Role.CENTRE_STAFF])
    hh = tree.households["grid_a"]
    response = api_client.delete(reverse("household-detail", args=[hh.pk]))
    assert response.status_code == 400 and response.json()["code"] == "household_in_use"
    assert Household.objects.filter(pk=hh.pk).exists()


def test_household_list_query_count_does_not_grow_with_rows(tree, api_client, django_assert_max_num_queries):
    api_client.force_authenticate(tree.users[Role.COUNTY_OFFICIAL])
    for i in range(30):
        from tests.factories import HouseholdFactory

        HouseholdFactory(area=tree["grid_b"], code=f"HQ{i:03d}")
    with django_assert_max_num_queries(8):
        assert api_client.get(reverse("household-list"), {"page_size": 100}).status_code == 200


def test_me_lists_posts(tree, api_client):
    api_client.force_authenticate(tree.users[Role.DEPARTMENT])
    data = api_client.get(reverse("api-me")).json()
    assert data["username"] == "a_department"
    assert data["posts"][0]["role"] == "department"
    assert data["posts"][0]["department"]["name"] == "千岛湖镇综合执法队"


def test_token_auth(tree, api_client):
    bad = api_client.post(reverse("api-token"), {"username": "a_grid_worker", "password": "wrong"}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] in {"authorization", "invalid"}
    token = api_client.post(
        reverse("api-token"), {"username": "a_grid_worker", "password": "pw-123456"}, format="json"
    ).json()["token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api_client.get(reverse("api-me")).json()["username"] == "a_grid_worker"


def test_anonymous_is_refused_with_a_code(api_client):
    response = api_client.get(reverse("area-list"))
    assert response.status_code in (401, 403)
    assert response.json()["code"] == "not_authenticated"


def test_schema_and_docs_render(tree, client):
    client.force_login(tree.users[Role.ADMIN])
    schema = client.get(reverse("schema"))
    assert schema.status_code == 200 and b"/api/v1/areas/" in schema.content
    docs = client.get(reverse("api-docs"))
    assert docs.status_code == 200 and b"cdn" not in docs.content.lower()


def test_healthz_reports_database_and_broker(client):
    data = client.get("/healthz").json()
    assert data["database"]["ok"] is True
    assert data["status"] == ("ok" if data["broker"]["ok"] else "error")


@pytest.mark.redis
def test_healthz_sees_the_redis_broker(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["broker"] == {"ok": True, "transport": "redis"}


def test_healthz_reports_a_dead_broker(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"]["ok"] is False
