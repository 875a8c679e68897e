"""The deadline sweep (cases.sweep): reminders at 80% of a step, overdue + supervision at the
deadline, automatic escalation after the grace period, notifications after commit, and two sweeps
at once. Time is moved with time_machine (never slept). Every expected time is computed by hand
in the comment next to it: working hours 08:30–12:00 and 14:00–17:30 (420 minutes a day) on the
official 2026 schedule (2026-11-24 is a Tuesday, 11-28/29 a weekend)."""

import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.db import connection

from cases.choices import Action, CaseState
from cases.models import Case, CaseEvent, Category, Notification, Reminder, Supervision
from cases.services import case_act, case_report
from cases.sweep import sweep_deadlines
from staff.choices import Role

SH = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.usefixtures("fresh_calendar")


def at(year, month, day, hour=0, minute=0, second=0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=SH)


TUE_0900 = at(2026, 11, 24, 9, 0)  # a normal working Tuesday


def file_case(tree, code="0202", when=TUE_0900, area="grid_a", description="路口有人聚众赌博", **kwargs):
    with time_machine.travel(when, tick=False):
        return case_report(
            reporter=tree.users[Role.GRID_WORKER],
            area=tree[area],
            category=Category.objects.get(code=code),
            description=description,
            now=when,
            **kwargs,
        )


def sweep_at(when, **kwargs):
    with time_machine.travel(when, tick=False):
        return sweep_deadlines(now=when, **kwargs)


def act_at(when, case, action, actor, **params):
    with time_machine.travel(when, tick=False):
        return case_act(case_id=case.pk, action=action, actor=actor, now=when, **params)


def actions(case) -> list[str]:
    return list(CaseEvent.objects.filter(case=case).order_by("seq").values_list("action", flat=True))


def counts(result) -> tuple[int, int, int]:
    return result.reminded, result.overdue, result.escalated


# --- reminders ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_filing_starts_accept_step_of_one_working_hour_with_reminder_at_80_percent(tree):
    case = file_case(tree)
    assert case.state == CaseState.REPORTED
    assert case.owner_area == tree["town_a"]  # 0202 is handled at town level
    assert case.step == 1
    assert case.due_at == at(2026, 11, 24, 10, 0)  # 09:00 + 1 working hour
    assert case.remind_at == at(2026, 11, 24, 9, 48)  # 80% of 60 min = 48 min
    assert case.step_budget_minutes == 60


@pytest.mark.django_db
def test_sweep_before_remind_time_does_nothing(tree):
    case = file_case(tree)
    result = sweep_at(at(2026, 11, 24, 9, 47, 59))
    assert counts(result) == (0, 0, 0)
    assert not Reminder.objects.exists()
    assert actions(case) == [Action.REPORT]
    case.refresh_from_db()
    assert case.remind_at == at(2026, 11, 24, 9, 48)
    assert case.reminder_count == 0


@pytest.mark.django_db
def test_sweep_at_remind_time_sends_one_automatic_reminder(tree):
    case = file_case(tree)
    result = sweep_at(at(2026, 11, 24, 9, 50))
    assert counts(result) == (1, 0, 0)

    reminder = Reminder.objects.get(case=case)
    assert (reminder.step, reminder.automatic, reminder.sent_by) == (1, True, None)
    assert reminder.due_at == at(2026, 11, 24, 10, 0)
    event = CaseEvent.objects.get(case=case, action=Action.REMIND)
    assert event.actor is None
    assert (event.from_state, event.to_state) == (CaseState.REPORTED, CaseState.REPORTED)
    assert event.seq == 2
    case.refresh_from_db()
    assert case.remind_at is None
    assert case.reminder_count == 1
    assert not case.is_overdue


@pytest.mark.django_db
def test_second_sweep_does_not_remind_again(tree):
    case = file_case(tree)
    sweep_at(at(2026, 11, 24, 9, 50))
    result = sweep_at(at(2026, 11, 24, 9, 55))
    assert counts(result) == (0, 0, 0)
    assert Reminder.objects.filter(case=case).count() == 1
    assert actions(case) == [Action.REPORT, Action.REMIND]
    case.refresh_from_db()
    assert case.reminder_count == 1


