"""Cut a grid in two, merge two, and move the open cases that now lie in another grid."""

from decimal import Decimal

import pytest
from django.urls import reverse

from cases import services
from cases.choices import Action, CaseState
from cases.models import Case, Category
from grids.boundaries import (
    BoundaryError,
    boundary_merge,
    boundary_save,
    boundary_split,
    case_reassign_area,
    reassign_cases,
    reassignment_plan,
)
from grids.models import Area
from staff.choices import Role
from tests.boundaries.conftest import add_grid, lonlat, rect

pytestmark = pytest.mark.django_db


def file_case(tree, x, y, *, area="grid_a", code="1401", located=True) -> Case:
    lon, lat = lonlat(x, y)
    return services.case_report(
        reporter=tree.users[Role.GRID_WORKER],
        area=tree[area] if isinstance(area, str) else area,
        category=Category.objects.get(code=code),
        description=f"({x}, {y}) 处有占道经营",
        latitude=Decimal(f"{lat:.6f}") if located else None,
        longitude=Decimal(f"{lon:.6f}") if located else None,
    )


# --- split ------------------------------------------------------------------------------------


def test_split_into_a_new_grid_versions_both(geo, admin):
    # The admin cut x 1500–2500 off grid_a with geoman; the page sends what is left.
    result = boundary_split(
        area=geo["grid_a"],
        remaining=rect(0, 0, 1500, 6000),
        author=admin,
        new_code=geo["village_a"].code + "002",
        new_name="梦姑塘第二网格",
    )
    assert result.created and result.target.level == "grid" and result.target.parent == geo["village_a"]
    assert result.area_version.kind == "split" and result.target_version.kind == "split"
    assert result.area_version.area_m2 == pytest.approx(1500 * 6000, rel=1e-3)
    assert result.target_version.area_m2 == pytest.approx(1000 * 6000, rel=1e-3)
    assert "拆分" in result.area_version.note


def test_split_to_an_existing_sibling_adds_the_piece_to_its_boundary(geo, admin):
    second = add_grid(geo, "002", "二网格")
    boundary_save(area=second, geometry=rect(2500, 0, 5000, 6000), author=admin)
    result = boundary_split(area=geo["grid_a"], remaining=rect(0, 0, 2000, 6000), author=admin, target=second)
    assert not result.created
    assert result.target_version.area_m2 == pytest.approx(3000 * 6000, rel=1e-3)
    assert result.target_version.number == 2


def test_split_without_a_cut_is_refused(geo, admin):
    with pytest.raises(BoundaryError) as exc:
        boundary_split(area=geo["grid_a"], remaining=geo["grid_a"].boundary, author=admin, new_code="1", new_name="x")
    assert exc.value.code == "split_empty"
    assert not Area.objects.filter(name="x").exists()


def test_split_with_a_bad_new_code_creates_nothing(geo, admin):
    with pytest.raises(BoundaryError) as exc:
        boundary_split(area=geo["grid_a"], remaining=rect(0, 0, 1500, 6000), author=admin, new_code="", new_name="新")
    assert exc.value.code == "bad_new_area"
    assert geo["grid_a"].boundary_versions.count() == 1


def test_a_split_whose_target_would_overlap_is_refused_whole(geo, admin):
    # A third grid already occupies x 2500–5000; the cut piece goes to a new grid, fine; but if the
    # remaining boundary grows past the old one, it is refused and nothing (not even the area) stays.
    with pytest.raises(BoundaryError) as exc:
        boundary_split(
            area=geo["grid_a"], remaining=rect(0, 0, 3000, 6000), author=admin, new_code="x", new_name="新网格"
        )
    assert exc.value.code == "split_outside"
    assert not Area.objects.filter(name="新网格").exists()


def test_split_to_a_non_sibling_is_refused(geo, admin):
    with pytest.raises(BoundaryError) as exc:
        boundary_split(area=geo["grid_a"], remaining=rect(0, 0, 1500, 6000), author=admin, target=geo["grid_b"])
    assert exc.value.code == "not_sibling"


# --- merge ------------------------------------------------------------------------------------


def test_merge_unions_two_siblings_and_removes_the_other_boundary(geo, admin):
    second = add_grid(geo, "002", "二网格")
    boundary_save(area=second, geometry=rect(2500, 0, 5000, 6000), author=admin)
    result = boundary_merge(keep=geo["grid_a"], absorb=second, author=admin)
    assert result.keep_version.area_m2 == pytest.approx(5000 * 6000, rel=1e-3)
    assert result.check.geometry.geom_type == "Polygon"
    second.refresh_from_db()
    assert second.boundary is None and result.absorbed_version.geometry is None
    assert result.absorbed_version.kind == "merge"


def test_merge_closes_a_gap_narrower_than_the_tolerance(geo, admin):
    second = add_grid(geo, "002", "二网格")
    boundary_save(area=second, geometry=rect(2503, 0, 5000, 6000), author=admin)  # a 3 m strip between
    result = boundary_merge(keep=geo["grid_a"], absorb=second, author=admin)
    assert result.check.geometry.geom_type == "Polygon"
    assert "gap_closed" in [w.code for w in result.check.warnings]


def test_merge_refuses_non_siblings_and_areas_without_boundary(geo, admin):
    with pytest.raises(BoundaryError):
        boundary_merge(keep=geo["grid_a"], absorb=geo["grid_b"], author=admin)
    empty = add_grid(geo, "002", "二网格")
    with pytest.raises(BoundaryError) as exc:
        boundary_merge(keep=geo["grid_a"], absorb=empty, author=admin)
    assert exc.value.code == "no_boundary"


