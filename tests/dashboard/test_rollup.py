"""The dashboard rollup (cases/dashboard/rollup.py) against the live queries it replaces.

Random cases — every state, kind, source, area level, with deadlines, closures, ratings and
acceptances scattered around "now" (including earlier and later today) — are written, changed in
bulk, moved between towns, deleted and compacted; after each step the county and town pages' figures read
through the rollup must equal the figures read live from cases_case, for periods in the past,
ending today, starting today and lying in the future."""

from __future__ import annotations

import datetime as dt
import random
import threading
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.db.models import Max, Sum
from django.utils import timezone

from cases.choices import CaseKind, CaseState, Rating, Source
from cases.dashboard import rollup, selectors
from cases.dashboard.kpis import Period
from cases.dashboard.rollup_models import (
    DAY_COLUMNS,
    OPEN_COLUMNS,
    PAIR_COLUMNS,
    CaseClosePair,
    CaseDayStat,
    CaseOpenStat,
    HouseholdStat,
)
from cases.models import Case, Category
from grids.models import Area, Household
from grids.paths import set_path
from grids.visits import Visit
from staff.choices import Role

SH = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 20, 15, 30, tzinfo=SH)
TODAY = NOW.date()


def test_the_stored_columns_are_the_dated_measures():
    """Adding a dated measure to kpis.py without a column (and a migration) fails here."""
    assert {name for name, _, _ in rollup.day_columns()} == set(DAY_COLUMNS)
    assert {name for name, _ in rollup.pair_columns()} == set(PAIR_COLUMNS)
    assert {name for name, _ in rollup.open_columns()} == set(OPEN_COLUMNS)


def _periods() -> list[Period]:
    d = dt.timedelta
    return [
        Period(TODAY - d(29), TODAY, NOW),  # the default page: the last 30 days
        Period(TODAY - d(30), TODAY - d(10), NOW),  # wholly in the past
        Period(TODAY, TODAY, NOW),  # today only: deadlines before now count, later ones not yet
        Period(TODAY - d(3), TODAY + d(5), NOW),  # runs past today
        Period(TODAY + d(1), TODAY + d(4), NOW),  # wholly in the future
        Period(TODAY - d(60), TODAY + d(12), NOW),  # everything
    ]


def _maybe(rng, p, value):
    return value if rng.random() < p else None


def _random_case(rng, n, areas, categories, reporter) -> Case:
    created = NOW - dt.timedelta(minutes=rng.randrange(0, 45 * 24 * 60))
    state = rng.choice(list(CaseState))
    closed = state == CaseState.CLOSED or rng.random() < 0.05  # a few odd rows: closed_at on an open case
    handle_due = _maybe(rng, 0.8, created + dt.timedelta(minutes=rng.randrange(-24 * 60, 10 * 24 * 60)))
    rated = closed and rng.random() < 0.6
    case = Case(
        number=f"R{n:08d}",
        source=rng.choice(list(Source)),
        kind=CaseKind.INFORMATION if rng.random() < 0.15 else CaseKind.PROBLEM,
        category=rng.choice(categories),
        title=f"随机事件 {n}",
        description="属性测试",
        reporter=reporter,
        area=rng.choice(areas),
        state=state,
        created_at=created,
        closed_at=created + dt.timedelta(minutes=rng.randrange(0, 12 * 24 * 60)) if closed else None,
        handle_due_at=handle_due,
        closed_on_time=rng.choice([True, False, None]),
        accepted_at=_maybe(rng, 0.7, created + dt.timedelta(minutes=rng.randrange(0, 3 * 24 * 60))),
        accepted_on_time=rng.choice([True, False, None]),
        rated_at=created + dt.timedelta(days=rng.randrange(0, 15)) if rated else None,
        rating=rng.choice(list(Rating)) if rated else rng.choice(["", "", "", Rating.SATISFIED]),
        extension_count=rng.choice([0, 0, 0, 1]),
        rework_count=rng.choice([0, 0, 1]),
        dispatch_count=rng.choice([0, 1, 2]),
        return_count=rng.choice([0, 0, 1]),
        is_overdue=rng.random() < 0.3,
        is_supervised=rng.random() < 0.2,
        due_at=NOW + dt.timedelta(hours=rng.randrange(-48, 96)),
    )
    set_path(case)
    return case


