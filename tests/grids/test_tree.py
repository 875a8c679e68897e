"""The area tree: level rules, refused deletes, moves that carry their records along, and
concurrent writers that leave a valid tree."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from grids.choices import AreaLevel
from grids.models import Area, Household, Resident
from tests.factories import area

pytestmark = pytest.mark.django_db


def tree_fields():
    return list(Area.objects.order_by("pk").values_list("pk", "tree_id", "lft", "rght", "depth", "parent_id"))


def assert_tree_valid():
    before = tree_fields()
    Area.objects.rebuild()
    assert tree_fields() == before, "rebuild() changed lft/rght: the tree was corrupt"


def test_child_level_must_be_below_parent_level(tree):
    bad = Area(code="330127100001001", name="错层", level=AreaLevel.TOWN, parent=tree["zone_a"])
    with pytest.raises(ValidationError) as info:
        bad.full_clean()
    assert "层级顺序错误" in str(info.value.message_dict["level"])


def test_levels_may_be_skipped(tree):
    special = Area(code="330127101801", name="景区专属网格", level=AreaLevel.SPECIAL_GRID, parent=tree["town_b"])
    special.full_clean()


def test_statistical_codes_have_fixed_lengths_and_others_extend_the_parent(tree):
    with pytest.raises(ValidationError) as info:
        Area(code="3301271009", name="镇", level=AreaLevel.TOWN, parent=tree["county"]).full_clean()
    assert "9 位" in str(info.value.message_dict["code"])
    with pytest.raises(ValidationError) as info:
        Area(code="999999999001", name="片", level=AreaLevel.ZONE, parent=tree["town_a"]).full_clean()
    assert "330127100" in str(info.value.message_dict["code"])


def test_cannot_move_an_area_under_its_own_descendant(tree):
    zone = tree["zone_a"]
    zone.parent = tree["grid_a"]
    with pytest.raises(ValidationError):
        zone.full_clean()


@pytest.mark.parametrize(
    ("key", "fragment"),
    [("town_a", "下级区域"), ("group_a", "户"), ("special_a", "户")],
)
def test_deleting_an_area_in_use_is_refused_with_a_clear_message(tree, key, fragment):
    node = tree[key]
    count = Area.objects.count()
    with pytest.raises(ValidationError) as info:
        node.delete()
    assert fragment in " ".join(info.value.messages)
    assert "不能删除" in " ".join(info.value.messages)
    assert Area.objects.count() == count


def test_deleting_an_empty_leaf_works_and_keeps_the_tree_valid(tree):
    leaf = area("330127101001002", "空网格", AreaLevel.GRID, tree["zone_b"])
    leaf.delete()
    assert not Area.objects.filter(code="330127101001002").exists()
    assert_tree_valid()


def test_moving_a_grid_moves_its_households_and_residents(tree):
    grid = tree["grid_a"]
    grid.parent = tree["zone_b"]
    grid.save()
    for key in ("grid_a", "group_a"):
        hh = Household.objects.get(pk=tree.households[key].pk)
        assert (hh.town_id, hh.zone_id, hh.village_id, hh.grid_id) == (
            tree["town_b"].pk,
            tree["zone_b"].pk,
            None,
            grid.pk,
        )
        assert Resident.objects.get(pk=tree.residents[key].pk).town_id == tree["town_b"].pk
    assert_tree_valid()


def test_move_to_from_the_admin_drag_and_drop_refreshes_paths(tree):
    tree["grid_a"].move_to(tree["zone_b"], "last-child")
    assert Household.objects.get(pk=tree.households["grid_a"].pk).town_id == tree["town_b"].pk
    assert_tree_valid()


def test_inserting_with_a_stale_parent_instance_keeps_the_tree_valid(tree):
    stale_town = Area.objects.get(pk=tree["town_a"].pk)
    area("330127100003", "新片区一", AreaLevel.ZONE, tree["town_a"])  # shifts lft/rght
    area("330127100004", "新片区二", AreaLevel.ZONE, stale_town)  # uses stale lft/rght in memory
    assert_tree_valid()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_moves_leave_a_valid_tree():
    """Eight threads, each with its own connection, move grids between zones at the same time."""
    county = area("330128", "测试县", AreaLevel.COUNTY)
    towns = [area(f"330128{100 + i}", f"镇{i}", AreaLevel.TOWN, county) for i in range(2)]
    zones = [
        area(f"{t.code}{900 + j}", f"片区{i}{j}", AreaLevel.ZONE, t) for i, t in enumerate(towns) for j in range(2)
    ]
    grids = [area(f"{z.code}{k:03d}", f"网格{z.pk}-{k}", AreaLevel.GRID, z) for z in zones for k in range(1, 5)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker(n: int) -> None:
        try:
            barrier.wait()
            for step in range(6):
                grid = Area.objects.get(pk=grids[(n * 3 + step) % len(grids)].pk)
                target = Area.objects.get(pk=zones[(n + step) % len(zones)].pk)
                if grid.parent_id != target.pk:
                    grid.parent = target
                    grid.save()
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert_tree_valid()
    assert Area.objects.filter(level=AreaLevel.GRID, parent__in=zones).count() == len(grids)
