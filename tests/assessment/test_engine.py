"""The rule engine against the hand-built November 2026 of conftest.py, under the default rule set
(assessment/migrations/0002_default_rules.py). Each expected ledger is worked out by hand in the
comment above it from the fact list in conftest.py:

  day-short grid-days: grid_a 11-03 (1 report), 11-04 (0); special_a 11-10 (1); grid_b 11-03 (0)
  O1 11-02 c1 overdue held by town_a        O2 11-04 c1 overdue held by dept_a
  L1 11-05 c1 verification late (grid_a)    R1 11-05 c1 rework, handler dept_a staff, holder dept_a
  U1 11-10 c1 unsatisfied, handler dept_a staff, holder dept_a
  O3 11-11 c9 overdue held by grid_a        O4 11-11 c10 overdue held by village_a
  S  11-05 c2 solved inside the grid by GW a (group_a)
  valid reports: GW a c1 11-02, c2 11-05, c9 11-11, c10 11-11; centre staff c8 11-17; GW b c7 11-18
  missed key household: group_a's
"""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from assessment import measures, services
from assessment.choices import AppealStatus, SubjectKind
from assessment.models import Appeal, AssessmentMonth, Rule, RuleSet, Score, ScoreLine
from assessment.periods import Period
from cases.choices import Action, CaseState
from cases.models import CaseEvent, GridDayCompliance
from staff.choices import Role
from staff.models import Post
from tests.factories import UserFactory, area

from .conftest import at, file_at

pytestmark = pytest.mark.django_db
NOV = Period.parse("2026-11")
D = Decimal


def compute(period=NOV, **kw):
    with time_machine.travel(at(12, 2, 3), tick=False):
        return services.compute_month(period, **kw)


def score_of(tree, kind, key=None, user=None, period=NOV) -> Score:
    qs = Score.objects.filter(period__month=period.month, subject_kind=kind)
    if user is not None:
        qs = qs.filter(user=tree.users[user])
    if key is not None:
        if kind == SubjectKind.DEPARTMENT or kind == SubjectKind.DEPARTMENT_STAFF:
            qs = qs.filter(department=tree.departments[key])
        else:
            qs = qs.filter(area=tree[key])
    return qs.get()


def ledger(score) -> list[tuple]:
    """(rule code, date, points, source model, case id) per line, in rule then date order."""
    return [
        (line.rule.code, f"{line.occurred_on:%m-%d}", line.points, line.source_model, line.case_ref)
        for line in score.lines.select_related("rule").order_by("rule__order", "occurred_on", "source_id")
    ]


def totals(score) -> tuple:
    return score.base, score.deductions, score.bonuses, score.total


def overdue_event(case, from_state=None) -> CaseEvent:
    qs = CaseEvent.objects.filter(case=case, action=Action.OVERDUE)
    if from_state:
        qs = qs.filter(from_state=from_state)
    return qs.get()


# --- people -------------------------------------------------------------------------------------


def test_grid_worker_month_by_hand(tree, november):
    c = november
    result = compute()
    assert (result.subjects, result.lines) == (13, 71)
    s = score_of(tree, SubjectKind.GRID_WORKER, user=Role.GRID_WORKER)
    # gw_day_short −5 × 2 (grid_a 11-03, 11-04; the Saturday and the compliant day do not count)
    # gw_late_verify −10 (L1); gw_missed_visit −10 (group_a's household)
    # gw_valid_report +2 × 4 (c1, c2, c9, c10: not c3 rejected, c4 merged, c5 information, c6 October,
    #   c8 filed by centre staff); gw_solved +5 (c2)
    # R1 and U1 were handled by dept_a staff: nothing for the worker.
    assert ledger(s) == [
        ("gw_day_short", "11-03", D("-5"), "cases.griddaycompliance", None),
        ("gw_day_short", "11-04", D("-5"), "cases.griddaycompliance", None),
        ("gw_late_verify", "11-05", D("-10"), "cases.caseevent", c.c1.pk),
        ("gw_missed_visit", "11-30", D("-10"), "grids.household", None),
        ("gw_valid_report", "11-02", D("2"), "cases.case", c.c1.pk),
        ("gw_valid_report", "11-05", D("2"), "cases.case", c.c2.pk),
        ("gw_valid_report", "11-11", D("2"), "cases.case", c.c9.pk),
        ("gw_valid_report", "11-11", D("2"), "cases.case", c.c10.pk),
        ("gw_solved", "11-05", D("5"), "cases.case", c.c2.pk),
    ]
    # 1000 − 30 + 13
    assert totals(s) == (D("1000"), D("-30"), D("13"), D("983"))
    assert s.area == tree["grid_a"] and s.town == tree["town_a"] and s.zone == tree["zone_a"]