def _page(user, node, period, settings, use_rollup: bool, **filters):
    settings.GRIDGOV_CASE_ROLLUP = use_rollup
    f = selectors.Filters(node, period, **filters)
    assert rollup.serves(user, node) is use_rollup
    b = selectors.breakdown(user, f)
    return {
        "total": b.total.counts,
        "children": {r.area.pk: r.counts for r in b.children},
        "other": b.other.counts if b.other else None,
        "categories": b.categories,
        "sources": b.sources,
        "trend": selectors.trend(user, f),
    }


def _categories() -> list[Category]:
    """Two 小类 from each of two 大类, so that a 大类 filter keeps some cases and drops others."""
    chosen = []
    for parent in Category.objects.filter(parent__isnull=True).order_by("code")[:2]:
        chosen += list(Category.objects.filter(parent=parent).order_by("code")[:2])
    return chosen


def _filters() -> list[dict]:
    leaf = _categories()[0]
    return [
        {"category": leaf.parent.code},  # a 大类: everything under it
        {"category": leaf.code},
        {"source": Source.HOTLINE},
        {"category": leaf.parent.code, "source": Source.PATROL},
    ]


def _assert_same(tree, settings, label: str) -> None:
    user = tree.users[Role.COUNTY_OFFICIAL]
    variants = [(p, {}) for p in _periods()] + [(p, f) for p in _periods()[:3] for f in _filters()]
    for key in ("county", "town_a", "town_b"):
        node = Area.objects.get(pk=tree[key].pk)
        for period, filters in variants:
            live = _page(user, node, period, settings, use_rollup=False, **filters)
            rolled = _page(user, node, period, settings, use_rollup=True, **filters)
            for part in live:
                assert rolled[part] == live[part], (label, key, period.date_from, period.date_to, filters, part)


def _stored(model, keys, columns) -> dict:
    rows = model.objects.values(*keys).annotate(**{c: Sum(c) for c in columns}).order_by()
    return {tuple(r[k] for k in keys): tuple(r[c] for c in columns) for r in rows if any(r[c] for c in columns)}