# --- reassigning open cases -------------------------------------------------------------------


def test_after_a_split_the_preview_lists_open_cases_now_in_the_new_grid(geo, admin):
    stays = file_case(geo, 500, 500)
    moves = file_case(geo, 2000, 500)
    in_group = file_case(geo, 600, 600, area="group_a")
    no_gps = file_case(geo, 0, 0, located=False)
    closed = file_case(geo, 2100, 500, code="1401")
    Case.objects.filter(pk=closed.pk).update(state=CaseState.CLOSED)
    result = boundary_split(
        area=geo["grid_a"],
        remaining=rect(0, 0, 1500, 6000),
        author=admin,
        new_code=geo["village_a"].code + "002",
        new_name="梦姑塘第二网格",
    )
    # Cases keep their grid until someone acts.
    moves.refresh_from_db()
    assert moves.area == geo["grid_a"]
    plan = reassignment_plan(root=geo["village_a"])
    assert [(m.case_id, m.from_area, m.to_area) for m in plan.moves] == [(moves.pk, geo["grid_a"], result.target)]
    assert plan.without_coordinates == 1 and plan.checked == 3
    assert "户没有登记经纬度" in plan.households_note
    assert {stays.pk, in_group.pk, no_gps.pk, closed.pk}.isdisjoint({m.case_id for m in plan.moves})


def test_reassigning_moves_area_path_owner_and_writes_an_event(geo, admin):
    case = file_case(geo, 2000, 500)  # category 1401: owned by the grid itself
    assert case.owner_area == geo["grid_a"] and case.grid_id == geo["grid_a"].pk
    result = boundary_split(
        area=geo["grid_a"],
        remaining=rect(0, 0, 1500, 6000),
        author=admin,
        new_code=geo["village_a"].code + "002",
        new_name="梦姑塘第二网格",
    )
    version_before = case.version
    done = reassign_cases(root=geo["village_a"], actor=admin)
    assert [m.case_id for m in done] == [case.pk]
    case.refresh_from_db()
    new_grid = result.target
    assert case.area == new_grid and case.grid_id == new_grid.pk and case.village_id == geo["village_a"].pk
    assert case.owner_area == new_grid
    assert case.version == version_before + 1
    event = case.events.order_by("-seq").first()
    assert event.action == Action.REASSIGN_AREA and event.actor == admin
    assert event.note == "边界调整，所属网格由 梦姑塘第一网格 改为 梦姑塘第二网格"
    assert event.owner_before == "梦姑塘第一网格" and event.owner_after == "梦姑塘第二网格"
    assert event.data["old_area_id"] == geo["grid_a"].pk
    # Nothing left to move; running it again changes nothing.
    assert reassignment_plan(root=geo["village_a"]).moves == []
    assert reassign_cases(root=geo["village_a"], actor=admin) == []


def test_an_owner_above_the_grid_stays(geo, admin):
    case = file_case(geo, 2000, 500, code="0202")  # a town-level category: owned by the town
    boundary_split(
        area=geo["grid_a"],
        remaining=rect(0, 0, 1500, 6000),
        author=admin,
        new_code=geo["village_a"].code + "002",
        new_name="二网格",
    )
    reassign_cases(root=geo["village_a"], actor=admin)
    case.refresh_from_db()
    assert case.owner_area == geo["town_a"] and case.area.name == "二网格"


def test_only_the_cases_ticked_in_the_preview_move(geo, admin):
    a = file_case(geo, 2000, 500)
    b = file_case(geo, 2200, 500)
    boundary_split(
        area=geo["grid_a"],
        remaining=rect(0, 0, 1500, 6000),
        author=admin,
        new_code=geo["village_a"].code + "002",
        new_name="二网格",
    )
    done = reassign_cases(root=geo["village_a"], actor=admin, case_ids=[b.pk])
    assert [m.case_id for m in done] == [b.pk]
    a.refresh_from_db()
    assert a.area == geo["grid_a"]


def test_a_case_outside_every_grid_is_listed_as_not_placed(geo, admin):
    file_case(geo, 4000, 500)  # inside the village, outside every grid
    plan = reassignment_plan(root=geo["village_a"])
    assert plan.moves == [] and len(plan.unplaced) == 1


def test_case_reassign_area_is_a_no_op_for_the_same_area(geo, admin):
    case = file_case(geo, 500, 500)
    events = case.events.count()
    case_reassign_area(case_id=case.pk, area=geo["grid_a"], actor=admin)
    assert case.events.count() == events


def test_reassign_page_previews_then_applies(geo, admin, client):
    case = file_case(geo, 2000, 500)
    boundary_split(
        area=geo["grid_a"],
        remaining=rect(0, 0, 1500, 6000),
        author=admin,
        new_code=geo["village_a"].code + "002",
        new_name="二网格",
    )
    client.force_login(admin)
    url = reverse("boundaries:reassign", args=[geo["village_a"].pk])
    page = client.get(url)
    html = page.content.decode()
    assert page.status_code == 200 and f'data-case="{case.number}"' in html and "户没有登记经纬度" in html
    case.refresh_from_db()
    assert case.area == geo["grid_a"]  # the preview wrote nothing
    response = client.post(url, {"case": [case.pk]})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.area.name == "二网格"
    assert 'id="no-moves"' in client.get(url).content.decode()


def test_reassign_page_is_for_admins(geo, client):
    client.force_login(geo.users[Role.CENTRE_STAFF])
    assert client.get(reverse("boundaries:reassign", args=[geo["village_a"].pk])).status_code == 403
