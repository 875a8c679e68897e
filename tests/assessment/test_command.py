"""On demand (management command, admin action) and monthly (Celery beat task) computation."""

import io
from decimal import Decimal

import pytest
import time_machine
from django.contrib.admin.sites import site
from django.core.management import CommandError, call_command
from django.test import RequestFactory

from assessment.admin import AssessmentMonthAdmin
from assessment.choices import MonthStatus
from assessment.models import AssessmentMonth, Score
from assessment.tasks import compute_previous_month
from staff.choices import Role

from .conftest import at

pytestmark = pytest.mark.django_db


def test_command_computes_and_closes(tree, november):
    out = io.StringIO()
    with time_machine.travel(at(12, 1, 9), tick=False):
        call_command("compute_assessment", "2026-11", "--close", stdout=out)
    text = out.getvalue()
    assert "2026年11月：13 个考核对象，71 条记分" in text and "2026年11月 已关账" in text
    month = AssessmentMonth.objects.get(month__year=2026, month__month=11)
    assert month.status == MonthStatus.CLOSED and month.line_count == 71
    assert Score.objects.get(user=tree.users[Role.GRID_WORKER]).total == Decimal("983")


def test_command_rejects_a_bad_month(tree):
    with pytest.raises(CommandError, match="月份格式应为 YYYY-MM"):
        call_command("compute_assessment", "11-2026")


def test_beat_task_computes_the_month_before_and_leaves_a_closed_month_alone(tree, november):
    with time_machine.travel(at(12, 1, 1, 30), tick=False):
        result = compute_previous_month.delay().get()
    assert (result["month"], result["subjects"], result["lines"]) == ("2026-11", 13, 71)
    AssessmentMonth.objects.filter(month__month=11).update(status=MonthStatus.CLOSED)
    with time_machine.travel(at(12, 1, 1, 30), tick=False):
        assert compute_previous_month("2026-11") == {"month": "2026-11", "skipped": "month_closed"}


def test_admin_actions_compute_and_close(tree, november):
    admin_user = tree.users[Role.ADMIN]
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    month = AssessmentMonth.objects.create(month=at(11, 1).date())
    request = RequestFactory().post("/admin/")
    request.user = admin_user
    sent = []
    model_admin = AssessmentMonthAdmin(AssessmentMonth, site)
    model_admin.message_user = lambda request, message, level=None: sent.append(str(message))
    with time_machine.travel(at(12, 1, 9), tick=False):
        model_admin.compute(request, AssessmentMonth.objects.filter(pk=month.pk))
        model_admin.close(request, AssessmentMonth.objects.filter(pk=month.pk))
        model_admin.compute(request, AssessmentMonth.objects.filter(pk=month.pk))
    assert sent[0].startswith("2026年11月：13 个考核对象，71 条记分")
    assert sent[1] == "2026年11月 已关账"
    assert "已于 2026-12-01 09:00 关账，不能重新计算" in sent[2]
    month.refresh_from_db()
    assert month.computed_by == admin_user and month.closed_by == admin_user


def test_admin_pages_render_and_a_frozen_rule_set_is_read_only(tree, november, client):
    from assessment.models import RuleSet
    from assessment.periods import Period
    from assessment.services import close_month, compute_month

    admin_user = tree.users[Role.ADMIN]
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    rs = RuleSet.objects.get()
    editable = client.get(f"/admin/assessment/ruleset/{rs.pk}/change/")
    assert editable.status_code == 200 and "gw_day_short" in editable.content.decode()
    with time_machine.travel(at(12, 1, 9), tick=False):
        compute_month(Period.parse("2026-11"))
        close_month(Period.parse("2026-11"))
    for url in ("assessmentmonth", "score", "scoreline", "appeal", "assessmentlog", "ruleset"):
        assert client.get(f"/admin/assessment/{url}/").status_code == 200, url
    frozen = client.get(f"/admin/assessment/ruleset/{rs.pk}/change/")
    assert frozen.status_code == 200 and "保存" not in frozen.content.decode()


def test_admin_adds_a_month_by_any_day_of_it(tree, client):
    admin_user = tree.users[Role.ADMIN]
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    assert client.post("/admin/assessment/assessmentmonth/add/", {"month": "2026-11-17"}).status_code == 302
    assert list(AssessmentMonth.objects.values_list("month", flat=True)) == [at(11, 1).date()]
    again = client.post("/admin/assessment/assessmentmonth/add/", {"month": "2026-11-03"})
    assert again.status_code == 200 and "该月份已存在" in again.content.decode()