@pytest.mark.postgres
def test_the_rollup_gives_the_live_figures_through_every_kind_of_write(tree, settings):
    rng = random.Random(20261120)
    areas = [tree[k] for k in ("county", "town_a", "zone_a", "village_a", "grid_a", "group_a", "special_a", "grid_b")]
    categories = _categories()
    assert len({c.parent_id for c in categories}) == 2
    reporter = tree.users[Role.GRID_WORKER]
    Case.objects.bulk_create([_random_case(rng, n, areas, categories, reporter) for n in range(400)])
    assert Case.objects.count() == 400
    _assert_same(tree, settings, "after insert")

    # Bulk changes of the kind the engine makes: states, closures, ratings, extensions, deadlines.
    ids = list(Case.objects.values_list("id", flat=True))
    Case.objects.filter(id__in=rng.sample(ids, 60)).update(state=CaseState.CLOSED, closed_at=NOW, closed_on_time=True)
    Case.objects.filter(id__in=rng.sample(ids, 40)).update(rating=Rating.UNSATISFIED, rated_at=NOW)
    Case.objects.filter(id__in=rng.sample(ids, 40)).update(extension_count=2, handle_due_at=NOW + dt.timedelta(hours=1))
    Case.objects.filter(id__in=rng.sample(ids, 30)).update(handle_due_at=NOW - dt.timedelta(hours=2))
    Case.objects.filter(id__in=rng.sample(ids, 30)).update(merged_into_id=ids[0])
    # Row by row, as case_act saves.
    for case in Case.objects.filter(id__in=rng.sample(ids, 25)):
        case.state = rng.choice(list(CaseState))
        case.dispatch_count += 1
        case.return_count += 1
        case.save()
    _assert_same(tree, settings, "after updates")

    # Cases moved to the other town (a boundary change rewrites their path columns).
    moved = list(Case.objects.filter(town_id=tree["town_a"].pk).order_by("id")[:50])
    for case in moved:
        case.area = tree["grid_b"]
        set_path(case)
    Case.objects.bulk_update(moved, ["area", "county", "town", "zone", "village", "grid"])
    Case.objects.filter(id__in=rng.sample(ids, 20)).exclude(merged_into_id__isnull=False).exclude(id=ids[0]).delete()
    _assert_same(tree, settings, "after moves and deletes")

    # Compaction folds the appended rows and changes no figure.
    before = CaseDayStat.objects.count()
    kept_days = _stored(CaseDayStat, ["day", "grain", *rollup.KEYS], DAY_COLUMNS)
    kept_pairs = _stored(CaseClosePair, ["closed_day", "deadline_day", "grain", *rollup.KEYS], PAIR_COLUMNS)
    kept_open = _stored(CaseOpenStat, ["grain", *rollup.KEYS], OPEN_COLUMNS)
    assert rollup.compact() is not None
    assert not CaseDayStat.objects.filter(compacted=False).exists()
    assert not CaseClosePair.objects.filter(compacted=False).exists()
    assert not CaseOpenStat.objects.filter(compacted=False).exists()
    assert CaseDayStat.objects.count() < before
    assert _stored(CaseDayStat, ["day", "grain", *rollup.KEYS], DAY_COLUMNS) == kept_days
    _assert_same(tree, settings, "after compaction")

    # Recounting from scratch gives what the triggers kept.
    rollup.rebuild()
    assert _stored(CaseDayStat, ["day", "grain", *rollup.KEYS], DAY_COLUMNS) == kept_days
    assert _stored(CaseClosePair, ["closed_day", "deadline_day", "grain", *rollup.KEYS], PAIR_COLUMNS) == kept_pairs
    assert _stored(CaseOpenStat, ["grain", *rollup.KEYS], OPEN_COLUMNS) == kept_open


@pytest.mark.postgres
def test_an_update_that_changes_no_count_appends_nothing(tree):
    categories = list(Category.objects.filter(parent__isnull=False).order_by("code")[:2])
    rng = random.Random(5)
    Case.objects.bulk_create(
        [_random_case(rng, n, [tree["grid_a"]], categories, tree.users[Role.GRID_WORKER]) for n in range(20)]
    )
    rows = CaseDayStat.objects.count(), CaseClosePair.objects.count(), CaseOpenStat.objects.count()
    Case.objects.update(reminder_count=3, title="改了标题", version=7)  # the sweep's reminders, a save's version
    assert (CaseDayStat.objects.count(), CaseClosePair.objects.count(), CaseOpenStat.objects.count()) == rows
    Case.objects.filter(pk=Case.objects.order_by("id").first().pk).update(source=Source.HOTLINE, state=CaseState.CLOSED)
    assert CaseDayStat.objects.count() > rows[0]


@pytest.mark.postgres
def test_truncating_the_cases_empties_the_counts(tree):
    categories = list(Category.objects.filter(parent__isnull=False).order_by("code")[:2])
    rng = random.Random(9)
    reporter = tree.users[Role.GRID_WORKER]
    Case.objects.bulk_create([_random_case(rng, n, [tree["grid_b"]], categories, reporter) for n in range(10)])
    assert CaseDayStat.objects.exists() and CaseOpenStat.objects.exists()
    with connection.cursor() as cur:
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # Django's deferred FK checks would block TRUNCATE
        cur.execute("TRUNCATE cases_case CASCADE")
    assert not CaseDayStat.objects.exists()
    assert not CaseClosePair.objects.exists()
    assert not CaseOpenStat.objects.exists()