@pytest.mark.django_db
def test_reminder_is_due_exactly_at_remind_time(tree):
    case = file_case(tree)
    assert counts(sweep_at(at(2026, 11, 24, 9, 48))) == (1, 0, 0)
    assert Reminder.objects.filter(case=case, automatic=True).count() == 1


# --- overdue and supervision ----------------------------------------------------------------------


@pytest.mark.django_db
def test_sweep_after_deadline_marks_overdue_and_opens_supervision_at_county(tree):
    case = file_case(tree)
    sweep_at(at(2026, 11, 24, 9, 50))
    result = sweep_at(at(2026, 11, 24, 10, 1))
    assert counts(result) == (0, 1, 0)

    case.refresh_from_db()
    assert case.is_overdue and case.is_supervised
    assert case.state == CaseState.REPORTED  # overdue changes no state
    assert case.remind_at is None
    # Deadline 10:00 + GRIDGOV_AUTO_ESCALATE_AFTER_HOURS natural hours (24 by default).
    assert settings.GRIDGOV_AUTO_ESCALATE_AFTER_HOURS == 24
    assert case.escalate_at == at(2026, 11, 25, 10, 0)
    supervision = Supervision.objects.get(case=case)
    assert (supervision.step, supervision.automatic, supervision.is_open) == (1, True, True)
    assert supervision.level_area == tree["county"]  # the level above the town that holds it
    assert supervision.opened_by is None
    event = CaseEvent.objects.get(case=case, action=Action.OVERDUE)
    assert event.actor is None
    assert actions(case) == [Action.REPORT, Action.REMIND, Action.OVERDUE]


@pytest.mark.django_db
def test_second_sweep_after_deadline_creates_nothing_new(tree):
    case = file_case(tree)
    sweep_at(at(2026, 11, 24, 10, 1))
    result = sweep_at(at(2026, 11, 24, 10, 30))
    assert counts(result) == (0, 0, 0)
    assert Supervision.objects.filter(case=case).count() == 1
    assert Reminder.objects.filter(case=case).count() == 1
    assert actions(case).count(Action.OVERDUE) == 1
    case.refresh_from_db()
    assert case.escalate_at == at(2026, 11, 25, 10, 0)


@pytest.mark.django_db
def test_escalate_at_follows_the_configured_grace_period(tree, settings):
    settings.GRIDGOV_AUTO_ESCALATE_AFTER_HOURS = 2.5
    case = file_case(tree)
    sweep_at(at(2026, 11, 24, 10, 1))
    case.refresh_from_db()
    assert case.escalate_at == at(2026, 11, 24, 12, 30)  # 10:00 + 2.5 natural hours (lunch counts)


# --- automatic escalation -------------------------------------------------------------------------


@pytest.mark.django_db
def test_overdue_case_is_not_escalated_before_grace_period_ends(tree):
    case = file_case(tree)
    sweep_at(at(2026, 11, 24, 10, 1))
    result = sweep_at(at(2026, 11, 25, 9, 59))
    assert counts(result) == (0, 0, 0)
    case.refresh_from_db()
    assert case.state == CaseState.REPORTED
    assert case.owner_area == tree["town_a"]


@pytest.mark.django_db
def test_sweep_after_grace_period_escalates_one_level_with_a_new_accept_step(tree):
    case = file_case(tree)
    sweep_at(at(2026, 11, 24, 10, 1))
    version = Case.objects.get(pk=case.pk).version
    result = sweep_at(at(2026, 11, 25, 10, 5))
    assert counts(result) == (0, 0, 1)

    case.refresh_from_db()
    assert case.state == CaseState.ESCALATED
    assert case.owner_area == tree["county"]
    assert case.owner_department is None
    assert case.version == version + 1
    event = CaseEvent.objects.get(case=case, action=Action.ESCALATE)
    assert event.actor is None
    assert event.data == {"automatic": True}
    assert (event.from_state, event.to_state) == (CaseState.REPORTED, CaseState.ESCALATED)
    assert (event.owner_before, event.owner_after) == ("千岛湖镇", "淳安县")
    # A new step: accept limit of 1 working hour from Wed 10:05 → 11:05; reminder at 48 min → 10:53.
    assert case.step == 2
    assert case.step_started_at == at(2026, 11, 25, 10, 5)
    assert case.due_at == at(2026, 11, 25, 11, 5)
    assert case.remind_at == at(2026, 11, 25, 10, 53)
    assert not case.is_overdue and not case.is_supervised
    assert case.escalate_at is None
    supervision = Supervision.objects.get(case=case, step=1)
    assert not supervision.is_open
    assert supervision.closed_at == at(2026, 11, 25, 10, 5)


