"""The map editor page and its JSON actions: who may use them, what they answer."""

import json

from django.urls import reverse

from grids.boundary_models import BoundaryVersion
from grids.models import Area
from staff.choices import Role
from staff.models import Post
from tests.boundaries.conftest import add_grid, polygon, rect


def post_json(client, name, area, body):
    return client.post(reverse(name, args=[area.pk]), json.dumps(body), content_type="application/json")


def config_of(response) -> dict:
    html = response.content.decode()
    start = html.index('id="boundary-config"')
    start = html.index(">", start) + 1
    return json.loads(html[start : html.index("</script>", start)])


def test_the_editor_shows_the_area_with_parent_siblings_and_children(geo, admin, client):
    second = add_grid(geo, "002", "二网格")
    client.force_login(admin)
    response = client.get(reverse("boundaries:editor", args=[geo["grid_a"].pk]))
    assert response.status_code == 200
    cfg = config_of(response)
    assert cfg["mode"] == "editor" and cfg["area"]["code"] == geo["grid_a"].code
    assert cfg["area"]["geometry"]["type"] == "Polygon"
    assert cfg["parent"]["name"] == "梦姑塘村" and cfg["parent"]["geometry"]
    assert [s["name"] for s in cfg["siblings"]] == ["二网格"] and cfg["siblings"][0]["geometry"] is None
    assert [c["name"] for c in cfg["children"]] == ["上村组"]
    assert cfg["urls"]["save"].endswith("/boundary/save/") and cfg["urls"]["locate"] == "/api/v1/areas/locate/"
    assert cfg["tolerance"] == 5.0 and "tileUrl" in cfg
    html = response.content.decode()
    assert "dist/geoman/leaflet-geoman.min.js" in html and "保存边界" in html
    assert f'<option value="{second.pk}">' in html  # a split target


def test_the_editor_uses_the_configured_tiles(geo, admin, client, settings):
    settings.GRIDGOV_TILE_URL = "https://tiles.example.gov.cn/{z}/{x}/{y}.png"
    client.force_login(admin)
    cfg = config_of(client.get(reverse("boundaries:editor", args=[geo["grid_a"].pk])))
    assert cfg["tileUrl"] == "https://tiles.example.gov.cn/{z}/{x}/{y}.png"


def test_only_admins_may_open_the_editor(geo, client):
    client.force_login(geo.users[Role.CENTRE_STAFF])  # in scope, not an admin
    assert client.get(reverse("boundaries:editor", args=[geo["grid_a"].pk])).status_code == 403
    client.force_login(geo.users["worker_b"])  # out of scope
    assert client.get(reverse("boundaries:editor", args=[geo["grid_a"].pk])).status_code == 404


def test_a_town_admin_edits_their_town_only(geo, client):
    town_admin = geo.users[Role.CENTRE_STAFF]
    Post.objects.create(user=town_admin, role=Role.ADMIN, area=geo["town_a"])
    client.force_login(town_admin)
    assert client.get(reverse("boundaries:editor", args=[geo["grid_a"].pk])).status_code == 200
    assert client.get(reverse("boundaries:editor", args=[geo["county"].pk])).status_code == 404  # above their post
    assert client.get(reverse("boundaries:editor", args=[geo["grid_b"].pk])).status_code == 404
    response = post_json(client, "boundaries:save", geo["grid_b"], {"geometry": rect(5000, 0, 6000, 1000)})
    assert response.status_code == 404


def test_save_through_the_page_writes_a_version(geo, admin, client):
    client.force_login(admin)
    body = {"geometry": rect(0, 0, 2000, 6000), "effective_from": "", "note": "页面保存"}
    response = post_json(client, "boundaries:save", geo["grid_a"], body)
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["saved"] and data["version"]["number"] == 2 and data["detail"] == "已保存为第 2 版"
    assert BoundaryVersion.objects.get(area=geo["grid_a"], number=2).note == "页面保存"


def test_a_refused_save_answers_400_with_every_problem(geo, admin, client):
    client.force_login(admin)
    new = add_grid(geo, "002", "二网格")
    bow_tie = polygon((2600, 100), (4000, 1500), (4000, 100), (2600, 1500))
    response = post_json(client, "boundaries:save", new, {"geometry": bow_tie})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_boundary" and body["errors"][0]["code"] == "self_intersection"
    response = post_json(client, "boundaries:save", new, {"geometry": rect(2000, 0, 5000, 6000)})
    assert response.json()["errors"][0]["code"] == "overlap" and response.json()["errors"][0]["geometry"]
    response = post_json(client, "boundaries:save", new, {"geometry": rect(2500, 0, 5000, 6000), "effective_from": "x"})
    assert response.status_code == 400 and response.json()["code"] == "bad_date"
    response = client.post(reverse("boundaries:save", args=[new.pk]), "{oops", content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "bad_json"
    assert not new.boundary_versions.exists()


def test_check_validates_without_saving(geo, admin, client):
    client.force_login(admin)
    new = add_grid(geo, "002", "二网格")
    data = post_json(client, "boundaries:check", new, {"geometry": rect(2500, 0, 4000, 6000)}).json()
    assert data["ok"] and [w["code"] for w in data["warnings"]] == ["gaps"] and data["area_m2"] > 0
    assert not new.boundary_versions.exists()


def test_split_and_merge_through_the_page(geo, admin, client):
    client.force_login(admin)
    body = {"remaining": rect(0, 0, 1500, 6000), "new_code": geo["village_a"].code + "002", "new_name": "二网格"}
    response = post_json(client, "boundaries:split", geo["grid_a"], body)
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["target"]["created"] and data["reassign"]["url"].endswith(f"/{geo['village_a'].pk}/boundary/reassign/")
    new = Area.objects.get(name="二网格")
    response = post_json(client, "boundaries:merge", geo["grid_a"], {"other": new.pk})
    assert response.status_code == 200, response.content
    new.refresh_from_db()
    assert new.boundary is None
    response = post_json(client, "boundaries:split", geo["grid_a"], {"remaining": rect(0, 0, 1500, 6000)})
    assert response.status_code == 400 and response.json()["code"] == "bad_target"


def test_the_json_actions_need_post_and_a_login(geo, client):
    url = reverse("boundaries:save", args=[geo["grid_a"].pk])
    assert client.post(url, "{}", content_type="application/json").status_code == 302  # to the login page
    client.force_login(geo.users[Role.ADMIN])
    assert client.get(url).status_code == 405


def test_the_django_admin_lists_versions_read_only_with_the_import_link(geo, client):
    from tests.factories import UserFactory

    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    client.force_login(root)
    page = client.get("/admin/grids/boundaryversion/")
    assert page.status_code == 200
    html = page.content.decode()
    assert reverse("boundaries:import") in html and reverse("boundaries:history", args=[geo["grid_a"].pk]) in html
    version = BoundaryVersion.objects.filter(area=geo["grid_a"]).first()
    assert client.get(f"/admin/grids/boundaryversion/{version.pk}/change/").status_code == 200
    assert client.get("/admin/grids/boundaryversion/add/").status_code == 403