@pytest.mark.postgres
def test_the_seeded_november_reads_the_same_both_ways(tree, november, settings):
    """The hand-computed fixture of test_kpis (built through the case services) at the county
    and at the town."""
    from .conftest import NOVEMBER

    user = tree.users[Role.COUNTY_OFFICIAL]
    for key, reported in (("county", 10), ("town_a", 9)):
        node = Area.objects.get(pk=tree[key].pk)
        live = _page(user, node, NOVEMBER, settings, use_rollup=False)
        rolled = _page(user, node, NOVEMBER, settings, use_rollup=True)
        assert rolled == live
        assert rolled["total"]["reported"] == reported


@pytest.mark.postgres
def test_county_and_town_pages_read_the_rollup_lower_ones_read_live(tree, settings):
    settings.GRIDGOV_CASE_ROLLUP = True
    county, town, zone = (Area.objects.get(pk=tree[k].pk) for k in ("county", "town_a", "zone_a"))
    official = tree.users[Role.COUNTY_OFFICIAL]
    assert rollup.serves(official, county)
    assert rollup.serves(official, town)
    assert rollup.serves(tree.users[Role.TOWN_LEADER], town)
    assert not rollup.serves(official, zone)
    assert not rollup.serves(tree.users[Role.TOWN_LEADER], county)  # outside the user's scope


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_and_compaction_lose_no_count(tree, settings):
    """Four connections file and close cases at once while compaction runs: the sums stay exact
    (rows are only ever appended, so no writer waits on a counter)."""
    categories = list(Category.objects.filter(parent__isnull=False).order_by("code")[:2])
    areas = [tree[k] for k in ("grid_a", "special_a", "grid_b")]
    reporter = tree.users[Role.GRID_WORKER]
    errors: list[BaseException] = []

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for batch in range(5):
                with transaction.atomic():
                    numbers = [seed * 1000 + batch * 10 + i for i in range(10)]
                    new = [_random_case(rng, n, areas, categories, reporter) for n in numbers]
                    made = Case.objects.bulk_create(new)
                    Case.objects.filter(id__in=[c.pk for c in made[:5]]).update(state=CaseState.CLOSED, closed_at=NOW)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    def compactor() -> None:
        try:
            for _ in range(10):
                rollup.compact()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(s,)) for s in (1, 2, 3, 4)] + [threading.Thread(target=compactor)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert Case.objects.count() == 200
    rollup.compact()
    closed = Case.objects.filter(state="closed").count()
    for grain in rollup.ALL_GRAINS:  # every grain holds every case once
        county = CaseDayStat.objects.filter(node_key=tree["county"].pk, grain=grain)
        assert county.aggregate(n=Sum("reported"))["n"] == 200, grain
        assert county.aggregate(n=Sum("state_closed"))["n"] == closed, grain
    _assert_same(tree, settings, "after concurrent writers")


@pytest.mark.postgres
def test_the_rebuild_command_recounts_lost_rows(tree):
    categories = list(Category.objects.filter(parent__isnull=False).order_by("code")[:2])
    rng = random.Random(11)
    reporter = tree.users[Role.GRID_WORKER]
    Case.objects.bulk_create([_random_case(rng, n, [tree["grid_a"]], categories, reporter) for n in range(30)])
    kept = _stored(CaseDayStat, ["day", "grain", *rollup.KEYS], DAY_COLUMNS)
    CaseDayStat.objects.filter(day__lt=TODAY - dt.timedelta(days=10)).delete()  # a lost part of the counts
    assert _stored(CaseDayStat, ["day", "grain", *rollup.KEYS], DAY_COLUMNS) != kept
    out = StringIO()
    call_command("rebuild_dashboard_rollup", stdout=out)
    assert "已重建" in out.getvalue()
    assert _stored(CaseDayStat, ["day", "grain", *rollup.KEYS], DAY_COLUMNS) == kept
    call_command("rebuild_dashboard_rollup", "--compact", stdout=out)
    assert "合并完成" in out.getvalue()


@pytest.mark.postgres
def test_compaction_rewrites_only_the_keys_that_changed(tree):
    rng = random.Random(13)
    reporter = tree.users[Role.GRID_WORKER]
    areas = [tree["grid_a"], tree["special_a"]]
    Case.objects.bulk_create([_random_case(rng, n, areas, _categories(), reporter) for n in range(40)])
    rollup.compact()
    key = ("day", "node_key", "grain", "child_key", "category_id", "source")
    before = {r["id"]: tuple(r[k] for k in key) for r in CaseDayStat.objects.values("id", *key)}
    case = Case.objects.order_by("id").first()
    Case.objects.filter(pk=case.pk).update(source=Source.PETITION if case.source != Source.PETITION else Source.HOTLINE)
    touched = set(CaseDayStat.objects.filter(compacted=False).values_list(*key))
    assert touched
    rollup.compact()
    after = set(CaseDayStat.objects.values_list("id", flat=True))
    touched_days = {(k[0], k[1]) for k in touched}
    # Rows of other keys on the same days and nodes: a fold of whole days would rewrite them.
    neighbours = {pk for pk, k in before.items() if k not in touched and (k[0], k[1]) in touched_days}
    assert neighbours
    assert neighbours <= after  # still the same rows
    assert not CaseDayStat.objects.filter(compacted=False).exists()


@pytest.mark.postgres
def test_healthz_reports_the_rollup_backlog_and_missing_triggers(tree, client, monkeypatch):
    rollup.compact()  # the tree's households
    data = client.get("/healthz").json()
    assert data["dashboard_rollup"] == {"ok": True, "installed": True, "unfolded_rows": 0}
    categories = list(Category.objects.filter(parent__isnull=False).order_by("code")[:2])
    rng = random.Random(17)
    reporter = tree.users[Role.GRID_WORKER]
    Case.objects.bulk_create([_random_case(rng, n, [tree["grid_a"]], categories, reporter) for n in range(12)])
    unfolded = client.get("/healthz").json()["dashboard_rollup"]["unfolded_rows"]
    assert unfolded == sum(m.objects.filter(compacted=False).count() for m in rollup.TABLES) > 0

    # Compaction not keeping up: degraded, still 200 (pages stay exact, only slower).
    monkeypatch.setattr(rollup, "BACKLOG_WARN", unfolded - 1)
    response = client.get("/healthz")
    assert (response.status_code, response.json()["status"]) == (200, "degraded")
    rollup.compact()
    assert client.get("/healthz").json()["dashboard_rollup"]["unfolded_rows"] == 0

    rollup.uninstall()  # e.g. a restore without the triggers: the counts would go stale
    data = client.get("/healthz").json()
    assert data["status"] == "degraded" and data["dashboard_rollup"]["installed"] is False
    rollup.install()
    assert client.get("/healthz").json()["dashboard_rollup"]["installed"] is True


# --- households and visits (走访覆盖率) -----------------------------------------------------------


def _visit_periods() -> list[Period]:
    """Periods around the real today: the visited households come from the rollup for periods
    that end today or later, live for earlier ones."""
    now = timezone.now()
    today = timezone.localdate(now)
    d = dt.timedelta
    return [
        Period(today - d(29), today, now),
        Period(today - d(6), today, now),
        Period(today - d(10), today + d(3), now),
        Period(today - d(59), today - d(20), now),  # wholly in the past: visited counted live
        Period(today + d(1), today + d(9), now),
    ]


def _assert_households_same(tree, settings, label: str) -> None:
    user = tree.users[Role.COUNTY_OFFICIAL]
    for key in ("county", "town_a", "town_b"):
        node = Area.objects.get(pk=tree[key].pk)
        for period in _visit_periods():
            live = _page(user, node, period, settings, use_rollup=False)
            rolled = _page(user, node, period, settings, use_rollup=True)
            for part in ("total", "children", "other"):
                assert rolled[part] == live[part], (label, key, period.date_from, period.date_to, part)
    latest = dict(Visit.objects.values("household_id").annotate(d=Max("date")).values_list("household_id", "d"))
    for household_id, last in Household.objects.values_list("id", "last_visited_on"):
        assert last == latest.get(household_id), (label, household_id)


@pytest.mark.postgres
def test_households_and_visit_coverage_read_the_same_both_ways_through_every_kind_of_write(tree, settings):
    rng = random.Random(20261207)
    today = timezone.localdate()
    places = [tree[k] for k in ("grid_a", "group_a", "special_a", "grid_b")]
    rows = []
    for n in range(120):
        h = Household(code=f"R{n:05d}", address=f"测试路 {n} 号", area=rng.choice(places), is_active=rng.random() > 0.1)
        set_path(h)
        rows.append(h)
    households = Household.objects.bulk_create(rows)
    visitor = tree.users[Role.GRID_WORKER]

    def visit(h, day):
        v = Visit(household=h, visitor=visitor, date=day, discussed="走访", area=h.area)
        set_path(v)
        return v

    Visit.objects.bulk_create(
        [visit(h, today - dt.timedelta(days=rng.randrange(0, 70))) for h in households for _ in range(rng.randrange(3))]
    )
    assert Visit.objects.count() > 80
    assert Household.objects.filter(last_visited_on__isnull=False).exists()
    _assert_households_same(tree, settings, "after insert")

    # One visit at a time, as the worker's form saves it, and visits moved and deleted in bulk.
    for h in rng.sample(households, 10):
        visit(h, today).save()
    ids = list(Visit.objects.values_list("id", flat=True))
    Visit.objects.filter(id__in=rng.sample(ids, 20)).update(date=today - dt.timedelta(days=45))
    Visit.objects.filter(id__in=rng.sample(ids, 5)).update(household=households[0])
    Visit.objects.filter(id__in=rng.sample(ids, 25)).delete()
    _assert_households_same(tree, settings, "after visit changes")

    # Households deactivated, moved to the other town, edited without a counted change.
    Household.objects.filter(id__in=[h.pk for h in rng.sample(households, 15)]).update(is_active=False)
    moved = list(Household.objects.filter(town_id=tree["town_a"].pk).order_by("id")[:20])
    for h in moved:
        h.area = tree["grid_b"]
        set_path(h)
    Household.objects.bulk_update(moved, ["area", "county", "town", "zone", "village", "grid"])
    stored = HouseholdStat.objects.count()
    Household.objects.update(address="改了地址")
    assert HouseholdStat.objects.count() == stored
    _assert_households_same(tree, settings, "after household changes")

    # Compaction and a recount keep the figures.
    kept = _stored(HouseholdStat, ["node_key", "child_key", "last_visit_day"], ["households"])
    rollup.compact()
    assert not HouseholdStat.objects.filter(compacted=False).exists()
    assert _stored(HouseholdStat, ["node_key", "child_key", "last_visit_day"], ["households"]) == kept
    rollup.rebuild()
    assert _stored(HouseholdStat, ["node_key", "child_key", "last_visit_day"], ["households"]) == kept
    _assert_households_same(tree, settings, "after compaction")


@pytest.mark.postgres
def test_the_county_page_reads_households_from_the_rollup(tree, settings):
    """The rollup is what the page reads: a count written only into it shows on the county page."""
    settings.GRIDGOV_CASE_ROLLUP = True
    rollup.compact()
    county = Area.objects.get(pk=tree["county"].pk)
    user = tree.users[Role.COUNTY_OFFICIAL]
    period = Period.last_days(30)
    before = selectors.breakdown(user, selectors.Filters(county, period)).total.counts
    HouseholdStat.objects.create(
        node_key=county.pk, child_key=tree["town_b"].pk, last_visit_day=period.date_to, households=5
    )
    after = selectors.breakdown(user, selectors.Filters(county, period)).total.counts
    assert after["households"] == before["households"] + 5
    assert after["visited_households"] == before["visited_households"] + 5
