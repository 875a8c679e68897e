"""Closing a month and appeals (申诉): a closed month refuses recomputation and changes only through
appeals; an accepted appeal voids its line, recomputes the score and survives recomputation of an
open month; a rejected one keeps the line. Totals are those of test_engine.py (GW a: 983)."""

from decimal import Decimal

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from assessment import services
from assessment.choices import AppealStatus, LogAction, MonthStatus, SubjectKind
from assessment.models import AssessmentLog, AssessmentMonth, Score
from assessment.periods import Period
from staff.choices import Role
from staff.models import Post
from tests.factories import UserFactory

from .conftest import JPEG, at

pytestmark = pytest.mark.django_db
NOV = Period.parse("2026-11")
D = Decimal


@pytest.fixture
def computed(tree, november):
    with time_machine.travel(at(12, 2, 3), tick=False):
        services.compute_month(NOV)
    return november


def worker_score(tree, user=Role.GRID_WORKER) -> Score:
    return Score.objects.get(period__month=NOV.month, user=tree.users[user], subject_kind=SubjectKind.GRID_WORKER)


def line(score, code, day=None):
    qs = score.lines.filter(rule__code=code)
    if day:
        qs = qs.filter(occurred_on__day=day)
    return qs.get()


def close(now=None):
    with time_machine.travel(now or at(12, 3, 9), tick=False):
        return services.close_month(NOV)


def test_worker_appeals_a_deduction_with_evidence_and_centre_staff_accepts(tree, computed):
    worker, centre = tree.users[Role.GRID_WORKER], tree.users[Role.CENTRE_STAFF]
    score = worker_score(tree)
    target = line(score, "gw_day_short", 3)
    appeal = services.file_appeal(
        line_id=target.pk,
        user=worker,
        reason="11-03 上报了 2 条，其中 1 条被错误合并",
        evidence=SimpleUploadedFile("截图.jpg", JPEG),
    )
    assert appeal.status == AppealStatus.PENDING
    assert (appeal.line_key, appeal.line_points) == (target.key, D("-5"))
    assert appeal.evidence_type == "image/jpeg" and appeal.evidence_name == "截图.jpg"
    assert appeal.evidence.name.startswith("appeals/2026/11/")

    services.decide_appeal(appeal_id=appeal.pk, reviewer=centre, accept=True, note="核实属实")
    appeal.refresh_from_db()
    target.refresh_from_db()
    score.refresh_from_db()
    assert target.voided and target.points == 0
    assert target.status_note == "申诉已采纳，本条不计分"
    assert (score.deductions, score.total) == (D("-25"), D("988"))  # 983 + 5
    assert (appeal.status, appeal.reviewer, appeal.decision_note) == (AppealStatus.ACCEPTED, centre, "核实属实")
    assert (appeal.total_before, appeal.total_after) == (D("983"), D("988"))
    log = list(AssessmentLog.objects.filter(appeal=appeal).order_by("id").values_list("action", "actor"))
    assert log == [(LogAction.APPEAL_FILED, worker.pk), (LogAction.APPEAL_ACCEPTED, centre.pk)]


def test_rejected_appeal_keeps_the_line_and_needs_a_reason(tree, computed):
    score = worker_score(tree)
    target = line(score, "gw_late_verify")
    appeal = services.file_appeal(line_id=target.pk, user=tree.users[Role.GRID_WORKER], reason="当天下雨")
    with pytest.raises(services.InvalidInput) as err:
        services.decide_appeal(appeal_id=appeal.pk, reviewer=tree.users[Role.TOWN_LEADER], accept=False)
    assert err.value.fields == {"decision_note": ["驳回申诉须填写理由"]}
    services.decide_appeal(appeal_id=appeal.pk, reviewer=tree.users[Role.TOWN_LEADER], accept=False, note="理由不成立")
    appeal.refresh_from_db()
    score.refresh_from_db()
    target.refresh_from_db()
    assert appeal.status == AppealStatus.REJECTED and not target.voided
    assert score.total == D("983")
    with pytest.raises(services.Conflict):
        services.decide_appeal(appeal_id=appeal.pk, reviewer=tree.users[Role.TOWN_LEADER], accept=True)
    # A rejected line may be appealed again.
    again = services.file_appeal(line_id=target.pk, user=tree.users[Role.GRID_WORKER], reason="补充材料")
    assert again.status == AppealStatus.PENDING


def test_accepted_appeal_survives_recomputation_of_an_open_month(tree, computed):
    score = worker_score(tree)
    target = line(score, "gw_missed_visit")
    appeal = services.file_appeal(line_id=target.pk, user=tree.users[Role.GRID_WORKER], reason="已走访，补录")
    services.decide_appeal(appeal_id=appeal.pk, reviewer=tree.users[Role.COUNTY_OFFICIAL], accept=True)
    with time_machine.travel(at(12, 2, 5), tick=False):
        services.compute_month(NOV)
    score.refresh_from_db()
    recomputed = line(score, "gw_missed_visit")
    assert recomputed.pk != target.pk  # lines are rebuilt …
    assert recomputed.voided and recomputed.points == 0  # … and the appeal still holds
    assert score.total == D("993")


def test_a_pending_appeal_survives_recomputation_and_can_still_be_decided(tree, computed):
    score = worker_score(tree)
    appeal = services.file_appeal(
        line_id=line(score, "gw_day_short", 4).pk, user=tree.users[Role.GRID_WORKER], reason="系统故障"
    )
    with time_machine.travel(at(12, 2, 5), tick=False):
        services.compute_month(NOV)
    services.decide_appeal(appeal_id=appeal.pk, reviewer=tree.users[Role.CENTRE_STAFF], accept=True)
    score.refresh_from_db()
    assert line(score, "gw_day_short", 4).voided and score.total == D("988")