def test_each_line_names_the_record_that_caused_it_in_chinese(tree, november):
    c = november
    compute()
    s = score_of(tree, SubjectKind.GRID_WORKER, user=Role.GRID_WORKER)
    lines = {(line.rule.code, line.occurred_on.day): line for line in s.lines.select_related("rule")}
    day = lines[("gw_day_short", 3)]
    assert (day.source_model, day.source_id) == ("cases.griddaycompliance", c.a1.pk)
    assert day.explanation == "2026-11-03 网格日报不足 2 条（实报 1 条）"
    late = lines[("gw_late_verify", 5)]
    assert late.source_id == overdue_event(c.c1, CaseState.FEEDBACK).pk
    assert late.explanation == f"2026-11-05 事件 {c.c1.number} 核查超时"
    assert late.link == f"/console/case/{c.c1.pk}/"
    missed = lines[("gw_missed_visit", 30)]
    household = tree.households["group_a"]
    assert (missed.source_model, missed.source_id) == ("grids.household", household.pk)
    assert missed.explanation == f"2026年11月 重点户 {household.code}（{household.address}）本月未走访"
    assert missed.link == f"/areas/{tree['group_a'].pk}/"
    solved = lines[("gw_solved", 5)]
    assert solved.explanation == f"2026-11-05 事件 {c.c2.number} 网格内自行处置并结案"
    assert solved.key == f"gw_solved:cases.case:{c.c2.pk}"


def test_grid_worker_of_the_other_town_by_hand(tree, november):
    compute()
    s = score_of(tree, SubjectKind.GRID_WORKER, user="worker_b")
    # grid_b 11-03 short −5; c7 valid +2; grid_b's key household was visited 11-20
    assert ledger(s) == [
        ("gw_day_short", "11-03", D("-5"), "cases.griddaycompliance", None),
        ("gw_valid_report", "11-18", D("2"), "cases.case", november.c7.pk),
    ]
    assert totals(s) == (D("1000"), D("-5"), D("2"), D("997"))


def test_grid_chief_month_by_hand(tree, november):
    compute()
    s = score_of(tree, SubjectKind.GRID_CHIEF, user=Role.GRID_CHIEF)
    # gc_day_short −2 × 2; gc_overdue −10 for O3 only (O1 town, O2 department, O4 village are not
    # the grid's level); c2 was solved by the worker, not the chief
    assert ledger(s) == [
        ("gc_day_short", "11-03", D("-2"), "cases.griddaycompliance", None),
        ("gc_day_short", "11-04", D("-2"), "cases.griddaycompliance", None),
        ("gc_overdue", "11-11", D("-10"), "cases.caseevent", november.c9.pk),
    ]
    assert totals(s) == (D("1000"), D("-14"), D("0"), D("986"))


def test_zone_chief_month_by_hand(tree, november):
    compute()
    s = score_of(tree, SubjectKind.ZONE_CHIEF, user=Role.ZONE_CHIEF)
    # zc_day_short −1 × 2 (grid_a is in zone_a; special_a hangs directly under the town);
    # zc_overdue −10 for O4 (held by village_a, inside zone_a); zc_missed_visit −1
    assert ledger(s) == [
        ("zc_day_short", "11-03", D("-1"), "cases.griddaycompliance", None),
        ("zc_day_short", "11-04", D("-1"), "cases.griddaycompliance", None),
        ("zc_overdue", "11-11", D("-10"), "cases.caseevent", november.c10.pk),
        ("zc_missed_visit", "11-30", D("-1"), "grids.household", None),
    ]
    assert totals(s) == (D("1000"), D("-13"), D("0"), D("987"))


