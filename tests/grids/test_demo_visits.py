"""Demo household visits (gridgov.demo_visits): visits a worker could have made, on working days,
with key households covered month by month, and the same seed giving the same visits."""

import datetime as dt
from collections import Counter

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from cases import calendar
from cases.worker.selectors import key_households_q
from gridgov.demo_visits import KEY_TOPICS, TOPICS, VisitHistoryBuilder
from grids.models import Household
from grids.paths import PATH_FIELDS
from grids.visits import Visit
from staff.choices import Role
from staff.models import Post

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_calendar")]
TODAY = dt.date(2026, 11, 25)


def _build(**kwargs):
    return VisitHistoryBuilder(days=60, seed=4, today=TODAY, log=lambda *a: None, **kwargs).build()


def test_every_visit_is_one_the_grid_worker_could_have_made(demo_place):
    stats = _build()
    visits = list(Visit.objects.select_related("household"))
    assert stats["visits"] == len(visits) > 0
    workers = set(Post.objects.filter(role=Role.GRID_WORKER, is_active=True).values_list("user_id", "area_id"))
    first = TODAY - dt.timedelta(days=60)
    for v in visits:
        h = v.household
        assert v.area_id == h.area_id
        assert all(getattr(v, f"{f}_id") == getattr(h, f"{f}_id") for f in PATH_FIELDS)
        assert (v.visitor_id, h.grid_id) in workers
        assert first <= v.date < TODAY
        assert calendar.is_workday(v.date), v.date
        assert v.discussed in TOPICS + KEY_TOPICS


def test_routine_visits_stay_within_a_day_s_walk_and_key_households_are_covered_each_month(demo_place):
    stats = _build(per_day=(1, 3), key_share=0.9)
    routine = Counter(
        (row["grid_id"], row["date"]) for row in Visit.objects.filter(discussed__in=TOPICS).values("grid_id", "date")
    )
    assert routine and max(routine.values()) <= 3
    key = set(Household.objects.filter(is_active=True).filter(key_households_q()).values_list("pk", flat=True))
    assert key, "the demo place has key households"
    months = {(d.year, d.month) for d in Visit.objects.values_list("date", flat=True)}
    assert len(months) >= 2
    for year, month in months:
        visited = set(
            Visit.objects.filter(date__year=year, date__month=month, discussed__in=KEY_TOPICS).values_list(
                "household_id", flat=True
            )
        )
        assert visited <= key
        share = len(visited) / len(key)
        assert 0.75 <= share < 1 or len(key) < 20, (year, month, share)
    assert stats["key_visits"] == Visit.objects.filter(discussed__in=KEY_TOPICS).count()


def test_the_same_seed_gives_the_same_visits(demo_place):
    _build()
    first = list(Visit.objects.order_by("id").values_list("household_id", "visitor_id", "date", "discussed"))
    Visit.objects.all().delete()
    _build()
    again = list(Visit.objects.order_by("id").values_list("household_id", "visitor_id", "date", "discussed"))
    assert first == again


def test_seed_demo_records_the_visits_of_the_days_asked_for(db):
    call_command("seed_demo", "--cases", "0", "--visit-days", "14", stdout=open("/dev/null", "w"))
    dates = set(Visit.objects.values_list("date", flat=True))
    today = timezone.localdate()
    assert dates and min(dates) >= today - dt.timedelta(days=14) and max(dates) < today
    assert dates == {d for d in dates if calendar.is_workday(d)}


def test_seed_demo_without_visit_days_records_none_and_refuses_a_negative_count(db):
    with pytest.raises(CommandError, match="--visit-days"):
        call_command("seed_demo", "--visit-days", "-1", stdout=open("/dev/null", "w"))
    call_command("seed_demo", "--cases", "0", "--visit-days", "0", stdout=open("/dev/null", "w"))
    assert Household.objects.exists() and not Visit.objects.exists()
