"""A real browser (Debian Chromium via Playwright): an admin draws a grid with geoman's polygon
tool, saves it with the page's own button, and a point inside then locates to it via the API."""

import pytest

from grids.boundaries import boundary_save
from grids.models import Area
from staff.choices import Role
from tests.boundaries.conftest import lonlat, rect
from tests.factories import build_tree

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def login(page, base: str, username: str, password: str = "pw-123456") -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


@pytest.fixture
def desk(chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def test_admin_draws_a_grid_saves_it_and_a_point_inside_locates_to_it(live_server, desk):
    tree = build_tree()
    admin = tree.users[Role.ADMIN]
    boundary_save(area=tree["village_a"], geometry=rect(0, 0, 5000, 6000), author=admin)
    grid = tree["grid_a"]
    page = desk
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    login(page, live_server.url, admin.username)
    page.goto(f"{live_server.url}/areas/{grid.pk}/boundary/")
    page.wait_for_function("window.gridgovBoundaryMap && window.gridgovBoundaryMap.map")
    assert page.locator(".leaflet-pm-toolbar").count() > 0  # geoman's toolbar is there

    # Draw a polygon with geoman's tool: click its button, then the corners, then the first again.
    page.click(".leaflet-pm-icon-polygon")
    box = page.locator("#boundary-map").bounding_box()
    corners = [(500, 500), (2000, 500), (2000, 5000), (500, 5000)]
    pixels = [
        page.evaluate(
            "([lat, lon]) => { const p = window.gridgovBoundaryMap.map.latLngToContainerPoint([lat, lon]);"
            " return [p.x, p.y]; }",
            [lonlat(x, y)[1], lonlat(x, y)[0]],
        )
        for x, y in corners
    ]
    for px, py in [*pixels, pixels[0]]:
        page.mouse.click(box["x"] + px, box["y"] + py)
    page.wait_for_function("window.gridgovBoundaryMap.collectGeometry() !== null")

    page.click("#btn-save")
    page.wait_for_selector("#boundary-status[data-state=saved]")
    assert "第 1 版" in page.text_content("#boundary-status")
    assert page.text_content("#current-version").strip() == "1"

    grid = Area.objects.get(pk=grid.pk)
    version = grid.boundary_versions.get()
    assert version.author == admin and grid.boundary == version.geometry
    assert version.area_m2 == pytest.approx(1500 * 4500, rel=0.05)  # clicks land within a pixel or two

    # A point inside the new grid now locates to it, through the API, in the same session.
    lon, lat = lonlat(1200, 2500)
    answer = page.evaluate(
        "async (url) => { const r = await fetch(url); return {status: r.status, body: await r.json()}; }",
        f"{live_server.url}/api/v1/areas/locate/?lat={lat}&lon={lon}",
    )
    assert answer["status"] == 200, answer
    assert answer["body"]["code"] == grid.code
    assert [p["code"] for p in answer["body"]["path"]][-1] == grid.code
    # Outside it but inside the village: the village.
    lon, lat = lonlat(3000, 2500)
    answer = page.evaluate(
        "async (url) => (await fetch(url)).json()", f"{live_server.url}/api/v1/areas/locate/?lat={lat}&lon={lon}"
    )
    assert answer["code"] == tree["village_a"].code
    assert errors == []


def test_a_refused_save_shows_the_reason_and_the_overlap_on_the_map(live_server, desk):
    tree = build_tree()
    admin = tree.users[Role.ADMIN]
    boundary_save(area=tree["village_a"], geometry=rect(0, 0, 5000, 6000), author=admin)
    boundary_save(area=tree["grid_a"], geometry=rect(0, 0, 2500, 6000), author=admin)
    second = Area.objects.create(
        code=tree["village_a"].code + "002", name="二网格", level="grid", parent=tree["village_a"]
    )
    page = desk
    login(page, live_server.url, admin.username)
    page.goto(f"{live_server.url}/areas/{second.pk}/boundary/")
    page.wait_for_function("window.gridgovBoundaryMap && window.gridgovBoundaryMap.map")
    # Scripted drawing (geoman's API on the page's map) — overlapping grid_a by 500 m.
    coords = [[lonlat(x, y)[1], lonlat(x, y)[0]] for x, y in [(2000, 0), (5000, 0), (5000, 6000), (2000, 6000)]]
    page.evaluate("(ll) => { const m = window.gridgovBoundaryMap; L.polygon(ll, m.ownStyle).addTo(m.map); }", coords)
    page.click("#btn-save")
    page.wait_for_selector("#boundary-status[data-state=error]")
    assert page.locator("#boundary-result li.error[data-code=overlap]").count() == 1
    assert "梦姑塘第一网格" in page.text_content("#boundary-result")
    second.refresh_from_db()
    assert second.boundary is None


def test_admin_cuts_a_grid_in_two_with_geomans_cut_tool(live_server, desk):
    tree = build_tree()
    admin = tree.users[Role.ADMIN]
    boundary_save(area=tree["village_a"], geometry=rect(0, 0, 5000, 6000), author=admin)
    boundary_save(area=tree["grid_a"], geometry=rect(0, 0, 2500, 6000), author=admin)
    page = desk
    login(page, live_server.url, admin.username)
    page.goto(f"{live_server.url}/areas/{tree['grid_a'].pk}/boundary/")
    page.wait_for_function("window.gridgovBoundaryMap && window.gridgovBoundaryMap.map")

    # Cut x 1500–3000 (past the grid's east edge) off the grid, top to bottom.
    page.click(".leaflet-pm-icon-cut")
    box = page.locator("#boundary-map").bounding_box()
    corners = [(1500, -400), (3000, -400), (3000, 6400), (1500, 6400)]
    pixels = [
        page.evaluate(
            "([lat, lon]) => { const p = window.gridgovBoundaryMap.map.latLngToContainerPoint([lat, lon]);"
            " return [p.x, p.y]; }",
            [lonlat(x, y)[1], lonlat(x, y)[0]],
        )
        for x, y in corners
    ]
    for px, py in [*pixels, pixels[0]]:
        page.mouse.click(box["x"] + px, box["y"] + py)
    # What the page would save is now only the western part (every vertex west of x = 2000 m).
    page.wait_for_function(
        "(lon) => { const g = window.gridgovBoundaryMap.collectGeometry();"
        " return g && g.type === 'Polygon' && g.coordinates[0].every((p) => p[0] < lon); }",
        arg=lonlat(2000, 0)[0],
    )

    page.select_option("#id_split_target", "new")
    page.fill("#id_new_code", tree["village_a"].code + "002")
    page.fill("#id_new_name", "梦姑塘第二网格")
    page.click("#btn-split")
    page.wait_for_selector("#boundary-status[data-state=saved]")
    assert page.is_visible("#reassign-link")

    grid = Area.objects.get(pk=tree["grid_a"].pk)
    new = Area.objects.get(name="梦姑塘第二网格")
    assert new.parent_id == tree["village_a"].pk and new.level == "grid"
    assert grid.boundary_versions.count() == 2 and new.boundary_versions.get().kind == "split"
    assert grid.boundary_versions.get(number=2).area_m2 == pytest.approx(1500 * 6000, rel=0.05)
    assert new.boundary_versions.get().area_m2 == pytest.approx(1000 * 6000, rel=0.05)