def test_department_staff_month_by_hand(tree, november):
    c = november
    compute()
    s = score_of(tree, SubjectKind.DEPARTMENT_STAFF, key="dept_a")
    # ds_overdue −10 (O2), ds_rework −10 (R1: the staff member fed back, the department held it),
    # ds_unsatisfied −20 (U1)
    assert ledger(s) == [
        ("ds_overdue", "11-04", D("-10"), "cases.caseevent", c.c1.pk),
        ("ds_rework", "11-05", D("-10"), "cases.caseevent", c.c1.pk),
        ("ds_unsatisfied", "11-10", D("-20"), "cases.case", c.c1.pk),
    ]
    assert totals(s) == (D("1000"), D("-40"), D("0"), D("960"))
    rework = s.lines.get(rule__code="ds_rework")
    assert rework.source_id == CaseEvent.objects.get(case=c.c1, action=Action.REWORK).pk
    assert rework.explanation == f"2026-11-05 事件 {c.c1.number} 核查不通过，返工（承办：千岛湖镇综合执法队）"


# --- units --------------------------------------------------------------------------------------


def test_grid_units_by_hand(tree, november):
    c = november
    compute()
    grid_a = score_of(tree, SubjectKind.GRID, key="grid_a")
    # ug_day_short −5 × 2; ug_late_verify −10 (L1); ug_overdue −10 (O3, held by the grid);
    # ug_missed_visit −10; ug_valid_report +2 × 5 (c1, c2, c9, c10 and the hotline case c8: units
    # count their area's facts whoever filed them); ug_solved +5 (c2). R1/U1 were held by dept_a.
    assert ledger(grid_a) == [
        ("ug_day_short", "11-03", D("-5"), "cases.griddaycompliance", None),
        ("ug_day_short", "11-04", D("-5"), "cases.griddaycompliance", None),
        ("ug_late_verify", "11-05", D("-10"), "cases.caseevent", c.c1.pk),
        ("ug_overdue", "11-11", D("-10"), "cases.caseevent", c.c9.pk),
        ("ug_missed_visit", "11-30", D("-10"), "grids.household", None),
        ("ug_valid_report", "11-02", D("2"), "cases.case", c.c1.pk),
        ("ug_valid_report", "11-05", D("2"), "cases.case", c.c2.pk),
        ("ug_valid_report", "11-11", D("2"), "cases.case", c.c9.pk),
        ("ug_valid_report", "11-11", D("2"), "cases.case", c.c10.pk),
        ("ug_valid_report", "11-17", D("2"), "cases.case", c.c8.pk),
        ("ug_solved", "11-05", D("5"), "cases.case", c.c2.pk),
    ]
    assert totals(grid_a) == (D("1000"), D("-40"), D("15"), D("975"))
    special = score_of(tree, SubjectKind.GRID, key="special_a")
    assert ledger(special) == [("ug_day_short", "11-10", D("-5"), "cases.griddaycompliance", None)]
    assert special.total == D("995")
    grid_b = score_of(tree, SubjectKind.GRID, key="grid_b")
    assert grid_b.total == D("997")  # −5 (11-03) + 2 (c7)