def test_closed_month_refuses_recomputation_with_a_clear_message(tree, computed):
    month = close()
    assert month.status == MonthStatus.CLOSED
    with time_machine.travel(at(12, 4), tick=False), pytest.raises(services.MonthClosed) as err:
        services.compute_month(NOV)
    assert err.value.message == "2026年11月 已于 2026-12-03 09:00 关账，不能重新计算；如需更正，请通过申诉办理"
    with time_machine.travel(at(12, 4), tick=False), pytest.raises(CommandError, match="已于 2026-12-03 09:00 关账"):
        call_command("compute_assessment", "2026-11")
    with pytest.raises(services.MonthClosed):
        close()


def test_closed_month_changes_only_through_appeals(tree, computed):
    close()
    score = worker_score(tree)
    appeal = services.file_appeal(
        line_id=line(score, "gw_late_verify").pk, user=tree.users[Role.GRID_WORKER], reason="核查人员另有安排"
    )
    services.decide_appeal(appeal_id=appeal.pk, reviewer=tree.users[Role.CENTRE_STAFF], accept=True)
    score.refresh_from_db()
    assert score.total == D("993")
    assert AssessmentMonth.objects.get(month=NOV.month).status == MonthStatus.CLOSED


def test_a_month_closes_only_once_computed_and_over(tree, november):
    with pytest.raises(services.InvalidInput, match="尚未计算"):
        close()
    with time_machine.travel(at(11, 20), tick=False):
        services.compute_month(NOV)
    with pytest.raises(services.InvalidInput, match="尚未结束"):
        close(now=at(11, 30, 23))
    assert close().closed_at == at(12, 3, 9)


def test_only_deductions_of_ones_own_can_be_appealed_once(tree, computed):
    worker = tree.users[Role.GRID_WORKER]
    score = worker_score(tree)
    with pytest.raises(services.InvalidInput) as err:
        services.file_appeal(line_id=line(score, "gw_solved").pk, user=worker, reason="x")
    assert err.value.fields == {"line": ["只能对扣分条目提出申诉"]}
    with pytest.raises(services.InvalidInput) as err:
        services.file_appeal(line_id=line(score, "gw_late_verify").pk, user=worker, reason="  ")
    assert err.value.fields == {"reason": ["请填写申诉理由"]}
    other = worker_score(tree, "worker_b")
    with pytest.raises(services.NotAllowed):
        services.file_appeal(line_id=line(other, "gw_day_short").pk, user=worker, reason="x")
    services.file_appeal(line_id=line(score, "gw_late_verify").pk, user=worker, reason="x")
    with pytest.raises(services.Conflict):
        services.file_appeal(line_id=line(score, "gw_late_verify").pk, user=worker, reason="again")
    with pytest.raises(services.InvalidInput) as err:
        services.file_appeal(
            line_id=line(score, "gw_missed_visit").pk,
            user=worker,
            reason="x",
            evidence=SimpleUploadedFile("x.exe", b"MZ\x90\x00" + b"\x00" * 20),
        )
    assert "不支持的文件类型" in err.value.fields["evidence"][0]


def test_reviewers_are_centre_town_or_county_above_the_subject(tree, computed):
    score = worker_score(tree)
    appeal = services.file_appeal(
        line_id=line(score, "gw_late_verify").pk, user=tree.users[Role.GRID_WORKER], reason="x"
    )
    for who in (Role.GRID_CHIEF, Role.ZONE_CHIEF, Role.DEPARTMENT, "worker_b", Role.GRID_WORKER):
        with pytest.raises(services.NotAllowed):
            services.decide_appeal(appeal_id=appeal.pk, reviewer=tree.users[who], accept=True)
    # A town leader of another town cannot either.
    leader_b = UserFactory(username="leader_b")
    Post.objects.create(user=leader_b, role=Role.TOWN_LEADER, area=tree["town_b"])
    with pytest.raises(services.NotAllowed):
        services.decide_appeal(appeal_id=appeal.pk, reviewer=leader_b, accept=True)
    assert services.decide_appeal(appeal_id=appeal.pk, reviewer=tree.users[Role.CENTRE_STAFF], accept=True)


def test_a_unit_is_appealed_by_its_head_and_reviewed_from_above(tree, computed):
    town = Score.objects.get(period__month=NOV.month, subject_kind=SubjectKind.TOWN, area=tree["town_a"])
    leader = tree.users[Role.TOWN_LEADER]
    target = town.lines.filter(rule__code="ut_overdue").order_by("occurred_on").first()
    with pytest.raises(services.NotAllowed):
        services.file_appeal(line_id=target.pk, user=tree.users[Role.CENTRE_STAFF], reason="x")
    appeal = services.file_appeal(line_id=target.pk, user=leader, reason="系统故障")
    with pytest.raises(services.NotAllowed):  # the town's own centre is not above the town
        services.decide_appeal(appeal_id=appeal.pk, reviewer=tree.users[Role.CENTRE_STAFF], accept=True)
    services.decide_appeal(appeal_id=appeal.pk, reviewer=tree.users[Role.COUNTY_OFFICIAL], accept=True)
    town.refresh_from_db()
    assert town.total == D("989")  # 987 + 2
