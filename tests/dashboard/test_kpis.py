"""The KPI definitions against the hand-computed November of tests/dashboard/conftest.py."""

import re
from pathlib import Path

import pytest
from django.db.models import Count

from cases.dashboard import kpis, selectors
from cases.dashboard.kpis import CASE_MEASURES, KPIS, MEASURES
from cases.models import Case
from grids.models import Area
from staff.choices import Role
from tests.dashboard.conftest import NOVEMBER
from tests.factories import area

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent.parent


def fresh(tree, key) -> Area:
    # The tree's instances were loaded before their children existed: MPTT ranges are stale.
    return Area.objects.get(pk=tree[key].pk)


def figures(tree, user_key, node_key, **filters):
    f = selectors.Filters(fresh(tree, node_key), NOVEMBER, **filters)
    return selectors.breakdown(tree.users[user_key], f)


def test_town_counts_match_the_hand_computed_table(tree, november):
    counts = figures(tree, Role.TOWN_LEADER, "town_a").total.counts
    assert {k: counts[k] for k in MEASURES} == {
        "reported": 9,  # c1–c9
        "reported_problem": 8,  # without the information item c8
        "reported_information": 1,
        "state_reported": 0,
        "state_handling": 2,  # c6, c7
        "state_escalated": 0,
        "state_feedback": 0,
        "state_closed": 6,  # c1–c5, c8
        "state_rejected": 1,  # c9
        "closed": 6,  # problems closed in November: c1–c5 and c11
        "due": 6,  # D = c1–c6, c11 (c7 not due yet, c9 rejected) minus the extended c5
        "due_closed": 5,  # c1–c4, c11
        "due_closed_on_time": 3,  # c1, c3, c4
        "due_late": 3,  # c2 and c11 closed late, c6 still open
        "extended": 1,  # c5
        "reworked": 1,  # c3
        "dispatched": 2,  # c4, c5
        "returned": 1,  # c4
        "accepted": 7,  # c1–c7 (c11 was accepted in October)
        "accepted_on_time": 6,  # all but c2
        "rated": 3,  # c1 满意, c2 不满意, c3 基本满意
        "satisfied": 2,
        "open": 2,  # c6, c7
        "overdue": 1,  # c6
        "near_due": 0,
        "supervised": 0,
        "grid_days": 3,
        "compliant_days": 2,
        "visited_households": 1,  # the grid_a household (twice); special_a's visit was in October
        "households": 3,  # grid_a, group_a, special_a
    }


def test_town_rates(tree, november):
    rates = figures(tree, Role.TOWN_LEADER, "town_a").total.kpis
    assert rates == pytest.approx(
        {
            "on_time_close_rate": 3 / 6,
            "close_rate": 5 / 6,
            "rework_rate": 1 / 6,
            "return_rate": 1 / 2,
            "timely_accept_rate": 6 / 7,
            "satisfaction_rate": 2 / 3,
            "compliance_rate": 2 / 3,
            "visit_coverage": 1 / 3,
        }
    )


def test_county_adds_town_b(tree, november):
    b = figures(tree, Role.COUNTY_OFFICIAL, "county")
    assert (b.total.counts["reported"], b.total.counts["open"], b.total.counts["state_reported"]) == (10, 3, 1)
    assert (b.total.counts["grid_days"], b.total.counts["compliant_days"]) == (4, 2)
    assert b.total.counts["households"] == 4
    by_town = {r.area.code: r for r in b.children}
    assert by_town["330127100"].counts["reported"] == 9
    assert by_town["330127101"].counts["reported"] == 1
    assert by_town["330127101"].kpis["on_time_close_rate"] is None  # nothing due: no rate, not 0 %
    assert by_town["330127101"].kpis["compliance_rate"] == 0
    assert b.other is None


def test_children_of_a_town_are_its_zone_and_special_grid(tree, november):
    b = figures(tree, Role.TOWN_LEADER, "town_a")
    rows = {r.area.code: r for r in b.children}
    zone, special = rows["330127100001"], rows["330127100002"]
    assert (zone.counts["reported"], special.counts["reported"]) == (7, 2)
    assert (zone.counts["grid_days"], zone.counts["compliant_days"]) == (2, 1)
    assert (special.counts["grid_days"], special.counts["compliant_days"]) == (1, 1)
    assert (zone.counts["households"], special.counts["households"]) == (2, 1)
    # The children add up to the node.
    for key in MEASURES:
        assert zone.counts[key] + special.counts[key] == b.total.counts[key], key


def test_a_grid_breaks_down_into_its_groups(tree, november):
    """A grid has no path column below it: its groups are grouped by their lft ranges; cases
    filed at the grid itself are the 'this level' row."""
    b = figures(tree, Role.TOWN_LEADER, "grid_a")
    assert [r.area.code for r in b.children] == ["330127100201001001"]
    assert b.children[0].counts["reported"] == 0
    assert b.other.counts["reported"] == 7
    assert b.children[0].counts["households"] == 1 and b.total.counts["households"] == 2


def test_category_and_source_filters(tree, november):
    hotline = figures(tree, Role.TOWN_LEADER, "town_a", source="hotline").total.counts
    assert (hotline["reported"], hotline["dispatched"], hotline["returned"]) == (1, 1, 1)  # c4
    info = figures(tree, Role.TOWN_LEADER, "town_a", category="0203").total.counts
    assert (info["reported"], info["reported_information"], info["due"]) == (1, 1, 0)
    major = figures(tree, Role.TOWN_LEADER, "town_a", category="02").total.counts
    assert major["reported"] == 9