def test_zone_and_town_units_by_hand(tree, november):
    c = november
    compute()
    zone_a = score_of(tree, SubjectKind.ZONE, key="zone_a")
    # uz_day_short −1 × 2; uz_late_verify −2; uz_overdue −5 × 2 (O3 grid_a, O4 village_a: held
    # inside the zone); uz_missed_visit −1; uz_valid_report +0.5 × 5; uz_solved +1
    assert ledger(zone_a) == [
        ("uz_day_short", "11-03", D("-1"), "cases.griddaycompliance", None),
        ("uz_day_short", "11-04", D("-1"), "cases.griddaycompliance", None),
        ("uz_late_verify", "11-05", D("-2"), "cases.caseevent", c.c1.pk),
        ("uz_overdue", "11-11", D("-5"), "cases.caseevent", c.c9.pk),
        ("uz_overdue", "11-11", D("-5"), "cases.caseevent", c.c10.pk),
        ("uz_missed_visit", "11-30", D("-1"), "grids.household", None),
        ("uz_valid_report", "11-02", D("0.5"), "cases.case", c.c1.pk),
        ("uz_valid_report", "11-05", D("0.5"), "cases.case", c.c2.pk),
        ("uz_valid_report", "11-11", D("0.5"), "cases.case", c.c9.pk),
        ("uz_valid_report", "11-11", D("0.5"), "cases.case", c.c10.pk),
        ("uz_valid_report", "11-17", D("0.5"), "cases.case", c.c8.pk),
        ("uz_solved", "11-05", D("1"), "cases.case", c.c2.pk),
    ]
    assert totals(zone_a) == (D("1000"), D("-15"), D("3.5"), D("988.5"))
    town_a = score_of(tree, SubjectKind.TOWN, key="town_a")
    # ut_day_short −0.5 × 3 (incl. special_a); ut_late_verify −1; ut_overdue −2 × 4 (O1 the town
    # itself, O2 dept_a attached to the town, O3, O4); ut_rework −1 (R1); ut_unsatisfied −2 (U1);
    # ut_missed_visit −0.5; ut_valid_report +0.1 × 5; ut_solved +0.5
    # deductions 1.5 + 1 + 8 + 1 + 2 + 0.5 = 14; bonuses 0.5 + 0.5 = 1
    assert [(code, points) for code, _d, points, _m, _c in ledger(town_a)] == [
        ("ut_day_short", D("-0.5")),
        ("ut_day_short", D("-0.5")),
        ("ut_day_short", D("-0.5")),
        ("ut_late_verify", D("-1")),
        ("ut_overdue", D("-2")),
        ("ut_overdue", D("-2")),
        ("ut_overdue", D("-2")),
        ("ut_overdue", D("-2")),
        ("ut_rework", D("-1")),
        ("ut_unsatisfied", D("-2")),
        ("ut_missed_visit", D("-0.5")),
        *[("ut_valid_report", D("0.1"))] * 5,
        ("ut_solved", D("0.5")),
    ]
    assert totals(town_a) == (D("1000"), D("-14"), D("1"), D("987"))
    assert score_of(tree, SubjectKind.ZONE, key="zone_b").total == D("999.5")
    assert score_of(tree, SubjectKind.TOWN, key="town_b").total == D("999.6")


def test_department_unit_by_hand(tree, november):
    compute()
    s = score_of(tree, SubjectKind.DEPARTMENT, key="dept_a")
    # ud_overdue −5 (O2), ud_rework −5 (R1), ud_unsatisfied −10 (U1)
    assert [(code, points) for code, _d, points, _m, _c in ledger(s)] == [
        ("ud_overdue", D("-5")),
        ("ud_rework", D("-5")),
        ("ud_unsatisfied", D("-10")),
    ]
    assert s.total == D("980")


def test_who_is_assessed(tree, november):
    compute()
    keys = sorted(Score.objects.values_list("subject_kind", flat=True))
    # 2 grid workers, 1 grid chief, 1 zone chief, 1 department staff; grids grid_a, special_a,
    # grid_b; zones zone_a, zone_b; towns town_a, town_b; department dept_a. Centre staff, town
    # leaders, county officials and admins have no rules, so no score.
    assert keys == sorted(
        ["grid_worker"] * 2
        + ["grid_chief", "zone_chief", "department_staff"]
        + ["grid"] * 3
        + ["zone"] * 2
        + ["town"] * 2
        + ["department"]
    )


# --- caps ---------------------------------------------------------------------------------------


@pytest.fixture
def tight_rules(tree):
    """December 2026 onwards: a rule set with small caps."""
    rs = RuleSet.objects.create(name="收紧", valid_from=dt.date(2026, 12, 1), base_score=100, yuan_per_point=D("2.5"))
    Rule.objects.create(
        rule_set=rs, code="short", name="日报不足", subject_kind="grid_worker", measure="grid_day_short",
        points=-5, cap=12, order=1,
    )  # fmt: skip
    Rule.objects.create(
        rule_set=rs, code="report", name="有效上报", subject_kind="grid_worker", measure="valid_report",
        points=2, cap=3, order=2,
    )  # fmt: skip
    for day in (1, 2, 3, 4):  # Tue–Fri, all working days
        GridDayCompliance.objects.create(
            grid=tree["grid_a"], day=dt.date(2026, 12, day), reports=0, compliant=False, town=tree["town_a"]
        )
    for hour in (9, 10, 11):
        file_at(at(12, 1, hour), tree, Role.GRID_WORKER, "grid_a", "1401")
    return rs


