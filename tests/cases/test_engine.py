"""The case flow through the services: every path of a case's life, and the refusals."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from cases import services
from cases.choices import Action, CaseState
from cases.models import Attachment, Case, Category, ExtensionRequest, Notification, Reminder, Supervision
from cases.transitions import IllegalTransition, InvalidInput, NotPermitted, allowed_actions
from staff.choices import Role
from staff.models import Department, Post
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
# Tuesday 2026-11-24, a normal working day.
T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=SH)
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


@pytest.fixture
def people(tree):
    u = tree.users
    return {
        "worker": u[Role.GRID_WORKER],
        "chief": u[Role.GRID_CHIEF],
        "zone": u[Role.ZONE_CHIEF],
        "centre": u[Role.CENTRE_STAFF],
        "leader": u[Role.TOWN_LEADER],
        "dept": u[Role.DEPARTMENT],
        "county": u[Role.COUNTY_OFFICIAL],
        "worker_b": u["worker_b"],
    }


def cat(code: str) -> Category:
    return Category.objects.get(code=code)


def photo(user) -> Attachment:
    att = Attachment(uploaded_by=user, content_type="image/jpeg", size=len(JPEG), sha256="0" * 64)
    att.file.save("p.jpg", SimpleUploadedFile("p.jpg", JPEG), save=False)
    att.save()
    return att


def report(tree, people, code="0202", area="grid_a", now=T0, **kw) -> Case:
    return services.case_report(
        reporter=people["worker"], area=tree[area], category=cat(code), description="路口有人聚集滋事", now=now, **kw
    )


def act(case, action, actor, **kw) -> Case:
    kw.setdefault("now", T0 + dt.timedelta(minutes=5 * (case.version + 1)))
    return services.case_act(case_id=case.pk, action=action, actor=actor, **kw)


def actions_of(case) -> list[str]:
    return list(case.events.order_by("seq").values_list("action", flat=True))


# --- filing -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "area", "owner"),
    [
        ("0202", "group_a", "town_a"),  # town-level category
        ("1302", "group_a", "village_a"),  # village-level category
        ("1401", "group_a", "grid_a"),  # grid-level category: the grid itself
        ("1302", "special_a", "town_a"),  # no village above a special grid: the next level up
    ],
)
def test_a_report_goes_to_the_owner_at_the_category_level(tree, people, code, area, owner):
    case = report(tree, people, code=code, area=area)
    assert case.state == CaseState.REPORTED
    assert case.owner_area == tree[owner]
    assert case.town_id == tree["town_a"].pk


def test_case_numbers_are_dated_and_sequential(tree, people):
    first = report(tree, people)
    second = report(tree, people)
    assert first.number == "2026112400001" and second.number == "2026112400002"


def test_accept_clock_starts_at_filing(tree, people):
    case = report(tree, people)  # 0202: accept within 1 working hour
    assert case.due_at == dt.datetime(2026, 11, 24, 10, 0, tzinfo=SH)
    assert case.remind_at == dt.datetime(2026, 11, 24, 9, 48, tzinfo=SH)
    assert case.step_budget_minutes == 60


def test_information_items_are_recorded_and_closed(tree, people):
    case = report(tree, people, code="0501")
    assert case.state == CaseState.CLOSED and case.due_at is None and case.closed_at == T0
    assert actions_of(case) == [Action.REPORT]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"area": "zone_a"}, "area"),
        ({"code": "02"}, "category"),
        ({"description": "  "}, "description"),
        ({"latitude": 123}, "latitude"),
    ],
)
def test_bad_reports_are_refused_with_field_errors_and_nothing_written(tree, people, changes, field):
    kwargs = {
        "reporter": people["worker"],
        "area": tree[changes.get("area", "grid_a")],
        "category": cat(changes.get("code", "0202")),
        "description": changes.get("description", "正常描述"),
    }
    if "latitude" in changes:
        kwargs["latitude"] = changes["latitude"]
    with pytest.raises(InvalidInput) as info:
        services.case_report(**kwargs)
    assert field in info.value.fields
    assert not Case.objects.exists()


# --- paths --------------------------------------------------------------------------------------


def test_self_resolve_is_checked_by_the_grid_chief_not_the_worker(tree, people, django_capture_on_commit_callbacks):
    case = report(tree, people, code="1401")
    with pytest.raises(InvalidInput) as info:
        act(case, Action.SELF_RESOLVE, people["worker"], note="已清理")
    assert "attachments" in info.value.fields
    with django_capture_on_commit_callbacks(execute=True):
        case = act(case, Action.SELF_RESOLVE, people["worker"], note="已清理", attachments=[photo(people["worker"])])
    assert case.state == CaseState.FEEDBACK and case.self_resolved
    assert Notification.objects.filter(recipient=people["chief"], case=case).exists()
    assert allowed_actions(case, people["worker"]) == []
    with pytest.raises(NotPermitted):
        act(case, Action.VERIFY, people["worker"])
    case = act(case, Action.VERIFY, people["chief"])
    assert case.state == CaseState.CLOSED
    assert case.attachments.count() == 1
    assert actions_of(case) == [Action.REPORT, Action.SELF_RESOLVE, Action.VERIFY]


def test_accept_dispatch_feedback_verify_closes_on_time(tree, people, django_capture_on_commit_callbacks):
    case = report(tree, people)
    case = act(case, Action.ACCEPT, people["centre"])
    assert case.state == CaseState.HANDLING and case.accepted_on_time
    with django_capture_on_commit_callbacks(execute=True):
        case = act(case, Action.DISPATCH, people["centre"], target=tree.departments["dept_a"])
    assert case.owner_department == tree.departments["dept_a"] and case.dispatcher_area == tree["town_a"]
    assert Notification.objects.filter(recipient=people["dept"], case=case, kind="dispatch").exists()
    case = act(case, Action.SUBMIT_FEEDBACK, people["dept"], note="已劝离并加强巡逻")
    assert case.state == CaseState.FEEDBACK
    case = act(case, Action.VERIFY, people["worker"], note="现场核实已处理")
    assert case.state == CaseState.CLOSED and case.closed_on_time is True
    assert actions_of(case) == [Action.REPORT, Action.ACCEPT, Action.DISPATCH, Action.SUBMIT_FEEDBACK, Action.VERIFY]


def test_the_department_signs_for_a_dispatched_case_once(tree, people):
    case = report(tree, people)
    case = act(case, Action.DISPATCH, people["centre"], target=tree.departments["dept_a"])
    # Dispatched Tue 09:10; 0202 accepts within 1 working hour: sign by 10:10.
    assert case.sign_due_at == dt.datetime(2026, 11, 24, 10, 10, tzinfo=SH)
    case = act(case, Action.SIGN, people["dept"])
    assert case.signed_at is not None and case.signed_on_time is True and case.assignee == people["dept"]
    with pytest.raises(IllegalTransition):
        act(case, Action.SIGN, people["dept"])
    with pytest.raises(NotPermitted):
        services.case_act(case_id=case.pk, action=Action.SIGN, actor=people["centre"])


def test_rework_loop_counts_and_returns_to_the_handler(tree, people):
    case = report(tree, people)
    case = act(case, Action.DISPATCH, people["centre"], target=tree.departments["dept_a"])
    case = act(case, Action.SUBMIT_FEEDBACK, people["dept"], note="已处理")
    with pytest.raises(InvalidInput):
        act(case, Action.REWORK, people["worker"])  # reason required
    case = act(case, Action.REWORK, people["worker"], note="现场仍有问题")
    assert case.state == CaseState.HANDLING and case.rework_count == 1
    assert case.owner_department == tree.departments["dept_a"]
    case = act(case, Action.SUBMIT_FEEDBACK, people["dept"], note="再次处理")
    case = act(case, Action.VERIFY, people["worker"])
    assert case.state == CaseState.CLOSED and case.rework_count == 1


def test_return_goes_back_to_the_dispatcher_and_can_be_redispatched(tree, people):
    case = report(tree, people)
    case = act(case, Action.DISPATCH, people["centre"], target=tree.departments["dept_a"])
    with pytest.raises(InvalidInput):
        act(case, Action.RETURN, people["dept"])
    case = act(case, Action.RETURN, people["dept"], note="不属于本单位职责")
    assert case.state == CaseState.REPORTED and case.owner_area == tree["town_a"] and case.return_count == 1
    with pytest.raises(IllegalTransition):
        act(case, Action.RETURN, people["centre"], note="x")  # not dispatched to the town
    case = act(case, Action.DISPATCH, people["centre"], target={"area": tree["village_a"].pk})
    assert case.owner_area == tree["village_a"] and case.dispatch_count == 2


def test_escalation_climbs_grid_village_zone_town_county_and_county_dispatches(tree, people):
    county_dept = Department.objects.create(code="D900", name="县住建局", kind="county_department", area=tree["county"])
    dept_user = UserFactory(username="county_dept")
    Post.objects.create(user=dept_user, role=Role.DEPARTMENT, department=county_dept)
    village_chief = UserFactory(username="village_chief")
    Post.objects.create(user=village_chief, role=Role.ZONE_CHIEF, area=tree["village_a"])

    case = report(tree, people, code="1401")  # owned by the grid
    case = act(case, Action.ESCALATE, people["chief"])
    assert (case.state, case.owner_area) == (CaseState.ESCALATED, tree["village_a"])
    case = act(case, Action.ESCALATE, village_chief)
    assert case.owner_area == tree["zone_a"]
    case = act(case, Action.ESCALATE, people["zone"])
    assert case.owner_area == tree["town_a"]
    case = act(case, Action.ESCALATE, people["centre"])  # 乡呼县应
    assert case.owner_area == tree["county"]
    with pytest.raises(NotPermitted):
        act(case, Action.ACCEPT, people["centre"])
    with pytest.raises(IllegalTransition):
        act(case, Action.ESCALATE, people["county"])  # nothing above the county
    case = act(case, Action.DISPATCH, people["county"], target=county_dept)
    assert case.owner_department == county_dept
    case = act(case, Action.SUBMIT_FEEDBACK, dept_user, note="已修复")
    case = act(case, Action.VERIFY, people["worker"])
    assert case.state == CaseState.CLOSED


def test_zone_chief_holds_a_village_without_staff_of_its_own(tree, people):
    case = report(tree, people, code="1302")  # village level; nobody is posted at village_a
    assert Action.ACCEPT in allowed_actions(case, people["zone"])
    case = act(case, Action.ACCEPT, people["zone"])
    assert case.state == CaseState.HANDLING


def test_extension_is_requested_by_the_handler_and_decided_above(tree, people):
    case = report(tree, people)
    case = act(case, Action.DISPATCH, people["centre"], target=tree.departments["dept_a"])
    old_due = case.due_at
    case = act(case, Action.REQUEST_EXTENSION, people["dept"], note="需协调多部门", amount=2, unit="working_days")
    with pytest.raises(IllegalTransition):
        act(case, Action.REQUEST_EXTENSION, people["dept"], note="再申请", amount=1, unit="working_days")
    with pytest.raises(NotPermitted):
        act(case, Action.APPROVE_EXTENSION, people["dept"])
    case = act(case, Action.APPROVE_EXTENSION, people["centre"], note="同意")
    assert case.extension_count == 1 and case.due_at > old_due and case.handle_due_at == case.due_at
    req = ExtensionRequest.objects.get(case=case)
    assert req.status == "approved" and req.old_due_at == old_due and req.new_due_at == case.due_at
    # Dispatched Tue 09:10 + 2 working days = Thu 2026-11-26 09:10; extended by 2 working days
    # = Mon 2026-11-30 09:10 (the weekend does not count).
    assert old_due == dt.datetime(2026, 11, 26, 9, 10, tzinfo=SH)
    assert case.due_at == dt.datetime(2026, 11, 30, 9, 10, tzinfo=SH)


def test_refused_extension_keeps_the_deadline(tree, people):
    case = report(tree, people)
    case = act(case, Action.DISPATCH, people["centre"], target=tree.departments["dept_a"])
    due = case.due_at
    case = act(case, Action.REQUEST_EXTENSION, people["dept"], note="理由", amount=1, unit="working_days")
    with pytest.raises(InvalidInput):
        act(case, Action.REFUSE_EXTENSION, people["centre"])
    case = act(case, Action.REFUSE_EXTENSION, people["centre"], note="时限足够")
    assert case.due_at == due and case.extension_count == 0


def test_reject_needs_a_reason_and_reopen_brings_it_back(tree, people):
    case = report(tree, people)
    with pytest.raises(InvalidInput):
        act(case, Action.REJECT, people["centre"])
    case = act(case, Action.REJECT, people["centre"], note="重复上报")
    assert case.state == CaseState.REJECTED and case.due_at is None
    with pytest.raises(NotPermitted):
        act(case, Action.REOPEN, people["centre"], note="x")  # the town cannot reopen its own rejection
    case = act(case, Action.REOPEN, people["county"], note="群众再次反映")
    assert case.state == CaseState.REPORTED and case.due_at is not None


def test_merge_closes_the_duplicate_and_tells_its_reporter(tree, people, django_capture_on_commit_callbacks):
    original = report(tree, people)
    duplicate = services.case_report(
        reporter=people["chief"], area=tree["grid_a"], category=cat("0202"), description="同一起事件", now=T0
    )
    with django_capture_on_commit_callbacks(execute=True):
        duplicate = act(duplicate, Action.MERGE, people["centre"], into=original.pk)
    assert duplicate.state == CaseState.CLOSED and duplicate.merged_into == original
    note = Notification.objects.get(recipient=people["chief"], case=duplicate, kind="merge")
    assert original.number in note.message
    with pytest.raises(IllegalTransition):
        act(duplicate, Action.ACCEPT, people["centre"])


def test_callback_rating_once_after_closing(tree, people):
    case = report(tree, people, code="1401")
    case = act(case, Action.SELF_RESOLVE, people["worker"], note="已处置", attachments=[photo(people["worker"])])
    case = act(case, Action.VERIFY, people["chief"])
    with pytest.raises(InvalidInput):
        act(case, Action.RATE, people["centre"], rating="great")
    case = act(case, Action.RATE, people["centre"], rating="satisfied")
    assert case.rating == "satisfied"
    with pytest.raises(IllegalTransition):
        act(case, Action.RATE, people["centre"], rating="unsatisfied")


def test_urge_and_supervise_are_recorded(tree, people, django_capture_on_commit_callbacks):
    case = report(tree, people)
    case = act(case, Action.DISPATCH, people["centre"], target=tree.departments["dept_a"])
    with django_capture_on_commit_callbacks(execute=True):
        case = act(case, Action.URGE, people["centre"], note="请尽快处理")
    assert case.reminder_count == 1 and Reminder.objects.filter(case=case, automatic=False).count() == 1
    assert Notification.objects.filter(recipient=people["dept"], kind="urge").exists()
    case = act(case, Action.SUPERVISE, people["leader"], note="列入重点督办")
    assert case.is_supervised and Supervision.objects.get(case=case).level_area == tree["town_a"]
    case = act(case, Action.SUBMIT_FEEDBACK, people["dept"], note="已处理")
    assert not case.is_supervised and not Supervision.objects.get(case=case).is_open


# --- refusals -----------------------------------------------------------------------------------


def test_illegal_action_for_the_state_is_refused_before_permissions(tree, people):
    case = report(tree, people)
    with pytest.raises(IllegalTransition) as info:
        act(case, Action.VERIFY, people["worker"])
    assert "待受理" in info.value.message


def test_wrong_people_are_refused(tree, people):
    case = report(tree, people)
    for who in ("worker", "chief", "dept", "worker_b", "county"):
        with pytest.raises(NotPermitted):
            act(case, Action.ACCEPT, people[who])


def test_department_cannot_forward_a_dispatch(tree, people):
    case = report(tree, people)
    case = act(case, Action.DISPATCH, people["centre"], target=tree.departments["dept_a"])
    with pytest.raises(IllegalTransition) as info:
        act(case, Action.DISPATCH, people["dept"], target={"area": tree["grid_a"].pk})
    assert "退回" in info.value.message


@pytest.mark.parametrize("target", ["grid_b", "county", "zone_b"])
def test_dispatch_only_down_to_units_that_contain_the_case(tree, people, target):
    case = report(tree, people)
    with pytest.raises(InvalidInput) as info:
        act(case, Action.DISPATCH, people["centre"], target={"area": tree[target].pk})
    assert "target" in info.value.fields


def test_stale_version_is_a_conflict_naming_who_acted(tree, people):
    case = report(tree, people)
    seen = case.version
    people["centre"].first_name = "小明"
    people["centre"].last_name = "王"
    people["centre"].save()
    act(case, Action.ACCEPT, people["centre"], version=seen)
    from cases.transitions import Conflict

    with pytest.raises(Conflict) as info:
        act(case, Action.REJECT, people["leader"], version=seen, note="x")
    assert "小明" in info.value.message and "处置中" in info.value.message
    assert Case.objects.get(pk=case.pk).state == CaseState.HANDLING


def test_events_are_immutable(tree, people):
    from django.core.exceptions import ValidationError

    event = report(tree, people).events.get()
    event.note = "changed"
    with pytest.raises(ValidationError):
        event.save()
    with pytest.raises(ValidationError):
        event.delete()


# --- the table, role by role ---------------------------------------------------------------------

# Hand-written expectations for a case filed in grid_a under a town-level category, at each stage.
# Keys are people; values are the actions the table must offer them.
EXPECTED = {
    "reported at the town": {
        "worker": {"self_resolve"},
        "chief": {"self_resolve"},
        "zone": set(),
        "centre": {"accept", "reject", "dispatch", "escalate", "merge"},
        "leader": {"accept", "reject", "dispatch", "escalate", "merge"},
        "dept": set(),
        "county": {"urge", "supervise", "merge"},
        "worker_b": set(),
    },
    "dispatched to the department": {
        "worker": set(),
        "chief": set(),
        "zone": set(),
        "centre": {"urge", "supervise", "merge"},
        "leader": {"urge", "supervise", "merge"},
        "dept": {"sign", "return", "escalate", "submit_feedback", "request_extension", "merge"},
        "county": {"urge", "supervise", "merge"},
        "worker_b": set(),
    },
    "waiting for the check": {
        "worker": {"verify", "rework"},
        "chief": {"verify", "rework"},
        "zone": set(),
        "centre": {"urge", "supervise"},
        "leader": {"urge", "supervise"},
        "dept": set(),
        "county": {"urge", "supervise"},
        "worker_b": set(),
    },
    "closed": {
        "worker": {"rate"},
        "chief": set(),
        "zone": set(),
        "centre": {"reopen", "rate"},
        "leader": {"reopen", "rate"},
        "dept": set(),
        "county": {"reopen"},
        "worker_b": set(),
    },
}


def _stage(tree, people, stage: str) -> Case:
    case = report(tree, people)
    if stage == "reported at the town":
        return case
    case = act(case, Action.DISPATCH, people["centre"], target=tree.departments["dept_a"])
    if stage == "dispatched to the department":
        return case
    case = act(case, Action.SUBMIT_FEEDBACK, people["dept"], note="已处理")
    if stage == "waiting for the check":
        return case
    return act(case, Action.VERIFY, people["worker"])


@pytest.mark.parametrize("stage", list(EXPECTED))
def test_allowed_actions_per_role_and_stage(tree, people, stage):
    case = _stage(tree, people, stage)
    for who, expected in EXPECTED[stage].items():
        fresh = Case.objects.select_related("owner_area", "owner_department__area", "area").get(pk=case.pk)
        assert set(allowed_actions(fresh, people[who])) == expected, (stage, who)


@pytest.mark.parametrize("stage", list(EXPECTED))
def test_every_other_action_is_refused_for_every_role(tree, people, stage):
    """For each person, each action the table does not offer them raises and writes nothing."""
    from cases.transitions import USER_ACTIONS, CaseActionError

    case = _stage(tree, people, stage)
    for who, expected in EXPECTED[stage].items():
        for action in USER_ACTIONS:
            if action in expected:
                continue
            before = Case.objects.get(pk=case.pk)
            with pytest.raises(CaseActionError):
                services.case_act(case_id=case.pk, action=action, actor=people[who], note="x", now=T0)
            after = Case.objects.get(pk=case.pk)
            assert (after.state, after.version, after.events.count()) == (
                before.state,
                before.version,
                before.events.count(),
            ), (stage, who, action)