@pytest.mark.django_db
def test_escalation_happens_once(tree):
    case = file_case(tree)
    sweep_at(at(2026, 11, 24, 10, 1))
    sweep_at(at(2026, 11, 25, 10, 5))
    result = sweep_at(at(2026, 11, 25, 10, 6))
    assert counts(result) == (0, 0, 0)
    assert actions(case).count(Action.ESCALATE) == 1


@pytest.mark.django_db
def test_overdue_at_the_top_level_is_supervised_by_the_county_but_never_escalated(tree):
    case = file_case(tree)
    sweep_at(at(2026, 11, 24, 10, 1))
    sweep_at(at(2026, 11, 25, 10, 5))  # escalated to the county, due 11:05
    assert counts(sweep_at(at(2026, 11, 25, 11, 6))) == (1, 1, 0)

    case.refresh_from_db()
    assert case.is_overdue
    assert case.escalate_at is None  # nothing above the county
    supervision = Supervision.objects.get(case=case, step=2)
    assert supervision.level_area == tree["county"]
    assert counts(sweep_at(at(2026, 12, 24, 9, 0))) == (0, 0, 0)
    case.refresh_from_db()
    assert case.state == CaseState.ESCALATED
    assert actions(case).count(Action.ESCALATE) == 1


# --- notifications --------------------------------------------------------------------------------


def inbox(kind) -> list[int]:
    return sorted(Notification.objects.filter(kind=kind).values_list("recipient_id", flat=True))


@pytest.mark.django_db
def test_sweep_notifies_holder_of_reminder_and_level_above_of_overdue(tree, django_capture_on_commit_callbacks):
    case = file_case(tree)
    centre, leader = tree.users[Role.CENTRE_STAFF], tree.users[Role.TOWN_LEADER]
    county = tree.users[Role.COUNTY_OFFICIAL]

    with django_capture_on_commit_callbacks(execute=True):
        sweep_at(at(2026, 11, 24, 9, 50))
    assert inbox(Action.REMIND) == sorted([centre.pk, leader.pk])
    note = Notification.objects.get(recipient=centre, kind=Action.REMIND)
    assert note.case == case
    assert note.event == CaseEvent.objects.get(case=case, action=Action.REMIND)
    assert case.number in note.message

    with django_capture_on_commit_callbacks(execute=True):
        sweep_at(at(2026, 11, 24, 10, 1))
    assert inbox(Action.OVERDUE) == [county.pk]

    before = Notification.objects.count()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        sweep_at(at(2026, 11, 24, 10, 30))
    assert callbacks == []
    assert Notification.objects.count() == before
    assert inbox(Action.REMIND) == sorted([centre.pk, leader.pk])
    assert inbox(Action.OVERDUE) == [county.pk]


@pytest.mark.django_db
def test_automatic_escalation_notifies_the_new_holder(tree, django_capture_on_commit_callbacks):
    file_case(tree)
    sweep_at(at(2026, 11, 24, 10, 1))
    with django_capture_on_commit_callbacks(execute=True):
        sweep_at(at(2026, 11, 25, 10, 5))
    assert inbox(Action.ESCALATE) == [tree.users[Role.COUNTY_OFFICIAL].pk]


@pytest.mark.django_db
def test_sweep_delivering_twice_creates_no_duplicate_notifications(tree, django_capture_on_commit_callbacks):
    from cases.notifications import deliver

    file_case(tree)
    with django_capture_on_commit_callbacks(execute=True):
        sweep_at(at(2026, 11, 24, 10, 1))  # reminder and overdue in one pass
    before = sorted(Notification.objects.values_list("recipient_id", "kind"))
    assert len(before) == 3  # remind: centre staff + town leader; overdue: county official
    deliver(list(CaseEvent.objects.values_list("pk", flat=True).filter(action__in=[Action.REMIND, Action.OVERDUE])))
    assert sorted(Notification.objects.values_list("recipient_id", "kind")) == before


# --- urgent categories: natural time ---------------------------------------------------------------


