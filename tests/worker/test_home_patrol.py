"""Home (/m/), notifications and the patrol log (/m/patrol/): today's real reports against the
daily minimum, what needs me now, one patrol log per worker per day, the compliance calendar."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from cases import services
from cases.models import Case, GridDayCompliance, Notification, PatrolItem, PatrolLog, Reminder
from grids.paths import set_path
from staff.choices import Role

from .conftest import fed_back_case, file_case

pytestmark = pytest.mark.django_db


def test_home_names_my_grid_and_counts_only_real_reports(tree, wclient):
    file_case(tree)
    rejected = file_case(tree)
    services.case_act(case_id=rejected.pk, action="reject", actor=tree.users[Role.GRID_CHIEF], note="重复上报")
    file_case(tree, who=Role.GRID_CHIEF)  # somebody else's report
    file_case(tree, area="grid_b", who="worker_b")
    response = wclient.get(reverse("worker:home"))
    html = response.content.decode()
    assert "<h1>梦姑塘第一网格</h1>" in html
    assert response.context["reports_today"] == 1
    assert '<span data-count="reports-today">1</span><small>/2</small>' in html
    assert 'href="/assessment/me/"' in html  # 我的考核


def test_yesterdays_reports_do_not_count_today(tree, wclient):
    file_case(tree, now=timezone.now() - dt.timedelta(days=1))
    file_case(tree)
    file_case(tree)
    response = wclient.get(reverse("worker:home"))
    assert response.context["reports_today"] == 2 and "已达到每日 2 条" in response.content.decode()


def test_home_lists_rejected_and_reworked_reports(tree, wclient):
    rejected = file_case(tree)
    services.case_act(case_id=rejected.pk, action="reject", actor=tree.users[Role.GRID_CHIEF], note="不属实")
    reworked = fed_back_case(tree)
    services.case_act(case_id=reworked.pk, action="rework", actor=tree.users[Role.GRID_CHIEF], note="未清理")
    sent_back = wclient.get(reverse("worker:home")).context["sent_back"]
    assert {c.pk for c in sent_back} == {rejected.pk, reworked.pk}


def test_home_lists_reminders_on_cases_waiting_for_me(tree, wclient):
    case = fed_back_case(tree)
    Reminder.objects.create(
        case=case, step=case.step, automatic=False, sent_by=tree.users[Role.CENTRE_STAFF], note="请尽快核查"
    )
    stale = fed_back_case(tree)
    Reminder.objects.create(case=stale, step=stale.step - 1, automatic=True)  # an earlier step
    reminders = wclient.get(reverse("worker:home")).context["reminders"]
    assert [r.case_id for r in reminders] == [case.pk]


def test_unread_notifications_are_counted_and_marked_read(tree, wclient, worker):
    case = file_case(tree)
    first = Notification.objects.create(recipient=worker, case=case, kind="accept", message="事件已立案")
    Notification.objects.create(recipient=worker, kind="urge", message="催办")
    Notification.objects.create(recipient=tree.users[Role.GRID_CHIEF], kind="urge", message="别人的")
    assert wclient.get(reverse("worker:home")).context["unread"] == 2
    html = wclient.get(reverse("worker:notifications")).content.decode()
    assert "事件已立案" in html and "别人的" not in html
    response = wclient.post(
        reverse("worker:notification-read", args=[first.pk]), {"next": reverse("worker:case", args=[case.pk])}
    )
    assert response["Location"] == reverse("worker:case", args=[case.pk])
    first.refresh_from_db()
    assert first.is_read
    wclient.post(reverse("worker:notifications-read-all"))
    assert not Notification.objects.filter(recipient=worker, is_read=False).exists()


def test_another_users_notification_is_not_found(tree, wclient):
    theirs = Notification.objects.create(recipient=tree.users[Role.GRID_CHIEF], kind="x", message="m")
    assert wclient.post(reverse("worker:notification-read", args=[theirs.pk])).status_code == 404


def test_notification_next_must_stay_on_the_worker_pages(tree, wclient, worker):
    n = Notification.objects.create(recipient=worker, kind="x", message="m")
    response = wclient.post(reverse("worker:notification-read", args=[n.pk]), {"next": "https://evil.example/"})
    assert response["Location"] == reverse("worker:notifications")


# --- patrol ------------------------------------------------------------------------------------


def test_a_patrol_is_started_and_ended_once_a_day(tree, wclient, worker):
    wclient.post(reverse("worker:patrol-start"), {"grid": tree["grid_a"].pk})
    log = PatrolLog.objects.get()
    assert (log.worker, log.area, log.day) == (worker, tree["grid_a"], timezone.localdate())
    assert log.town_id == tree["town_a"].pk and log.is_running
    again = wclient.post(reverse("worker:patrol-start"), {"grid": tree["grid_a"].pk}, follow=True)
    assert "今天已经开始过巡查" in again.content.decode() and PatrolLog.objects.count() == 1
    wclient.post(reverse("worker:patrol-end"), {"note": "巡查河道"})
    log.refresh_from_db()
    assert log.ended_at is not None and log.note == "巡查河道"
    ended = wclient.post(reverse("worker:patrol-end"), {}, follow=True)
    assert "今天的巡查已经结束" in ended.content.decode()


def test_the_database_holds_one_log_per_worker_and_day(tree, worker):
    now = timezone.now()
    for _ in range(2):
        log = PatrolLog(worker=worker, day=timezone.localdate(), area=tree["grid_a"], started_at=now)
        set_path(log)
        try:
            with transaction.atomic():
                log.save()
        except IntegrityError:
            pass
    assert PatrolLog.objects.count() == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        PatrolLog.objects.create(worker=worker, day=timezone.localdate(), area=tree["grid_a"], started_at=now)


def test_patrol_start_refuses_another_grid(tree, wclient):
    wclient.post(reverse("worker:patrol-start"), {"grid": tree["grid_b"].pk})
    assert not PatrolLog.objects.exists()


def test_items_found_on_a_running_patrol_become_cases(tree, wclient):
    wclient.post(reverse("worker:patrol-start"), {"grid": tree["grid_a"].pk})
    page = wclient.get(reverse("worker:patrol")).content.decode()
    assert "记录发现" in page
    response = wclient.post(
        reverse("worker:report"),
        {
            "category": "0203",
            "description": "重点人员返乡",
            "area": tree["grid_a"].pk,
            "from": "patrol",
            "idempotency_key": "k1",
        },
    )
    assert response["Location"] == reverse("worker:patrol")
    item = PatrolItem.objects.get()
    assert item.case.kind == "information" and item.case.state == "closed"
    wclient.post(reverse("worker:patrol-end"), {})
    wclient.post(reverse("worker:report"), {"category": "1401", "description": "结束后", "area": tree["grid_a"].pk})
    assert PatrolItem.objects.count() == 1 and Case.objects.count() == 2
    assert "重点人员返乡" in wclient.get(reverse("worker:patrol")).content.decode()


def test_the_calendar_uses_recorded_days_and_counts_today_live(tree, wclient, worker):
    today = timezone.localdate()
    if today.day == 1:
        pytest.skip("needs an earlier day in the same month")
    yesterday = today - dt.timedelta(days=1)
    GridDayCompliance.objects.create(grid=tree["grid_a"], day=yesterday, reports=3, compliant=True, town=tree["town_a"])
    file_case(tree)
    file_case(tree, who=Role.GRID_CHIEF)
    PatrolLog.objects.create(
        worker=worker, day=yesterday, area=tree["grid_a"], started_at=timezone.now(), grid=tree["grid_a"]
    )
    response = wclient.get(reverse("worker:patrol"))
    cells = {c.day: c for week in response.context["weeks"] for c in week if c.in_month}
    assert (cells[yesterday].reports, cells[yesterday].compliant, cells[yesterday].recorded) == (3, True, True)
    assert cells[yesterday].patrolled
    assert (cells[today].reports, cells[today].compliant, cells[today].recorded) == (2, True, False)
    html = response.content.decode()
    assert f'data-day="{today:%Y-%m-%d}" data-reports="2"' in html


def test_the_calendar_counts_unrecorded_past_days_live_and_shows_misses(tree, wclient):
    today = timezone.localdate()
    if today.day == 1:
        pytest.skip("needs an earlier day in the same month")
    yesterday = today - dt.timedelta(days=1)
    file_case(tree, now=timezone.now() - dt.timedelta(days=1))
    cells = {c.day: c for week in wclient.get(reverse("worker:patrol")).context["weeks"] for c in week if c.in_month}
    assert (cells[yesterday].reports, cells[yesterday].compliant) == (1, False)


def test_the_calendar_pages_back_but_not_into_the_future(tree, wclient):
    today = timezone.localdate()
    response = wclient.get(reverse("worker:patrol"), {"month": "2099-01"})
    assert response.context["month"] == today.replace(day=1) and response.context["next_month"] is None
    last_month = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    response = wclient.get(reverse("worker:patrol"), {"month": f"{last_month:%Y-%m}"})
    assert response.context["month"] == last_month


def test_home_query_count_is_bounded(tree, wclient, django_assert_max_num_queries):
    for _ in range(3):
        fed_back_case(tree)
        file_case(tree)
    with django_assert_max_num_queries(14):
        wclient.get(reverse("worker:home"))
