"""Demo case history (gridgov.demo_cases): consistent rows, every state and path, and the engine
can carry on from what was generated."""

import datetime as dt
from collections import Counter, defaultdict
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db.models import Count
from django.utils import timezone

from cases import services
from cases.choices import OPEN_STATES, Action, CaseKind, CaseState
from cases.models import Case, CaseEvent, CaseNumber, ExtensionRequest, Reminder, Supervision
from gridgov.demo_cases import CaseHistoryBuilder
from grids.choices import AreaLevel
from grids.models import Area
from grids.paths import PATH_FIELDS, PathCache
from staff.choices import Role
from staff.models import Post

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_calendar")]
COUNT = 300
# A working Wednesday noon: the short-lived states (reported and overdue, escalated, awaiting the
# check) exist at such a moment; after a weekend the sweep has escalated every overdue case.
NOW = dt.datetime(2026, 11, 25, 12, 15, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture
def history(demo_place):
    now = NOW
    builder = CaseHistoryBuilder(COUNT, seed=5, now=now, log=lambda *a: None)
    stats = builder.build()
    return now, stats, builder


def test_history_covers_every_state_and_path(history):
    _now, stats, _builder = history
    assert stats["cases"] == Case.objects.count() == COUNT
    states = Counter(Case.objects.values_list("state", flat=True))
    assert set(states) == set(CaseState.values), states
    actions = set(CaseEvent.objects.values_list("action", flat=True))
    for action in (
        Action.REPORT,
        Action.ACCEPT,
        Action.DISPATCH,
        Action.SIGN,
        Action.SUBMIT_FEEDBACK,
        Action.VERIFY,
        Action.SELF_RESOLVE,
        Action.REWORK,
        Action.RETURN,
        Action.ESCALATE,
        Action.REQUEST_EXTENSION,
        Action.APPROVE_EXTENSION,
        Action.REJECT,
        Action.RATE,
        Action.REMIND,
        Action.OVERDUE,
    ):
        assert action in actions, action
    assert Case.objects.filter(kind=CaseKind.INFORMATION, state=CaseState.CLOSED).exists()
    assert Case.objects.filter(state=CaseState.CLOSED, closed_on_time=True).exists()
    assert Case.objects.filter(state=CaseState.CLOSED, closed_on_time=False).exists()
    assert Case.objects.filter(state=CaseState.CLOSED, self_resolved=True).exists()
    assert Case.objects.filter(state=CaseState.HANDLING, owner_department__isnull=False).exists()
    assert Case.objects.filter(state__in=OPEN_STATES, is_overdue=True, is_supervised=True).exists()
    assert Case.objects.filter(state__in=OPEN_STATES, is_overdue=False).exists()
    ratings = set(Case.objects.exclude(rating="").values_list("rating", flat=True))
    assert ratings == {"satisfied", "basically", "unsatisfied"}
    assert ExtensionRequest.objects.filter(status="approved").count() == sum(
        Case.objects.values_list("extension_count", flat=True)
    )
    # Most filings are made in working hours.
    hours = [timezone.localtime(c).time() for c in Case.objects.values_list("created_at", flat=True)]
    in_office = sum(dt.time(8, 30) <= t < dt.time(17, 30) for t in hours)
    assert in_office > 0.7 * len(hours)


def test_every_case_is_consistent(history):
    now = history[0]
    events = defaultdict(list)
    for e in CaseEvent.objects.order_by("case_id", "seq"):
        events[e.case_id].append(e)
    paths = PathCache()
    worker_grid = dict(Post.objects.filter(role=Role.GRID_WORKER).values_list("user_id", "area_id"))
    areas = {a.pk: a for a in Area.objects.all()}
    numbers = set()
    for case in Case.objects.all():
        trail = events[case.pk]
        assert [e.seq for e in trail] == list(range(1, len(trail) + 1)), case.number
        assert trail[0].action == Action.REPORT and trail[0].actor_id == case.reporter_id
        assert case.version == len(trail)
        assert trail[-1].to_state == case.state, (case.number, [e.action for e in trail])
        times = [e.created_at for e in trail]
        assert times == sorted(times) and times[0] == case.created_at and times[-1] <= now
        # counters follow the trail
        count = Counter(e.action for e in trail)
        assert case.dispatch_count == count[Action.DISPATCH]
        assert case.rework_count == count[Action.REWORK]
        assert case.return_count == count[Action.RETURN]
        assert case.extension_count == count[Action.APPROVE_EXTENSION]
        assert case.reminder_count == count[Action.REMIND] + count[Action.URGE]
        # the reporter is a grid worker of the case's grid
        grid = areas[case.area_id] if case.area.level != "group" else areas[case.area.parent_id]
        assert worker_grid[case.reporter_id] == grid.pk
        # number: local date of filing + 5-digit daily sequence, unique
        assert case.number[:8] == timezone.localtime(case.created_at).strftime("%Y%m%d")
        assert len(case.number) == 13 and case.number not in numbers
        numbers.add(case.number)
        for field in PATH_FIELDS:
            assert getattr(case, f"{field}_id") == paths(case.area_id)[field]
        if case.state in OPEN_STATES:
            assert case.due_at is not None and case.step_started_at is not None
            assert case.is_overdue == (case.due_at < now), case.number
            assert case.is_supervised or not case.is_overdue
            assert (case.owner_area_id is None) != (case.owner_department_id is None)
        else:
            assert case.due_at is None and case.remind_at is None and not case.is_overdue
        if case.state == CaseState.CLOSED:
            assert case.closed_at is not None and case.closed_at >= case.created_at
            if case.kind != CaseKind.INFORMATION and case.merged_into_id is None:
                on_time = case.handle_due_at is None or case.feedback_at <= case.handle_due_at
                assert case.feedback_at is not None and case.closed_on_time == on_time
        if case.kind == CaseKind.INFORMATION:
            assert [e.action for e in trail] == [Action.REPORT] and case.state == CaseState.CLOSED
        if case.merged_into_id:
            assert trail[-1].action == Action.MERGE and trail[-1].data["into"] == case.merged_into_id
        if case.accepted_at is not None:
            assert case.accepted_on_time is not None
    # automatic reminders / supervisions: at most one per step, open supervisions only on open cases
    assert not Reminder.objects.filter(automatic=True).values("case", "step").annotate(n=Count("id")).filter(n__gt=1)
    open_sup = set(Supervision.objects.filter(is_open=True).values_list("case_id", flat=True))
    assert open_sup == set(Case.objects.filter(is_supervised=True).values_list("pk", flat=True))
    assert not Case.objects.filter(pk__in=open_sup).exclude(state__in=OPEN_STATES).exists()


def test_every_case_is_visible_to_the_centre_staff_of_its_town(history):
    towns = Case.objects.values_list("town_id", flat=True).distinct()
    for town_id in towns:
        post = Post.objects.filter(role=Role.CENTRE_STAFF, area_id=town_id).select_related("user").first()
        visible = set(Case.objects.visible_to(post.user).values_list("pk", flat=True))
        assert set(Case.objects.filter(town_id=town_id).values_list("pk", flat=True)) <= visible


def test_the_engine_continues_from_generated_state(history):
    now = history[0]
    case = Case.objects.filter(state=CaseState.HANDLING, owner_department__isnull=False).first()
    staff = Post.objects.filter(department=case.owner_department).first().user
    done = services.case_act(case_id=case.pk, action=Action.SUBMIT_FEEDBACK, actor=staff, note="ok", now=now)
    assert done.state == CaseState.FEEDBACK and done.version == case.version + 1
    assert done.events.order_by("-seq").first().seq == case.version + 1

    reported = Case.objects.filter(state=CaseState.REPORTED, owner_area__level="town").first()
    centre = Post.objects.filter(role=Role.CENTRE_STAFF, area_id=reported.town_id).first().user
    accepted = services.case_act(case_id=reported.pk, action=Action.ACCEPT, actor=centre, now=now)
    assert accepted.state == CaseState.HANDLING and accepted.accepted_at <= now and accepted.assignee == centre


def test_same_seed_same_history_and_numbers_continue(demo_place):
    now = timezone.now()  # the real clock: whatever the moment, the rows are consistent

    def run():
        before = set(Case.objects.values_list("pk", flat=True))
        CaseHistoryBuilder(60, seed=9, now=now, log=lambda *a: None).build()
        new = Case.objects.exclude(pk__in=before).order_by("pk")
        return [
            (c.created_at, c.title, c.state, tuple(c.events.order_by("seq").values_list("action", flat=True)))
            for c in new
        ], [c.number for c in new]

    first, first_numbers = run()
    test_every_case_is_consistent((now, None, None))
    second, second_numbers = run()
    assert first == second
    assert not set(first_numbers) & set(second_numbers)
    # later filings continue the daily sequence
    today = timezone.localdate(now)
    last = CaseNumber.objects.get(day=today).last
    assert max(int(n[8:]) for n in first_numbers + second_numbers if n[:8] == f"{today:%Y%m%d}") == last
    assert services.next_case_number(now) == f"{today:%Y%m%d}{last + 1:05d}"


def test_seed_demo_cases_only_adds_cases_to_an_existing_place(tree):
    areas = Area.objects.count()
    call_command("seed_demo", "--cases", "40", "--cases-only", stdout=open("/dev/null", "w"))
    assert Case.objects.count() == 40 and Area.objects.count() == areas
    # On the small tree every case is filed in a grid with a grid worker.
    assert set(Case.objects.values_list("grid_id", flat=True)) <= {tree["grid_a"].pk, tree["grid_b"].pk}


@pytest.mark.postgres
def test_a_load_leaves_the_dashboard_rollup_folded(history):
    """The triggers append ~3 delta rows a case; the builder brings the rollup to its steady state
    (a first load recounts, a small top-up folds), and the counts are the recount's."""
    from django.db.models import Sum

    from cases.dashboard import rollup
    from cases.dashboard.rollup_models import GRAIN_CHILD, CaseDayStat

    _now, stats, _builder = history
    assert stats["rollup_fold_seconds"] is not None
    assert not any(m.objects.filter(compacted=False).exists() for m in rollup.TABLES)
    county = Area.objects.get(level=AreaLevel.COUNTY)
    children = CaseDayStat.objects.filter(node_key=county.pk, grain=GRAIN_CHILD)
    assert children.aggregate(n=Sum("reported"))["n"] == COUNT
    CaseHistoryBuilder(20, seed=6, now=NOW, log=lambda *a: None).build()  # a top-up: folded
    assert not any(m.objects.filter(compacted=False).exists() for m in rollup.TABLES)
    assert children.aggregate(n=Sum("reported"))["n"] == COUNT + 20
