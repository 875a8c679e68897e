"""A hand-built November 2026 in the two-town tree (tests.factories.build_tree), used by the
assessment tests. Every record is made through the case engine (time moved with time_machine,
so event times are the times written here) or directly where the engine has no service
(reporting-compliance rows, visits). The expected lines of each subject are worked out by hand in
test_engine.py from the list below.

November 2026: 11-01 is a Sunday; weekends 7/8, 14/15, 21/22, 28/29; no holidays.

  c1  11-02 09:00  GW a files 0202 治安隐患 in grid_a (town-level, accept 1 working hour)
      11-02 10:30  sweep: overdue while held by 千岛湖镇 (town_a)                      → O1
      11-02 11:00  centre staff dispatches to 千岛湖镇综合执法队 (dept_a), 2 working days
      11-04 12:00  sweep: overdue while held by dept_a                                   → O2
      11-04 15:00  dept_a staff feeds back (verify within 2 working hours: 17:00)
      11-05 08:00  sweep: overdue in 待核查 (verification late)                           → L1
      11-05 09:00  GW a: check failed, rework (handler: dept_a staff, holder dept_a)     → R1
      11-06 10:00  dept_a feeds back again; 11-06 11:00 GW a verifies → closed
      11-10 10:00  centre staff calls back: unsatisfied (handler dept_a staff)           → U1
  c2  11-05 09:30  GW a files 1401 in group_a; 10:00 self-resolves; 11:00 grid chief verifies
                   → a problem solved inside the grid, closed in November               → S
  c9  11-11 09:00  GW a files 1401 in grid_a (grid-level: held by grid_a)
  c10 11-11 09:05  GW a files 0401 in grid_a (village-level: held by village_a)
      11-11 10:30  sweep: c9 overdue held by grid_a                                      → O3
                          c10 overdue held by village_a                                  → O4
  c3  11-16 09:00  GW a files 0202; rejected 09:10 (not a valid report)
  c4  11-16 09:20  GW a files 0202; merged into c1 09:30 (not a valid report)
  c5  11-16 09:40  GW a files 0203 (information item: not a valid report)
  c8  11-17 09:00  centre staff files a 12345 hotline case in grid_a (valid, but not a worker's)
  c7  11-18 09:00  GW b files 1401 in grid_b
  c6  10-28 09:00  GW a files 0202 (October: not counted in November)

  Valid reports in November: GW a — c1, c2, c9, c10; centre staff — c8; GW b — c7.
  Compliance rows (reports < 2 → not compliant): grid_a 11-03 (1), 11-04 (0), 11-07 Sat (0,
  not a working day), 11-05 (2, compliant), 10-30 (October); special_a 11-10 (1); grid_b 11-03 (0).
  Key households (五必访): grid_a's (tag 低保户) visited 11-15; group_a's (its resident tagged
  独居老人) visited only on 10-31 → missed; grid_b's (tag 困难户) visited 11-20; special_a's has no
  key tag.
"""

import datetime as dt
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.base import ContentFile

from cases import calendar
from cases.choices import Action, Rating, Source
from cases.models import Attachment, Category, GridDayCompliance
from cases.services import case_act, case_report
from cases.sweep import sweep_deadlines
from grids.models import Household, Tag, Visit
from staff.choices import Role

SH = ZoneInfo("Asia/Shanghai")
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF" + b"\x00" * 100


def at(month, day, hour=0, minute=0, year=2026) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=SH)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def fresh_calendar():
    calendar.reset()
    yield
    calendar.reset()


def file_at(when, tree, who, area, code, source=Source.PATROL, description="路口有人聚众赌博"):
    reporter = tree.users[who]
    with time_machine.travel(when, tick=False):
        return case_report(
            reporter=reporter,
            area=tree[area],
            category=Category.objects.get(code=code),
            description=description,
            source=source,
            now=when,
        )


def act_at(when, case, action, actor, **params):
    with time_machine.travel(when, tick=False):
        return case_act(case_id=case.pk, action=action, actor=actor, now=when, **params)


def sweep_at(when):
    with time_machine.travel(when, tick=False):
        return sweep_deadlines(now=when)


def photo(user) -> Attachment:
    att = Attachment(uploaded_by=user, original_name="p.jpg", content_type="image/jpeg", size=len(JPEG), sha256="x")
    att.file.save("p.jpg", ContentFile(JPEG), save=False)
    att.save()
    return att