def test_monthly_cap_counts_lines_in_order_until_reached(tree, tight_rules):
    dec = Period.parse("2026-12")
    with time_machine.travel(at(12, 20), tick=False):
        services.compute_month(dec)
    s = score_of(tree, SubjectKind.GRID_WORKER, user=Role.GRID_WORKER, period=dec)
    lines = [(line.rule.code, line.raw_points, line.points, line.capped) for line in
             s.lines.select_related("rule").order_by("rule__order", "occurred_on", "source_id")]  # fmt: skip
    # short −5 cap 12: −5, −5, −2 (reaches the cap), 0; report +2 cap 3: +2, +1, 0
    assert lines == [
        ("short", D("-5"), D("-5"), False),
        ("short", D("-5"), D("-5"), False),
        ("short", D("-5"), D("-2"), True),
        ("short", D("-5"), D("0"), True),
        ("report", D("2"), D("2"), False),
        ("report", D("2"), D("1"), True),
        ("report", D("2"), D("0"), True),
    ]
    assert totals(s) == (D("100"), D("-12"), D("3"), D("91"))
    assert s.yuan_per_point == D("2.5") and s.amount == D("227.5")
    assert s.lines.filter(capped=True, points=0).first().status_note == "已达本月封顶，本条不计分"


def test_voiding_a_line_under_a_cap_lets_the_next_line_count(tree, tight_rules):
    dec = Period.parse("2026-12")
    with time_machine.travel(at(12, 20), tick=False):
        services.compute_month(dec)
    s = score_of(tree, SubjectKind.GRID_WORKER, user=Role.GRID_WORKER, period=dec)
    first = s.lines.filter(rule__code="short").order_by("occurred_on").first()
    appeal = services.file_appeal(line_id=first.pk, user=tree.users[Role.GRID_WORKER], reason="12-01 已上报")
    services.decide_appeal(appeal_id=appeal.pk, reviewer=tree.users[Role.CENTRE_STAFF], accept=True)
    s.refresh_from_db()
    points = list(s.lines.filter(rule__code="short").order_by("occurred_on").values_list("points", "voided"))
    # voided 0; then −5, −5, −2 (the fourth day now counts up to the cap)
    assert points == [(D("0"), True), (D("-5"), False), (D("-5"), False), (D("-2"), False)]
    assert s.total == D("91")  # still capped at −12
    appeal.refresh_from_db()
    assert (appeal.total_before, appeal.total_after) == (D("91"), D("91"))


# --- rule sets ------------------------------------------------------------------------------------


def test_the_rule_set_of_a_month_is_the_newest_valid_from_not_after_it(tree, tight_rules):
    default = RuleSet.objects.get(valid_from=dt.date(2020, 1, 1))
    assert RuleSet.objects.for_month(dt.date(2026, 11, 1)) == default
    assert RuleSet.objects.for_month(dt.date(2026, 12, 1)) == tight_rules
    assert RuleSet.objects.for_month(dt.date(2027, 3, 1)) == tight_rules
    assert RuleSet.objects.for_month(dt.date(2019, 12, 1)) is None


def test_default_rule_set_ships_the_issue_rules():
    rs = RuleSet.objects.get(valid_from=dt.date(2020, 1, 1))
    assert (rs.base_score, rs.yuan_per_point) == (D("1000"), D("1"))
    rules = {r.code: (r.subject_kind, r.measure, r.points, r.cap) for r in rs.rules.all()}
    assert rules["gw_day_short"] == ("grid_worker", "grid_day_short", D("-5"), D("150"))
    assert rules["gw_late_verify"] == ("grid_worker", "late_verification", D("-10"), None)
    assert rules["ds_overdue"] == ("department_staff", "overdue_held", D("-10"), None)
    assert rules["gw_missed_visit"] == ("grid_worker", "missed_visit", D("-10"), D("100"))
    assert rules["gw_valid_report"] == ("grid_worker", "valid_report", D("2"), D("100"))
    assert rules["gw_solved"] == ("grid_worker", "solved_in_grid", D("5"), D("100"))
    assert rules["gw_unsatisfied"][2] == D("-20") and rules["gw_rework"][2] == D("-10")
    for rule in rs.rules.all():
        rule.full_clean()  # every default rule names a measure that applies to its subject kind