def test_the_prefilter_drops_no_counted_case(tree, november):
    """`relevant()` only narrows the scan: every case measure is the same without it."""
    user = tree.users[Role.COUNTY_OFFICIAL]
    qs = Case.objects.visible_to(user)
    for p in (NOVEMBER, kpis.Period(NOVEMBER.date_from, NOVEMBER.date_from, NOVEMBER.now)):
        full = qs.aggregate(**{m.key: Count("id", filter=m.q(p)) for m in CASE_MEASURES})
        narrowed = qs.filter(kpis.relevant(p)).aggregate(**{m.key: Count("id", filter=m.q(p)) for m in CASE_MEASURES})
        assert full == narrowed


def test_every_number_lists_exactly_its_cases(tree, november):
    user = tree.users[Role.TOWN_LEADER]
    f = selectors.Filters(fresh(tree, "town_a"), NOVEMBER)
    counts = selectors.breakdown(user, f).total.counts
    for m in CASE_MEASURES:
        assert selectors.case_list(user, f, m.key).count() == counts[m.key], m.key
    listed = {c.pk for c in selectors.case_list(user, f, "due_late")}
    assert listed == {november.cases[k].pk for k in ("c2", "c6", "c11")}


def test_ranking_puts_the_worst_last_and_flags_it(tree, november):
    b = figures(tree, Role.TOWN_LEADER, "town_a")
    ranked = selectors.rank(b.children, "timely_accept_rate")  # zone 5/6, special grid 1/1
    assert [r.area.code for r in ranked] == ["330127100002", "330127100001"]
    assert [r.flagged for r in ranked] == [False, True]
    ranked = selectors.rank(b.children, "on_time_close_rate")  # the special grid has nothing due
    assert [r.area.code for r in ranked] == ["330127100001", "330127100002"]
    assert not any(r.flagged for r in ranked)  # a single value: no worst


def test_lower_is_better_rates_flag_the_highest(tree, november):
    rows = [selectors.Figures(None, {"reworked": r, "closed": 10}).finish() for r in (1, 3, 2)]
    ranked = selectors.rank(rows, "rework_rate")
    assert [r.counts["reworked"] for r in ranked] == [1, 2, 3]
    assert [r.flagged for r in ranked] == [False, False, True]


def test_level_tables_group_by_each_path_column(tree, november):
    f = selectors.Filters(fresh(tree, "county"), NOVEMBER)
    tables = dict(selectors.level_tables(tree.users[Role.COUNTY_OFFICIAL], f))
    assert list(tables) == ["town", "zone", "village", "grid"]
    grids = {r.area.code: r for r in tables["grid"]}
    assert grids["330127100201001"].counts["reported"] == 7
    assert grids["330127100002"].counts["reported"] == 2
    assert grids["330127101001001"].counts["reported"] == 1
    zones = {r.area.code: r.counts for r in tables["zone"]}
    assert (zones["330127100001"]["grid_days"], zones["330127101001"]["grid_days"]) == (2, 1)


def test_new_areas_do_not_change_the_figures_of_old_ones(tree, november):
    town = area("330127102", "新设镇", "town", fresh(tree, "county"))
    b = figures(tree, Role.COUNTY_OFFICIAL, "county")
    assert {r.area.pk: r.counts["reported"] for r in b.children}[town.pk] == 0
    assert b.total.counts["reported"] == 10


def test_docs_name_every_measure_and_formula():
    text = (ROOT / "docs" / "kpis.md").read_text(encoding="utf-8")
    for m in MEASURES.values():
        assert f"`{m.key}`" in text, m.key
    for k in KPIS.values():
        assert k.formula in text, k.key
        assert f"`{k.key}`" in text
    # and the module docstring carries the same formulas
    doc = re.sub(r"\s+", " ", kpis.__doc__)
    for k in KPIS.values():
        assert f"{k.numerator} / {k.denominator}" in doc, k.key


def test_breakdowns_by_category_and_source(tree, november):
    b = figures(tree, Role.TOWN_LEADER, "town_a")
    assert b.categories == [{"code": "02", "name": "综治信访维稳", "reported": 9, "closed": 6, "open": 2, "overdue": 1}]
    assert [(r["code"], r["reported"], r["closed"]) for r in b.sources] == [("patrol", 8, 5), ("hotline", 1, 1)]
    minor = figures(tree, Role.TOWN_LEADER, "town_a", category="02").categories
    assert [(r["code"], r["name"], r["reported"]) for r in minor] == [
        ("0202", "治安隐患", 8),
        ("0203", "重点人员动态", 1),
    ]


def test_trend_per_local_day(tree, november):
    f = selectors.Filters(fresh(tree, "town_a"), NOVEMBER)
    days = {d["day"].isoformat(): d for d in selectors.trend(tree.users[Role.TOWN_LEADER], f)}
    assert len(days) == 30
    assert (days["2026-11-02"]["reported"], days["2026-11-03"]["closed"]) == (2, 1)
    assert days["2026-11-05"]["closed"] == 1  # c11; c4 closed on 11-06
    assert sum(d["reported"] for d in days.values()) == 9 and sum(d["closed"] for d in days.values()) == 6