def build_november(tree) -> SimpleNamespace:
    u = tree.users
    gw, gc, centre, dept = u[Role.GRID_WORKER], u[Role.GRID_CHIEF], u[Role.CENTRE_STAFF], u[Role.DEPARTMENT]
    c = SimpleNamespace()
    # The tree is built at the real date; its households were registered before this November
    # (the measures count only households that existed in the month).
    Household.objects.update(created_at=at(10, 1))

    c.c1 = file_at(at(11, 2, 9), tree, Role.GRID_WORKER, "grid_a", "0202")
    sweep_at(at(11, 2, 10, 30))
    act_at(at(11, 2, 11), c.c1, Action.DISPATCH, centre, target=tree.departments["dept_a"])
    sweep_at(at(11, 4, 12))
    act_at(at(11, 4, 15), c.c1, Action.SUBMIT_FEEDBACK, dept, note="已整改")
    sweep_at(at(11, 5, 8))
    act_at(at(11, 5, 9), c.c1, Action.REWORK, gw, note="现场仍有聚集")

    c.c2 = file_at(at(11, 5, 9, 30), tree, Role.GRID_WORKER, "group_a", "1401", description="垃圾乱堆")
    act_at(at(11, 5, 10), c.c2, Action.SELF_RESOLVE, gw, note="已清理", attachments=[photo(gw)])
    act_at(at(11, 5, 11), c.c2, Action.VERIFY, gc)

    act_at(at(11, 6, 10), c.c1, Action.SUBMIT_FEEDBACK, dept, note="再次整改")
    act_at(at(11, 6, 11), c.c1, Action.VERIFY, gw)
    act_at(at(11, 10, 10), c.c1, Action.RATE, centre, rating=Rating.UNSATISFIED)

    c.c9 = file_at(at(11, 11, 9), tree, Role.GRID_WORKER, "grid_a", "1401", description="垃圾堆放")
    c.c10 = file_at(at(11, 11, 9, 5), tree, Role.GRID_WORKER, "grid_a", "0401", description="计生服务")
    sweep_at(at(11, 11, 10, 30))

    c.c3 = file_at(at(11, 16, 9), tree, Role.GRID_WORKER, "grid_a", "0202", description="凑数")
    act_at(at(11, 16, 9, 10), c.c3, Action.REJECT, centre, note="不属实")
    c.c4 = file_at(at(11, 16, 9, 20), tree, Role.GRID_WORKER, "grid_a", "0202", description="重复")
    act_at(at(11, 16, 9, 30), c.c4, Action.MERGE, centre, into=c.c1.pk)
    c.c5 = file_at(at(11, 16, 9, 40), tree, Role.GRID_WORKER, "grid_a", "0203", description="重点人员动态")
    c.c8 = file_at(at(11, 17, 9), tree, Role.CENTRE_STAFF, "grid_a", "0202", source=Source.HOTLINE)
    c.c7 = file_at(at(11, 18, 9), tree, "worker_b", "grid_b", "1401", description="垃圾")
    c.c6 = file_at(at(10, 28, 9), tree, Role.GRID_WORKER, "grid_a", "0202", description="十月")

    def day(key, d, reports, month=11):
        return GridDayCompliance.objects.create(
            grid=tree[key],
            day=dt.date(2026, month, d),
            reports=reports,
            compliant=reports >= 2,
            town=tree["town_b" if key == "grid_b" else "town_a"],
        )

    c.a1 = day("grid_a", 3, 1)
    c.a2 = day("grid_a", 4, 0)
    c.a_saturday = day("grid_a", 7, 0)
    c.a_ok = day("grid_a", 5, 2)
    c.a_october = day("grid_a", 30, 0, month=10)
    c.s1 = day("special_a", 10, 1)
    c.b1 = day("grid_b", 3, 0)

    h = tree.households
    h["grid_a"].tags.add(Tag.objects.get(code="dibao"))
    tree.residents["group_a"].tags.add(Tag.objects.get(code="duju-laoren"))
    h["grid_b"].tags.add(Tag.objects.get(code="kunnan"))

    def visit(key, date, who):
        v = Visit(household=h[key], visitor=who, date=date, discussed="走访")
        for field in ("area", "county", "town", "zone", "village", "grid"):
            setattr(v, f"{field}_id", getattr(h[key], f"{field}_id"))
        v.save()
        return v

    visit("grid_a", dt.date(2026, 11, 15), gw)
    visit("group_a", dt.date(2026, 10, 31), gw)
    visit("grid_b", dt.date(2026, 11, 20), u["worker_b"])
    return c


@pytest.fixture
def november(tree):
    return build_november(tree)
