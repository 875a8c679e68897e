"""What a boundary save accepts, repairs, refuses and reports (tolerance 5 m)."""

import itertools

import pytest

from grids.boundaries import BoundaryInvalid, area_m2, boundary_save, check_boundary, from_geojson
from tests.boundaries.conftest import add_grid, lonlat, polygon, rect

pytestmark = pytest.mark.django_db


def codes(issues) -> list[str]:
    return [i.code for i in issues]


def test_a_clean_grid_inside_its_village_passes_and_reports_the_gap_it_leaves(geo):
    # Given the village x 0–5000 and grid_a x 0–2500, when a new grid takes x 2500–4000
    new = add_grid(geo, "002", "梦姑塘第二网格")
    check = check_boundary(new, rect(2500, 0, 4000, 6000))
    # Then it is valid, and the village's strip x 4000–5000 is reported as a gap (not refused).
    assert check.ok, check.errors
    assert check.area_m2 == pytest.approx(1500 * 6000, rel=1e-3)
    gaps = [w for w in check.warnings if w.code == "gaps"]
    assert len(gaps) == 1 and "梦姑塘村" in gaps[0].message and "公顷（1 处）" in gaps[0].message
    assert area_m2(from_geojson(gaps[0].geometry)) == pytest.approx(1000 * 6000, rel=1e-3)


def test_filling_the_whole_village_reports_no_gap(geo):
    new = add_grid(geo, "002", "梦姑塘第二网格")
    check = check_boundary(new, rect(2500, 0, 5000, 6000))
    assert check.ok and "gaps" not in codes(check.warnings)


def test_bow_tie_is_refused_with_the_place_of_the_crossing(geo):
    new = add_grid(geo, "002", "二网格")
    bow_tie = polygon((2600, 100), (4000, 1500), (4000, 100), (2600, 1500))
    check = check_boundary(new, bow_tie)
    assert not check.ok
    assert codes(check.errors) == ["self_intersection"]
    message = check.errors[0].message
    assert "自相交" in message and "2 块" in message
    lon, lat = lonlat(3300, 800)  # the crossing
    assert f"{lon:.3f}"[:7] in message and f"{lat:.3f}"[:5] in message
    with pytest.raises(BoundaryInvalid):
        boundary_save(area=new, geometry=bow_tie, author=None)
    new.refresh_from_db()
    assert new.boundary is None and not new.boundary_versions.exists()


def test_a_tiny_loop_at_a_corner_is_repaired_and_the_save_says_so(geo):
    # The ring crosses itself just below the top-left corner, leaving a 2 m² knot.
    new = add_grid(geo, "002", "二网格")
    knotted = polygon((2600, 100), (4000, 100), (4000, 1500), (2600, 1500), (2602, 1502), (2602, 1498))
    check = check_boundary(new, knotted)
    assert check.ok and check.repaired
    assert codes(check.warnings)[0] == "repaired"
    assert "已自动修复" in check.warnings[0].message
    assert check.geometry.is_valid and check.geometry.geom_type == "Polygon"
    result = boundary_save(area=new, geometry=knotted, author=None)
    assert result.version.number == 1 and from_geojson(result.version.geometry).is_valid


def test_overlap_with_a_sibling_is_refused_and_drawn(geo):
    new = add_grid(geo, "002", "二网格")
    check = check_boundary(new, rect(2400, 0, 5000, 6000))  # 100 m into grid_a
    assert codes(check.errors) == ["overlap"]
    assert "梦姑塘第一网格" in check.errors[0].message and "60 公顷" not in check.errors[0].message
    assert "600000" not in check.errors[0].message  # area shown in 公顷 above 1 ha
    assert check.errors[0].geometry is not None


def test_a_hand_drawn_shared_edge_sliver_is_allowed_with_a_warning(geo):
    new = add_grid(geo, "002", "二网格")
    check = check_boundary(new, rect(2497, 0, 5000, 6000))  # 3 m into grid_a along 6 km
    assert check.ok
    assert "sliver_overlap" in codes(check.warnings)


def test_outside_the_parent_beyond_the_tolerance_is_refused(geo):
    new = add_grid(geo, "002", "二网格")
    check = check_boundary(new, rect(2500, 0, 5020, 6000))  # 20 m past the village's east edge
    assert codes(check.errors) == ["outside_parent"]
    assert "梦姑塘村" in check.errors[0].message and "20.0 米" in check.errors[0].message


def test_outside_the_parent_within_the_tolerance_is_accepted(geo):
    new = add_grid(geo, "002", "二网格")
    check = check_boundary(new, rect(2500, 0, 5003, 6000))  # 3 m past: drawing noise
    assert check.ok, check.errors