def test_a_rule_must_fit_its_measure_and_a_frozen_version_cannot_change(tree, november):
    rs = RuleSet.objects.get(valid_from=dt.date(2020, 1, 1))
    bad = Rule(rule_set=rs, code="x", name="x", subject_kind="grid_worker", measure="overdue_held", points=-1)
    with pytest.raises(ValidationError) as err:
        bad.full_clean()
    assert "不适用于网格员" in str(err.value)
    with pytest.raises(ValidationError):
        Rule(rule_set=rs, code="y", name="y", subject_kind="grid", measure="valid_report", points=0).full_clean()
    compute()
    with time_machine.travel(at(12, 2, 4), tick=False):
        services.close_month(NOV)
    with pytest.raises(ValidationError) as err:
        rs.full_clean()
    assert "已关账" in str(err.value)


def test_inactive_rules_count_nothing(tree, november):
    RuleSet.objects.get(valid_from=dt.date(2020, 1, 1)).rules.filter(code="gw_valid_report").update(active=False)
    compute()
    s = score_of(tree, SubjectKind.GRID_WORKER, user=Role.GRID_WORKER)
    assert not s.lines.filter(rule__code="gw_valid_report").exists()
    assert s.total == D("975")  # 983 − 8


def test_no_rule_set_or_a_future_month_is_refused(tree):
    with pytest.raises(services.InvalidInput) as err:
        compute(Period.parse("2019-05"))
    assert "没有适用于 2019年5月 的考核规则版本" in err.value.message
    with pytest.raises(services.InvalidInput) as err:
        compute(Period.parse("2027-01"))
    assert "尚未开始" in err.value.message


# --- recomputation ------------------------------------------------------------------------------


def snapshot() -> tuple:
    scores = sorted(Score.objects.values_list("id", "subject_key", "base", "deductions", "bonuses", "total"))
    lines = sorted(
        ScoreLine.objects.values_list(
            "score__subject_key", "key", "occurred_on", "raw_points", "points", "capped", "voided", "explanation"
        )
    )
    return scores, lines


def test_recomputing_an_open_month_gives_the_same_lines_and_totals(tree, november):
    first = compute()
    before = snapshot()
    second = compute()
    assert snapshot() == before  # same score rows (ids too), same lines, same totals
    assert (first.subjects, first.lines) == (second.subjects, second.lines)
    month = AssessmentMonth.objects.get(month=NOV.month)
    assert month.log.filter(action="computed").count() == 2


def test_recomputing_picks_up_new_records(tree, november):
    compute()
    file_at(at(11, 24, 9), tree, Role.GRID_WORKER, "grid_a", "1401")
    compute()
    s = score_of(tree, SubjectKind.GRID_WORKER, user=Role.GRID_WORKER)
    assert s.lines.filter(rule__code="gw_valid_report").count() == 5
    assert s.total == D("985")


def test_a_person_who_left_is_dropped_unless_an_appeal_names_them(tree, november):
    compute()
    chief = score_of(tree, SubjectKind.GRID_CHIEF, user=Role.GRID_CHIEF)
    Post.objects.filter(user=tree.users[Role.GRID_WORKER]).update(is_active=False)
    Post.objects.filter(user=tree.users[Role.GRID_CHIEF]).update(is_active=False)
    line = chief.lines.get(rule__code="gc_overdue")
    Appeal.objects.create(
        score=chief, line_key=line.key, line_explanation="x", line_points=-10, appellant=tree.users[Role.GRID_CHIEF],
        reason="r",
    )  # fmt: skip
    compute()
    assert not Score.objects.filter(subject_kind="grid_worker", user=tree.users[Role.GRID_WORKER]).exists()
    chief.refresh_from_db()
    assert (chief.is_current, chief.total, chief.lines.count()) == (False, D("1000"), 0)