@pytest.mark.django_db
def test_urgent_deadline_runs_through_the_lunch_break(tree):
    case = file_case(tree, code="0302", when=at(2026, 11, 24, 11, 55))
    assert case.due_at == at(2026, 11, 24, 12, 5)  # 10 natural minutes; 12:00–14:00 counts
    assert case.step_budget_minutes is None
    result = sweep_at(at(2026, 11, 24, 12, 6))
    assert result.overdue == 1
    case.refresh_from_db()
    assert case.is_overdue
    assert case.escalate_at == at(2026, 11, 25, 12, 5)


@pytest.mark.django_db
def test_urgent_reminder_at_80_percent_of_natural_time_through_the_lunch_break(tree):
    case = file_case(tree, code="0302", when=at(2026, 11, 24, 11, 55))
    # 80% of 10 natural minutes = 8 minutes → 12:03, during the lunch break.
    assert case.remind_at == at(2026, 11, 24, 12, 3)


@pytest.mark.django_db
def test_urgent_handling_reminder_counts_nights_and_weekend(tree):
    case = file_case(tree, when=at(2026, 11, 27, 15, 50), urgency="urgent")  # 0202 filed as urgent
    assert case.due_at == at(2026, 11, 27, 16, 50)  # 1 working hour becomes 1 natural hour
    act_at(at(2026, 11, 27, 16, 0), case, Action.ACCEPT, tree.users[Role.CENTRE_STAFF])
    case.refresh_from_db()
    assert case.due_at == at(2026, 11, 29, 16, 0)  # 2 working days become 48 natural hours (Sunday)
    assert case.remind_at == at(2026, 11, 29, 6, 24)  # 80% of 48 h = 38 h 24 min after Fri 16:00


@pytest.mark.django_db
def test_urgent_case_filed_at_night_is_reminded_and_overdue_the_same_night(tree):
    case = file_case(tree, code="0302", when=at(2026, 11, 24, 21, 0))
    assert case.due_at == at(2026, 11, 24, 21, 10)  # 10 natural minutes at night
    assert case.remind_at == at(2026, 11, 24, 21, 8)  # 80% of 10 min
    assert counts(sweep_at(at(2026, 11, 24, 21, 7))) == (0, 0, 0)
    assert counts(sweep_at(at(2026, 11, 24, 21, 8))) == (1, 0, 0)
    assert counts(sweep_at(at(2026, 11, 24, 21, 10, 30))) == (0, 1, 0)
    case.refresh_from_db()
    assert case.is_overdue
    assert case.escalate_at == at(2026, 11, 25, 21, 10)
    assert counts(sweep_at(at(2026, 11, 25, 21, 10))) == (0, 0, 1)  # escalated in the night, too
    case.refresh_from_db()
    assert case.state == CaseState.ESCALATED
    assert case.due_at == at(2026, 11, 25, 21, 20)


# --- states without a clock ------------------------------------------------------------------------


@pytest.mark.django_db
def test_closed_case_is_never_claimed_even_with_stale_clock_columns(tree):
    case = file_case(tree)
    Case.objects.filter(pk=case.pk).update(
        state=CaseState.CLOSED,
        remind_at=at(2026, 11, 24, 9, 48),
        due_at=at(2026, 11, 24, 10, 0),
        escalate_at=at(2026, 11, 24, 11, 0),
    )
    assert counts(sweep_at(at(2026, 12, 24, 9, 0))) == (0, 0, 0)
    assert not Reminder.objects.exists()
    assert not Supervision.objects.exists()
    assert actions(case) == [Action.REPORT]
    case.refresh_from_db()
    assert (case.is_overdue, case.is_supervised, case.reminder_count) == (False, False, 0)


@pytest.mark.django_db
def test_information_item_and_rejected_case_have_no_clock(tree):
    info = file_case(tree, code="0203")  # 信息类: recorded and closed at once
    assert info.state == CaseState.CLOSED
    assert (info.due_at, info.remind_at) == (None, None)
    rejected = file_case(tree, description="重复上报")
    act_at(at(2026, 11, 24, 9, 10), rejected, Action.REJECT, tree.users[Role.CENTRE_STAFF], note="重复")
    rejected.refresh_from_db()
    assert (rejected.due_at, rejected.remind_at, rejected.escalate_at) == (None, None, None)
    assert counts(sweep_at(at(2026, 12, 24, 9, 0))) == (0, 0, 0)
    assert not Reminder.objects.exists() and not Supervision.objects.exists()


