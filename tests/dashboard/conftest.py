"""A small November 2026 of cases in the two-town tree, built through the case services with `now=`,
so that every KPI can be computed by hand (see the table in `november`).

Working days: 2026-11-02 is a Monday; 7/8, 14/15, 21/22, 28/29 are weekends (no holidays in
November). Accept limit 1 working hour (working day 08:30–12:00, 14:00–17:30); 0202 治安隐患 has a
2-working-day handling limit; 0203 is an information item.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pytest

from cases import services
from cases.dashboard.kpis import Period
from cases.models import Case, Category, GridDayCompliance
from grids.models import Visit
from staff.choices import Role

SH = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=SH)
NOVEMBER = Period(dt.date(2026, 11, 1), dt.date(2026, 11, 30), NOW)
NOVEMBER_PARAMS = {"date_from": "2026-11-01", "date_to": "2026-11-30"}


def at(month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=SH)


@dataclass
class November:
    cases: dict[str, Case] = field(default_factory=dict)


def _act(case: Case, action: str, actor, when: dt.datetime, **kw) -> Case:
    return services.case_act(case_id=case.pk, action=action, actor=actor, now=when, **kw)


@pytest.fixture
def november(tree, settings, tmp_path) -> November:
    """Town A (千岛湖镇), period November 2026, now = 2026-12-01 09:00:

    case  filed   story                                            counts in
    c1    11-02   accepted 09:00 (on time), fed back 11-03, closed  due, closed on time, rated 满意
    c2    11-02   accepted 14:00 (late), fed back 11-10 (late)      due, closed late, rated 不满意
    c3    11-03   fed back, rework 11-04, closed 11-04 on time      due, on time, reworked, 基本满意
    c4    11-05   dispatched, returned, re-dispatched, closed 11-06 due, on time, dispatched+returned
    c5    11-09   dispatched, extension approved, closed 11-16      extended (out of due), dispatched
    c6    11-16   accepted, due 11-18, still handling, overdue      due, late, open, overdue
    c7    11-30   special grid, accepted, due 12-02 (not yet due)   open
    c8    11-10   information item (closed at filing)               reported only
    c9    11-11   special grid, rejected                            reported only
    c10   10-26   closed in October                                 nowhere
    c11   10-30   accepted in October, due 11-03, closed 11-05 late due, closed late
    b1    11-12   town B, never accepted                            county only (open)
    """
    settings.MEDIA_ROOT = tmp_path / "media"
    u = tree.users
    worker, centre, dept = u[Role.GRID_WORKER], u[Role.CENTRE_STAFF], u[Role.DEPARTMENT]
    department = tree.departments["dept_a"]
    problem, info = Category.objects.get(code="0202"), Category.objects.get(code="0203")
    n = November()

    def report(key, when, area="grid_a", category=problem, reporter=worker, **kw):
        n.cases[key] = services.case_report(
            reporter=reporter,
            area=tree[area],
            category=category,
            description=f"{key} 路口有人聚集滋事",
            now=when,
            latitude=f"29.6{len(n.cases):02d}",
            longitude=f"119.0{len(n.cases):02d}",
            **kw,
        )
        return n.cases[key]

    def close(case, fed_back, verified):
        _act(case, "submit_feedback", centre, fed_back, note="已处理")
        return _act(case, "verify", worker, verified, note="现场核查通过")

    c1 = report("c1", at(11, 2, 8))
    _act(c1, "accept", centre, at(11, 2, 9))
    close(c1, at(11, 3, 10), at(11, 3, 15))
    _act(c1, "rate", centre, at(11, 4, 10), rating="satisfied")

    c2 = report("c2", at(11, 2, 8))
    _act(c2, "accept", centre, at(11, 2, 14))
    close(c2, at(11, 10, 10), at(11, 10, 11))
    _act(c2, "rate", centre, at(11, 11, 10), rating="unsatisfied")

    c3 = report("c3", at(11, 3, 8))
    _act(c3, "accept", centre, at(11, 3, 8, 40))
    _act(c3, "submit_feedback", centre, at(11, 3, 16), note="已处理")
    _act(c3, "rework", worker, at(11, 4, 9), note="现场仍有问题")
    close(c3, at(11, 4, 15), at(11, 4, 16))
    _act(c3, "rate", centre, at(11, 5, 10), rating="basically")

    c4 = report("c4", at(11, 5, 8), source="hotline")
    _act(c4, "dispatch", centre, at(11, 5, 9), target=department, note="请处理")
    _act(c4, "return", u[Role.DEPARTMENT], at(11, 5, 10), note="不属本单位")
    _act(c4, "dispatch", centre, at(11, 5, 11), target=department, note="再派")
    _act(c4, "submit_feedback", dept, at(11, 6, 10), note="已处理")
    _act(c4, "verify", worker, at(11, 6, 11), note="通过")

    c5 = report("c5", at(11, 9, 8))
    _act(c5, "dispatch", centre, at(11, 9, 9), target=department, note="请处理")
    _act(c5, "request_extension", dept, at(11, 10, 9), note="需协调", amount="5", unit="working_days")
    _act(c5, "approve_extension", centre, at(11, 10, 10), note="同意")
    _act(c5, "submit_feedback", dept, at(11, 16, 10), note="已处理")
    _act(c5, "verify", worker, at(11, 16, 11), note="通过")

    c6 = report("c6", at(11, 16, 8))
    _act(c6, "accept", centre, at(11, 16, 9))
    Case.objects.filter(pk=c6.pk).update(is_overdue=True)  # as the deadline sweep would have

    c7 = report("c7", at(11, 30, 16), area="special_a")
    _act(c7, "accept", centre, at(11, 30, 16, 10))

    report("c8", at(11, 10, 10), category=info)

    c9 = report("c9", at(11, 11, 8), area="special_a")
    _act(c9, "reject", centre, at(11, 11, 9), note="不属实")

    c10 = report("c10", at(10, 26, 8))
    _act(c10, "accept", centre, at(10, 26, 9))
    close(c10, at(10, 27, 10), at(10, 27, 11))

    c11 = report("c11", at(10, 30, 8))
    _act(c11, "accept", centre, at(10, 30, 9))
    close(c11, at(11, 5, 10), at(11, 5, 11))

    report("b1", at(11, 12, 8), area="grid_b", reporter=u["worker_b"])

    for key, case in n.cases.items():
        n.cases[key] = Case.objects.get(pk=case.pk)

    # Reporting compliance: town A 3 grid-days in November, 2 compliant; town B 1, none.
    for grid, day, reports in (
        ("grid_a", 2, 2),
        ("grid_a", 3, 1),
        ("special_a", 2, 3),
        ("grid_b", 2, 0),
    ):
        GridDayCompliance.objects.create(
            grid=tree[grid],
            day=dt.date(2026, 11, day),
            reports=reports,
            compliant=reports >= 2,
            town=_town_of(tree, grid),
        )
    GridDayCompliance.objects.create(
        grid=tree["grid_a"], day=dt.date(2026, 10, 31), reports=5, compliant=True, town=tree["town_a"]
    )

    # Visits: the grid_a household twice in November, the special_a household in October.
    def visit(key, day):
        h = tree.households[key]
        v = Visit(household=h, visitor=worker, date=day, discussed="走访")
        for f in ("area", "county", "town", "zone", "village", "grid"):
            setattr(v, f"{f}_id", getattr(h, f"{f}_id"))
        v.save()

    visit("grid_a", dt.date(2026, 11, 5))
    visit("grid_a", dt.date(2026, 11, 20))
    visit("special_a", dt.date(2026, 10, 20))
    return n


def _town_of(tree, grid: str):
    return tree["town_b"] if grid == "grid_b" else tree["town_a"]
