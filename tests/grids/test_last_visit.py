"""Household.last_visited_on follows the visits through every kind of write (database triggers,
grids migration 0005), on PostgreSQL and on SQLite."""

import datetime as dt

import pytest

from grids.paths import set_path
from grids.visits import Visit
from staff.choices import Role

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 11, 2)


def _visit(tree, key: str, day: dt.date) -> Visit:
    h = tree.households[key]
    v = Visit(household=h, visitor=tree.users[Role.GRID_WORKER], date=day, discussed="走访", area=h.area)
    set_path(v)
    return v


def _latest(tree, key: str):
    h = tree.households[key]
    h.refresh_from_db(fields=["last_visited_on"])
    return h.last_visited_on


def test_the_latest_visit_date_follows_saves_bulk_writes_updates_and_deletes(tree):
    assert _latest(tree, "grid_a") is None
    first = _visit(tree, "grid_a", DAY)
    first.save()
    assert _latest(tree, "grid_a") == DAY
    Visit.objects.bulk_create([_visit(tree, "grid_a", DAY + dt.timedelta(days=3)), _visit(tree, "grid_b", DAY)])
    assert (_latest(tree, "grid_a"), _latest(tree, "grid_b")) == (DAY + dt.timedelta(days=3), DAY)
    # An earlier visit recorded late does not move the date back.
    _visit(tree, "grid_a", DAY - dt.timedelta(days=9)).save()
    assert _latest(tree, "grid_a") == DAY + dt.timedelta(days=3)
    Visit.objects.filter(household=tree.households["grid_a"], date__gt=DAY).update(date=DAY + dt.timedelta(days=7))
    assert _latest(tree, "grid_a") == DAY + dt.timedelta(days=7)
    # A visit booked to the wrong household and corrected: both households recomputed.
    Visit.objects.filter(household=tree.households["grid_b"]).update(household=tree.households["group_a"])
    assert (_latest(tree, "grid_b"), _latest(tree, "group_a")) == (None, DAY)
    Visit.objects.filter(household=tree.households["grid_a"], date__gt=DAY).delete()
    assert _latest(tree, "grid_a") == DAY
    first.delete()
    assert _latest(tree, "grid_a") == DAY - dt.timedelta(days=9)
    Visit.objects.filter(household=tree.households["grid_a"]).delete()
    assert _latest(tree, "grid_a") is None