# --- the handling step at a department ---------------------------------------------------------------


@pytest.mark.django_db
def test_accept_starts_two_working_day_handling_step_across_the_weekend(tree):
    case = file_case(tree, when=at(2026, 11, 26, 9, 0))  # Thursday
    act_at(at(2026, 11, 26, 9, 30), case, Action.ACCEPT, tree.users[Role.CENTRE_STAFF])
    case.refresh_from_db()
    assert case.state == CaseState.HANDLING
    assert case.accepted_on_time is True
    # 2 working days from Thu 09:30: Fri 27 (1), Sat/Sun off, Mon 30 (2) → Mon 09:30.
    assert case.due_at == at(2026, 11, 30, 9, 30)
    assert case.handle_due_at == case.due_at
    assert case.step_budget_minutes == 840
    # 80% of 840 = 672 min: Thu 150 + 210 = 360; Fri morning 210 → 570; 102 more → Fri 15:42.
    assert case.remind_at == at(2026, 11, 27, 15, 42)


@pytest.mark.django_db
def test_dispatch_to_department_starts_handling_step_across_the_weekend(tree, django_capture_on_commit_callbacks):
    centre = tree.users[Role.CENTRE_STAFF]
    dept = tree.departments["dept_a"]
    case = file_case(tree, when=at(2026, 11, 26, 9, 0))
    act_at(at(2026, 11, 26, 9, 30), case, Action.ACCEPT, centre)
    act_at(at(2026, 11, 27, 10, 0), case, Action.DISPATCH, centre, target=dept)  # Friday
    case.refresh_from_db()
    assert case.state == CaseState.HANDLING
    assert case.owner_department == dept and case.owner_area is None
    assert case.dispatcher_area == tree["town_a"]
    assert case.step == 3
    # 2 working days from Fri 10:00: Mon 30 (1), Tue 12-01 (2) → Tue 10:00.
    assert case.due_at == at(2026, 12, 1, 10, 0)
    assert case.handle_due_at == case.due_at
    # 80% of 840 = 672 min: Fri 120 + 210 = 330; Mon morning 210 → 540; 132 more → Mon 16:12.
    assert case.remind_at == at(2026, 11, 30, 16, 12)

    with django_capture_on_commit_callbacks(execute=True):
        assert counts(sweep_at(at(2026, 11, 30, 16, 11))) == (0, 0, 0)
        assert counts(sweep_at(at(2026, 11, 30, 16, 12))) == (1, 0, 0)
    assert inbox(Action.REMIND) == [tree.users[Role.DEPARTMENT].pk]

    with django_capture_on_commit_callbacks(execute=True):
        assert counts(sweep_at(at(2026, 12, 1, 10, 1))) == (0, 1, 0)
    supervision = Supervision.objects.get(case=case, step=3)
    assert supervision.level_area == tree["town_a"]  # the dispatcher supervises its department
    assert inbox(Action.OVERDUE) == sorted([centre.pk, tree.users[Role.TOWN_LEADER].pk])
    case.refresh_from_db()
    assert case.escalate_at == at(2026, 12, 2, 10, 0)

    assert counts(sweep_at(at(2026, 12, 2, 10, 0))) == (0, 0, 1)
    case.refresh_from_db()
    assert case.state == CaseState.ESCALATED
    assert case.owner_area == tree["town_a"] and case.owner_department is None
    assert case.dispatcher_area is None
    assert case.due_at == at(2026, 12, 2, 11, 0)  # accept limit: 1 working hour


# --- a step extended after it passed its deadline ----------------------------------------------------


