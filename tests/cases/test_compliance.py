"""Periodic work besides the sweep (cases.periodic): the nightly reporting-compliance record, and
the recomputation of working-time deadlines when admins change the holiday calendar.

Expected deadlines are computed by hand in the comments (08:30–12:00, 14:00–17:30 = 420 working
minutes a day). 2026 follows chinesecalendar; 2027 is not covered by it (the fixture below makes
that so whatever version is installed), so Monday–Friday applies until admins enter days:
2026-12-30 is a Wednesday, 2027-01-01 a Friday, 2027-01-02/03 a weekend."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
import time_machine

from cases import calendar
from cases.choices import Action, CaseState, DayKind, Source
from cases.models import CalendarDay, Case, CaseEvent, Category, GridDayCompliance
from cases.periodic import record_compliance
from cases.services import case_act, case_report
from cases.sweep import sweep_deadlines
from cases.tasks import recompute_deadlines_for_years, record_reporting_compliance
from staff.choices import Role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_calendar")]

SH = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 24)


def at(year, month, day, hour=0, minute=0, second=0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=SH)


@pytest.fixture(autouse=True)
def package_ends_2026(monkeypatch):
    """chinesecalendar as released up to 2026: any later year raises NotImplementedError."""
    real = chinese_calendar.is_workday

    def is_workday(day):
        if day.year > 2026:
            raise NotImplementedError(f"no available data for year {day.year}")
        return real(day)

    monkeypatch.setattr(chinese_calendar, "is_workday", is_workday)
    calendar.package_covers.cache_clear()
    yield
    calendar.package_covers.cache_clear()


def file_case(tree, when, area="grid_a", code="0202", source=Source.PATROL, description="路口有人聚众赌博"):
    with time_machine.travel(when, tick=False):
        return case_report(
            reporter=tree.users[Role.GRID_WORKER],
            area=tree[area],
            category=Category.objects.get(code=code),
            description=description,
            source=source,
            now=when,
        )


def act_at(when, case, action, actor, **params):
    with time_machine.travel(when, tick=False):
        return case_act(case_id=case.pk, action=action, actor=actor, now=when, **params)


def row(tree, key, day=DAY) -> GridDayCompliance:
    return GridDayCompliance.objects.get(grid=tree[key], day=day)


# --- reporting compliance -------------------------------------------------------------------------


def test_grid_with_two_patrol_reports_is_compliant_and_others_are_not(tree):
    file_case(tree, at(2026, 11, 24, 9, 0))
    file_case(tree, at(2026, 11, 24, 15, 30))

    assert record_compliance(DAY) == 3  # grid_a, special_a, grid_b

    a = row(tree, "grid_a")
    assert (a.reports, a.compliant, a.town) == (2, True, tree["town_a"])
    b = row(tree, "grid_b")
    assert (b.reports, b.compliant, b.town) == (0, False, tree["town_b"])
    special = row(tree, "special_a")
    assert (special.reports, special.compliant) == (0, False)
    assert GridDayCompliance.objects.count() == 3  # no row for the group below grid_a


def test_one_report_is_not_enough(tree):
    file_case(tree, at(2026, 11, 24, 9, 0))
    record_compliance(DAY)
    assert (row(tree, "grid_a").reports, row(tree, "grid_a").compliant) == (1, False)


def test_report_filed_in_a_group_counts_for_its_grid(tree):
    file_case(tree, at(2026, 11, 24, 9, 0))
    file_case(tree, at(2026, 11, 24, 10, 0), area="group_a")
    record_compliance(DAY)
    assert (row(tree, "grid_a").reports, row(tree, "grid_a").compliant) == (2, True)


def test_rejected_case_does_not_count(tree):
    file_case(tree, at(2026, 11, 24, 9, 0))
    padding = file_case(tree, at(2026, 11, 24, 9, 5), description="凑数")
    act_at(at(2026, 11, 24, 9, 30), padding, Action.REJECT, tree.users[Role.CENTRE_STAFF], note="不属实")

    record_compliance(DAY)
    assert (row(tree, "grid_a").reports, row(tree, "grid_a").compliant) == (1, False)


def test_merged_duplicate_and_non_patrol_reports_do_not_count(tree):
    original = file_case(tree, at(2026, 11, 24, 9, 0))
    duplicate = file_case(tree, at(2026, 11, 24, 9, 5))
    file_case(tree, at(2026, 11, 24, 9, 10), source=Source.HOTLINE)
    act_at(at(2026, 11, 24, 9, 30), duplicate, Action.MERGE, tree.users[Role.CENTRE_STAFF], into=original.pk)

    record_compliance(DAY)
    assert row(tree, "grid_a").reports == 1


def test_the_day_is_the_local_day_in_shanghai(tree):
    file_case(tree, at(2026, 11, 23, 23, 59))  # the evening before
    file_case(tree, at(2026, 11, 24, 0, 0))  # local midnight = 2026-11-23 16:00 UTC
    file_case(tree, at(2026, 11, 24, 23, 59, 59))
    file_case(tree, at(2026, 11, 25, 0, 0))  # the next day

    record_compliance(DAY)
    assert row(tree, "grid_a").reports == 2
    record_compliance(date(2026, 11, 23))
    assert row(tree, "grid_a", date(2026, 11, 23)).reports == 1


def test_running_twice_updates_the_rows_in_place(tree):
    file_case(tree, at(2026, 11, 24, 9, 0))
    record_compliance(DAY)
    first = row(tree, "grid_a")
    assert (first.reports, first.compliant) == (1, False)

    file_case(tree, at(2026, 11, 24, 16, 0))  # filed late; the record is run again
    record_compliance(DAY)

    assert GridDayCompliance.objects.filter(day=DAY).count() == 3
    assert GridDayCompliance.objects.filter(grid=tree["grid_a"], day=DAY).count() == 1
    again = row(tree, "grid_a")
    assert again.pk == first.pk
    assert (again.reports, again.compliant) == (2, True)


def test_nightly_task_records_yesterday_by_default(tree):
    file_case(tree, at(2026, 11, 24, 9, 0))
    file_case(tree, at(2026, 11, 24, 9, 30))
    with time_machine.travel(at(2026, 11, 25, 0, 20), tick=False):
        assert record_reporting_compliance.apply().get() == 3
    assert (row(tree, "grid_a").reports, row(tree, "grid_a").compliant) == (2, True)


def test_report_time_of_a_case_filed_with_now_is_that_now(tree):
    when = at(2026, 11, 20, 9, 0)  # without moving the clock
    case = case_report(
        reporter=tree.users[Role.GRID_WORKER],
        area=tree["grid_a"],
        category=Category.objects.get(code="0202"),
        description="补录的巡查记录",
        now=when,
    )
    assert case.number.startswith("20261120")
    assert case.created_at == when


# --- deadlines recomputed after a calendar change ----------------------------------------------------


def handling_case(tree, explicit_due=None):
    """Filed Wed 2026-12-30 09:00, accepted 09:30 and dispatched at 10:00 to the department, with
    the 7-working-day limit of 0101 (or an explicit due time)."""
    centre = tree.users[Role.CENTRE_STAFF]
    case = file_case(tree, at(2026, 12, 30, 9, 0), code="0101", description="村干部作风问题")
    act_at(at(2026, 12, 30, 9, 30), case, Action.ACCEPT, centre)
    params = {"due_at": explicit_due} if explicit_due else {}
    act_at(at(2026, 12, 30, 10, 0), case, Action.DISPATCH, centre, target=tree.departments["dept_a"], **params)
    case.refresh_from_db()
    return case


def test_handling_step_into_2027_counts_monday_to_friday(tree):
    case = handling_case(tree)
    # 7 working days from Wed 12-30 10:00: Thu 12-31, Fri 01-01 (Mon–Fri fallback), Mon 01-04,
    # Tue 01-05, Wed 01-06, Thu 01-07, Fri 01-08 → Fri 2027-01-08 10:00.
    assert case.due_at == at(2027, 1, 8, 10, 0)
    assert case.step_budget_minutes == 7 * 420
    # 80% of 2940 = 2352 min: Wed 330, Thu 420, Fri 420, Mon 420, Tue 420 → 2010; 342 more on
    # Wed 01-06: 210 in the morning, 132 in the afternoon → 16:12.
    assert case.remind_at == at(2027, 1, 6, 16, 12)


def test_holiday_added_for_2027_moves_the_deadline_one_working_day_later(tree, django_capture_on_commit_callbacks):
    case = handling_case(tree)
    version = case.version

    with time_machine.travel(at(2026, 12, 30, 11, 0), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            CalendarDay.objects.create(date=date(2027, 1, 4), kind=DayKind.HOLIDAY, name="元旦调休")

    case.refresh_from_db()
    # Mon 01-04 is now off: Thu 12-31, Fri 01-01, Tue 01-05, Wed, Thu, Fri 01-08, Mon 01-11 → 10:00.
    assert case.due_at == at(2027, 1, 11, 10, 0)
    assert case.step_budget_minutes == 7 * 420  # the budget itself is unchanged
    assert case.version == version  # a system correction, not a user action
    event = CaseEvent.objects.get(case=case, action=Action.RECALCULATE)
    assert event.actor is None
    assert (event.from_state, event.to_state) == (CaseState.HANDLING, CaseState.HANDLING)
    assert datetime.fromisoformat(event.data["old_due_at"]) == at(2027, 1, 8, 10, 0)
    assert datetime.fromisoformat(event.data["new_due_at"]) == at(2027, 1, 11, 10, 0)
    assert "2027-01-08 10:00" in event.note and "2027-01-11 10:00" in event.note


def test_case_with_an_explicit_dispatch_due_time_is_not_touched(tree):
    explicit = at(2027, 1, 8, 17, 0)
    case = handling_case(tree, explicit_due=explicit)
    assert case.step_budget_minutes is None
    with time_machine.travel(at(2026, 12, 30, 11, 0), tick=False):
        CalendarDay.objects.create(date=date(2027, 1, 4), kind=DayKind.HOLIDAY)
        assert recompute_deadlines_for_years.apply(args=[[2027]]).get() == 0
    case.refresh_from_db()
    assert case.due_at == explicit
    assert not CaseEvent.objects.filter(case=case, action=Action.RECALCULATE).exists()


def test_recompute_only_touches_cases_whose_deadline_changes(tree):
    moved = handling_case(tree)
    in_2026 = file_case(tree, at(2026, 12, 30, 9, 0))  # accept step due 10:00 the same day
    with time_machine.travel(at(2026, 12, 30, 11, 0), tick=False):
        CalendarDay.objects.create(date=date(2027, 1, 4), kind=DayKind.HOLIDAY)
        assert recompute_deadlines_for_years.apply(args=[[2027]]).get() == 1
        assert recompute_deadlines_for_years.apply(args=[[2027]]).get() == 0  # idempotent
    assert CaseEvent.objects.filter(action=Action.RECALCULATE).count() == 1
    assert CaseEvent.objects.get(action=Action.RECALCULATE).case_id == moved.pk
    in_2026.refresh_from_db()
    assert in_2026.due_at == at(2026, 12, 30, 10, 0)


def test_reminder_after_recompute_stays_at_80_percent_of_the_step(tree):
    case = handling_case(tree)
    with time_machine.travel(at(2026, 12, 30, 11, 0), tick=False):
        CalendarDay.objects.create(date=date(2027, 1, 4), kind=DayKind.HOLIDAY)
        recompute_deadlines_for_years.apply(args=[[2027]])
    case.refresh_from_db()
    # 2352 working minutes from Wed 12-30 10:00 without Mon 01-04: Wed 330, Thu 420, Fri 420,
    # Tue 420, Wed 420 → 2010; 342 more on Thu 01-07 → 16:12.
    assert case.remind_at == at(2027, 1, 7, 16, 12)


def test_make_up_workday_moves_the_deadline_and_reminder_earlier(tree):
    case = handling_case(tree)
    with time_machine.travel(at(2026, 12, 30, 11, 0), tick=False):
        CalendarDay.objects.create(date=date(2027, 1, 2), kind=DayKind.WORKDAY, name="调休上班")
        recompute_deadlines_for_years.apply(args=[[2027]])
    case.refresh_from_db()
    # Sat 01-02 now counts: Thu 12-31, Fri 01-01, Sat 01-02, Mon, Tue, Wed 01-06, Thu 01-07 → 10:00.
    assert case.due_at == at(2027, 1, 7, 10, 0)
    # 2352: Wed 330, Thu, Fri, Sat, Mon 420 each → 2010; 342 more on Tue 01-05 → 16:12.
    assert case.remind_at == at(2027, 1, 5, 16, 12)


def test_recompute_does_not_remind_a_step_a_second_time(tree):
    case = handling_case(tree)
    with time_machine.travel(at(2027, 1, 6, 16, 30), tick=False):
        sweep_deadlines(now=at(2027, 1, 6, 16, 30))  # the reminder of the step is sent
        CalendarDay.objects.create(date=date(2027, 1, 4), kind=DayKind.HOLIDAY)
        recompute_deadlines_for_years.apply(args=[[2027]])
    case.refresh_from_db()
    assert case.due_at == at(2027, 1, 11, 10, 0)
    assert case.remind_at is None
    with time_machine.travel(at(2027, 1, 8, 9, 0), tick=False):
        assert sweep_deadlines(now=at(2027, 1, 8, 9, 0)).reminded == 0
    assert CaseEvent.objects.filter(case=case, action=Action.REMIND).count() == 1
    case.refresh_from_db()
    assert case.reminder_count == 1


def test_recompute_moves_the_handling_deadline_used_for_on_time_closing(tree):
    case = handling_case(tree)
    assert case.handle_due_at == at(2027, 1, 8, 10, 0)
    with time_machine.travel(at(2026, 12, 30, 11, 0), tick=False):
        CalendarDay.objects.create(date=date(2027, 1, 4), kind=DayKind.HOLIDAY)
        recompute_deadlines_for_years.apply(args=[[2027]])
    case.refresh_from_db()
    assert case.handle_due_at == at(2027, 1, 11, 10, 0)


def test_overdue_case_whose_deadline_moves_into_the_future_is_no_longer_overdue(tree):
    case = handling_case(tree)
    with time_machine.travel(at(2027, 1, 8, 10, 30), tick=False):
        sweep_deadlines(now=at(2027, 1, 8, 10, 30))
        case.refresh_from_db()
        assert case.is_overdue and case.escalate_at == at(2027, 1, 9, 10, 0)
        CalendarDay.objects.create(date=date(2027, 1, 4), kind=DayKind.HOLIDAY)
        recompute_deadlines_for_years.apply(args=[[2027]])
    case.refresh_from_db()
    assert case.due_at == at(2027, 1, 11, 10, 0)
    assert not case.is_overdue
    assert case.escalate_at is None
    with time_machine.travel(at(2027, 1, 10, 12, 0), tick=False):
        assert sweep_deadlines(now=at(2027, 1, 10, 12, 0)).escalated == 0
    assert Case.objects.get(pk=case.pk).state == CaseState.HANDLING