def test_computation_is_bulk_whatever_the_number_of_people(tree, november):
    """One grouped query per measure, not per person: more grids and people, same query count."""
    compute()
    with CaptureQueriesContext(connection) as few:
        compute()
    for i in range(5):
        grid = area(f"33012710020100{i + 2}", f"新网格{i}", "grid", tree["village_a"])
        for role in (Role.GRID_WORKER, Role.GRID_CHIEF):
            Post.objects.create(user=UserFactory(username=f"n{i}{role}"), role=role, area=grid)
    with CaptureQueriesContext(connection) as many:
        compute()
    assert Score.objects.filter(subject_kind="grid_worker").count() == 7
    assert len(many) == len(few)


# --- measures -----------------------------------------------------------------------------------


def test_missed_visits_yield_nothing_without_the_visit_model(tree, november, monkeypatch):
    real = measures.apps.get_model

    def get_model(app_label, model_name=None, **kw):
        if (app_label, model_name) == ("grids", "Visit"):
            raise LookupError("no visits")
        return real(app_label, model_name, **kw)

    monkeypatch.setattr(measures.apps, "get_model", get_model)
    assert measures.missed_visit(measures.Context(NOV)) == []


def test_holder_ids_in_event_data_win_over_the_label(tree):
    ctx = measures.Context(NOV)
    dept = tree.departments["dept_a"]
    assert ctx.holder("千岛湖镇综合执法队", tree["grid_a"].pk) == (None, dept.pk)
    assert ctx.holder("梦姑塘村", tree["grid_a"].pk) == (tree["village_a"].pk, None)
    assert ctx.holder("梦姑塘村", tree["grid_b"].pk) == (None, None)  # not on grid_b's path
    assert ctx.holder("whatever", tree["grid_a"].pk, {"owner_area_id": tree["zone_a"].pk}) == (tree["zone_a"].pk, None)
    assert ctx.holder("", None, {"owner_department_id": dept.pk}) == (None, dept.pk)


def test_compliance_rows_written_by_the_nightly_task_are_counted(tree):
    from cases.periodic import record_compliance

    file_at(at(11, 24, 9), tree, Role.GRID_WORKER, "grid_a", "1401")
    record_compliance(dt.date(2026, 11, 24))  # grid_a 1, special_a 0, grid_b 0
    facts = measures.grid_day_short(measures.Context(NOV))
    assert sorted((f.place_id, f.explanation) for f in facts) == sorted(
        [
            (tree["grid_a"].pk, "2026-11-24 网格日报不足 2 条（实报 1 条）"),
            (tree["special_a"].pk, "2026-11-24 网格日报不足 2 条（实报 0 条）"),
            (tree["grid_b"].pk, "2026-11-24 网格日报不足 2 条（实报 0 条）"),
        ]
    )


def test_accepted_appeals_are_read_in_one_query(tree, november):
    compute()
    s = score_of(tree, SubjectKind.GRID_WORKER, user=Role.GRID_WORKER)
    line = s.lines.get(rule__code="gw_late_verify")
    Appeal.objects.create(
        score=s, line_key=line.key, line_explanation="x", line_points=-10, appellant=tree.users[Role.GRID_WORKER],
        reason="r", status=AppealStatus.ACCEPTED,
    )  # fmt: skip
    compute()
    assert s.lines.get(rule__code="gw_late_verify").voided is True
    s.refresh_from_db()
    assert s.total == D("993")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_computations_at_once_serialise_on_the_month(tree):
    """Two workers computing the same month at once: the second waits for the first's lock on the
    month row, then replaces its lines; nothing is duplicated."""
    import threading
    from importlib import import_module

    from django.apps import apps
    from django.db import connections

    from .conftest import build_november

    import_module("assessment.migrations.0002_default_rules").add(apps, None)
    build_november(tree)
    errors, results = [], []

    def run():
        try:
            results.append(services.compute_month(NOV, now=at(12, 2, 3)))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [r.lines for r in results] == [71, 71]
    assert ScoreLine.objects.count() == 71 and Score.objects.count() == 13