@pytest.mark.parametrize(
    ("geometry", "code"),
    [
        (None, "empty"),
        ({"type": "Polygon", "coordinates": []}, "empty"),
        ({"type": "Point", "coordinates": [119.0, 29.6]}, "bad_type"),
        ({"type": "Polygon", "coordinates": [[[119.0, 29.6], [119.01, 29.6]]]}, "too_few_points"),
        ({"type": "Polygon", "coordinates": [[[119.0, "29.6"], [119.01, 29.6], [119.0, 29.61]]]}, "bad_position"),
        ("{not json", "bad_geojson"),
    ],
)
def test_unreadable_geometry_is_refused_with_a_reason(geo, geometry, code):
    new = add_grid(geo, "002", "二网格")
    check = check_boundary(new, geometry)
    assert not check.ok and codes(check.errors) == [code]
    assert check.errors[0].message  # a Chinese sentence


def test_latitude_and_longitude_swapped_is_detected_relative_to_the_parent(geo):
    new = add_grid(geo, "002", "二网格")
    good = rect(2500, 0, 4000, 6000)
    swapped = {"type": "Polygon", "coordinates": [[[lat, lon] for lon, lat in good["coordinates"][0]]]}
    check = check_boundary(new, swapped)
    assert codes(check.errors) == ["coords_swapped"]
    assert "上级" in check.errors[0].message and "[经度, 纬度]" in check.errors[0].message


def test_latitude_and_longitude_swapped_is_detected_without_a_parent_boundary(tree):
    # No boundaries at all: China's bounding box tells.
    good = rect(0, 0, 1000, 1000)
    swapped = {"type": "Polygon", "coordinates": [[[lat, lon] for lon, lat in good["coordinates"][0]]]}
    check = check_boundary(tree["grid_a"], swapped)
    assert codes(check.errors) == ["coords_swapped"]
    assert "经纬度顺序颠倒" in check.errors[0].message


def test_projected_metre_coordinates_are_refused_as_outside_china(tree):
    metres = {
        "type": "Polygon",
        "coordinates": [[[500000, 3300000], [501000, 3300000], [501000, 3301000], [500000, 3300000]]],
    }
    check = check_boundary(tree["grid_a"], metres)
    assert codes(check.errors) == ["outside_china"]
    assert "WGS 84" in check.errors[0].message


def test_a_parent_without_boundary_is_a_warning_not_an_error(tree):
    check = check_boundary(tree["grid_a"], rect(0, 0, 1000, 1000))
    assert check.ok
    assert "parent_without_boundary" in codes(check.warnings)


def test_too_small_is_refused(geo):
    new = add_grid(geo, "002", "二网格")
    check = check_boundary(new, rect(3000, 3000, 3004, 3004))  # 16 m² < 5 m × 5 m
    assert codes(check.errors) == ["too_small"]


def test_shrinking_a_grid_warns_about_children_left_outside(geo, admin):
    boundary_save(area=geo["group_a"], geometry=rect(0, 0, 2500, 3000), author=admin)
    check = check_boundary(geo["grid_a"], rect(0, 0, 2500, 2000))
    assert check.ok
    assert "child_outside" in codes(check.warnings)
    assert any("上村组" in w.message for w in check.warnings)


def test_overlapping_parts_of_a_multipolygon_are_merged(geo):
    new = add_grid(geo, "002", "二网格")
    a, b = rect(2500, 0, 4000, 3000), rect(3500, 2000, 5000, 6000)
    multi = {"type": "MultiPolygon", "coordinates": [a["coordinates"], b["coordinates"]]}
    check = check_boundary(new, multi)
    assert check.ok and "parts_merged" in codes(check.warnings)
    assert check.geometry.geom_type == "Polygon"


def test_stored_geometry_is_rounded_and_counter_clockwise(geo, admin):
    new = add_grid(geo, "002", "二网格")
    clockwise = rect(2500, 0, 4000, 6000)
    clockwise["coordinates"][0].reverse()
    clockwise["coordinates"][0][0][0] += 1e-12
    boundary_save(area=new, geometry=clockwise, author=admin)
    new.refresh_from_db()
    outer = new.boundary["coordinates"][0]
    area2 = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in itertools.pairwise(outer))
    assert area2 > 0  # counter-clockwise
    assert all(len(repr(v).split(".")[-1]) <= 7 for p in outer for v in p)


def test_a_hole_outside_its_shell_is_refused_in_chinese(geo):
    new = add_grid(geo, "002", "二网格")
    bad = rect(2500, 0, 4000, 3000, (4100, 100, 4200, 200))  # the "hole" lies east of the shell
    check = check_boundary(new, bad)
    assert codes(check.errors) == ["invalid_geometry"]
    assert "内环（空洞）在外环之外" in check.errors[0].message