def extended_after_overdue(tree):
    """Dispatched Thu 11-26 09:30 (due Mon 11-30 09:30), overdue, then extended by one working day
    on Mon 10:30: due Tue 12-01 10:30, reminder at 80% of 420 min from Mon 10:30 → Tue 09:06."""
    centre = tree.users[Role.CENTRE_STAFF]
    case = file_case(tree, when=at(2026, 11, 26, 9, 0))
    act_at(at(2026, 11, 26, 9, 30), case, Action.DISPATCH, centre, target=tree.departments["dept_a"])
    assert counts(sweep_at(at(2026, 11, 30, 9, 31))) == (1, 1, 0)
    act_at(
        at(2026, 11, 30, 10, 0),
        case,
        Action.REQUEST_EXTENSION,
        tree.users[Role.DEPARTMENT],
        note="需协调派出所",
        amount=1,
        unit="working_days",
    )
    act_at(at(2026, 11, 30, 10, 30), case, Action.APPROVE_EXTENSION, centre)
    case.refresh_from_db()
    assert case.due_at == at(2026, 12, 1, 10, 30)
    assert case.remind_at == at(2026, 12, 1, 9, 6)
    assert not case.is_overdue and not case.is_supervised
    return case


@pytest.mark.django_db
def test_extended_step_that_misses_its_new_deadline_is_supervised_again(tree):
    case = extended_after_overdue(tree)
    assert not Supervision.objects.filter(case=case, is_open=True).exists()
    assert counts(sweep_at(at(2026, 12, 1, 10, 31))) == (1, 1, 0)
    case.refresh_from_db()
    assert case.is_overdue and case.is_supervised
    # The approved extension started a new step: the first miss's record is closed, the new
    # step has its own open one.
    first, second = Supervision.objects.filter(case=case, automatic=True).order_by("step")
    assert not first.is_open and first.step < case.step
    supervision = second
    assert supervision.step == case.step
    assert supervision.is_open and supervision.closed_at is None
    assert supervision.level_area == tree["town_a"]


@pytest.mark.django_db
def test_every_automatic_reminder_of_an_extended_step_has_its_reminder_row(tree):
    case = extended_after_overdue(tree)
    assert counts(sweep_at(at(2026, 12, 1, 9, 10))) == (1, 0, 0)
    case.refresh_from_db()
    assert case.reminder_count == 2
    assert Reminder.objects.filter(case=case, automatic=True).count() == case.reminder_count


# --- two sweeps at once ---------------------------------------------------------------------------


def ensure_catalogue():
    """The default catalogue of migration 0003 (a transactional test flushes it away afterwards)."""
    import importlib

    from django.apps import apps

    importlib.import_module("cases.migrations.0003_default_categories").add(apps, None)


def in_threads(count, work):
    """Run work(i) in `count` threads started together; each thread closes its own connection."""
    barrier = threading.Barrier(count)
    results, errors = [None] * count, []

    def run(i):
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except BaseException as exc:  # reported in the test thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    if errors:
        raise errors[0]
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sweeps_remind_and_supervise_each_case_exactly_once():
    from tests.factories import build_tree

    ensure_catalogue()
    tree = build_tree()
    category = Category.objects.get(code="0202")
    reporter = tree.users[Role.GRID_WORKER]
    with time_machine.travel(TUE_0900, tick=False):
        ids = [
            case_report(
                reporter=reporter, area=tree["grid_a"], category=category, description=f"隐患 {i}", now=TUE_0900
            ).pk
            for i in range(200)
        ]

    reminded = in_threads(2, lambda i: sweep_deadlines(now=at(2026, 11, 24, 9, 50), batch=25).reminded)
    assert sum(reminded) == 200
    assert Reminder.objects.filter(automatic=True).count() == 200
    assert set(Reminder.objects.values_list("case_id", flat=True)) == set(ids)
    assert CaseEvent.objects.filter(action=Action.REMIND).count() == 200
    assert set(CaseEvent.objects.filter(action=Action.REMIND).values_list("case_id", flat=True)) == set(ids)
    assert set(Case.objects.values_list("reminder_count", flat=True)) == {1}

    overdue = in_threads(2, lambda i: sweep_deadlines(now=at(2026, 11, 24, 10, 1), batch=25).overdue)
    assert sum(overdue) == 200
    assert Supervision.objects.filter(automatic=True).count() == 200
    assert set(Supervision.objects.values_list("case_id", flat=True)) == set(ids)
    assert CaseEvent.objects.filter(action=Action.OVERDUE).count() == 200
    assert Case.objects.filter(is_overdue=True, is_supervised=True).count() == 200
    # Event numbers stayed unique per case: report, remind, overdue.
    assert set(CaseEvent.objects.filter(action=Action.OVERDUE).values_list("seq", flat=True)) == {3}
    assert Reminder.objects.count() == 200  # nothing reminded twice either
