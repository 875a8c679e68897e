"""Every change is a version; Area.boundary mirrors the one in force; history and comparison."""

import datetime as dt
import re

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from grids.boundaries import (
    BoundaryError,
    boundary_remove,
    boundary_save,
    compare_versions,
    current_version,
    from_geojson,
    sync_effective_boundaries,
)
from grids.boundary_models import BoundaryVersion
from grids.models import Area
from tests.boundaries.conftest import add_grid, rect

pytestmark = pytest.mark.django_db


def test_each_save_is_a_new_numbered_version_and_the_area_mirrors_the_latest(geo, admin):
    grid = geo["grid_a"]
    boundary_save(area=grid, geometry=rect(0, 0, 2000, 6000), author=admin, note="缩小")
    grid.refresh_from_db()
    versions = list(grid.boundary_versions.order_by("number"))
    assert [v.number for v in versions] == [1, 2]
    assert versions[1].note == "缩小" and versions[1].author == admin
    assert versions[1].area_m2 == pytest.approx(2000 * 6000, rel=1e-3)
    assert grid.boundary == versions[1].geometry
    assert current_version(grid) == versions[1]


def test_saving_the_same_boundary_again_writes_nothing(geo, admin):
    result = boundary_save(area=geo["grid_a"], geometry=geo["grid_a"].boundary, author=admin)
    assert result.version is None
    assert [w.code for w in result.check.warnings][-1] == "unchanged"
    assert geo["grid_a"].boundary_versions.count() == 1


def test_versions_cannot_be_edited():
    version = BoundaryVersion(number=1)
    version.pk = 1
    version._state.adding = False
    with pytest.raises(Exception, match="不可修改"):
        version.save()


def test_a_future_version_takes_over_on_its_date(geo, admin):
    grid = geo["grid_a"]
    before = grid.boundary
    start = timezone.localdate() + dt.timedelta(days=10)
    result = boundary_save(area=grid, geometry=rect(0, 0, 2000, 6000), author=admin, effective_from=start)
    assert "future" in [w.code for w in result.check.warnings]
    grid.refresh_from_db()
    assert grid.boundary == before  # still the old one until then
    with time_machine.travel(dt.datetime.combine(start, dt.time(0, 30), tzinfo=timezone.get_current_timezone())):
        assert sync_effective_boundaries() == 1
        grid.refresh_from_db()
        assert grid.boundary == result.version.geometry
        assert sync_effective_boundaries() == 0  # harmless when run twice


def test_a_version_may_not_take_effect_before_the_one_in_force(geo, admin):
    grid = geo["grid_a"]
    with pytest.raises(BoundaryError) as exc:
        boundary_save(
            area=grid,
            geometry=rect(0, 0, 2000, 6000),
            author=admin,
            effective_from=timezone.localdate() - dt.timedelta(days=1),
        )
    assert exc.value.code == "effective_too_early"
    assert grid.boundary_versions.count() == 1


def test_a_boundary_entered_before_versioning_becomes_version_one(tree, admin):
    grid = tree["grid_a"]
    Area.objects.filter(pk=grid.pk).update(boundary=rect(0, 0, 1000, 1000))
    grid.refresh_from_db()
    boundary_save(area=grid, geometry=rect(0, 0, 2000, 1000), author=admin)
    versions = list(grid.boundary_versions.order_by("number"))
    assert [v.number for v in versions] == [1, 2]
    assert versions[0].geometry == rect(0, 0, 1000, 1000) or from_geojson(versions[0].geometry).equals(
        from_geojson(rect(0, 0, 1000, 1000))
    )


def test_removing_a_boundary_is_a_version_without_geometry(geo, admin):
    version = boundary_remove(area=geo["grid_a"], author=admin, note="撤销")
    geo["grid_a"].refresh_from_db()
    assert version.geometry is None and version.number == 2
    assert geo["grid_a"].boundary is None


def test_compare_reports_area_difference_and_what_was_added_and_removed(geo, admin):
    grid = geo["grid_a"]
    boundary_save(area=grid, geometry=rect(0, 0, 2000, 6500 - 500), author=admin)  # x 0–2000
    v1, v2 = grid.boundary_versions.order_by("number")
    cmp = compare_versions(v1, v2)
    assert cmp.area_a_m2 == pytest.approx(2500 * 6000, rel=1e-3)
    assert cmp.area_b_m2 == pytest.approx(2000 * 6000, rel=1e-3)
    assert cmp.difference_m2 == pytest.approx(-500 * 6000, rel=1e-3)
    assert cmp.removed_m2 == pytest.approx(500 * 6000, rel=1e-3)
    assert cmp.added_m2 == pytest.approx(0, abs=1)
    assert cmp.removed is not None and cmp.added is None


def test_history_and_compare_pages(geo, admin, client):
    grid = geo["grid_a"]
    boundary_save(area=grid, geometry=rect(0, 0, 2000, 6000), author=admin, note="第二版说明")
    client.force_login(admin)
    page = client.get(reverse("boundaries:history", args=[grid.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-version="2"' in html and 'data-version="1"' in html and "第二版说明" in html
    page = client.get(reverse("boundaries:compare", args=[grid.pk]), {"a": 1, "b": 2})
    assert page.status_code == 200
    html = page.content.decode()
    shown = re.search(r'data-figure="difference">(-?[\d,]+) ㎡', html)
    assert shown and int(shown.group(1).replace(",", "")) == pytest.approx(-500 * 6000, rel=1e-3)
    assert 'id="boundary-config"' in html
    # A bad pair goes back to the history with a message.
    page = client.get(reverse("boundaries:compare", args=[grid.pk]), {"a": 1, "b": 9})
    assert page.status_code == 302


def test_history_of_another_towns_area_is_not_found(geo, client):
    client.force_login(geo.users["worker_b"])
    assert client.get(reverse("boundaries:history", args=[geo["grid_a"].pk])).status_code == 404


def test_new_area_without_versions_has_no_current_version(tree):
    new = add_grid(tree, "002", "二网格")
    assert current_version(new) is None
