"""My tasks (/m/tasks/) and one case (/m/cases/<id>/): on-the-spot checks (verify / rework), the
self-resolve flow and a readable timeline, all through services.case_act; other grids are 404."""

import pytest
from django.urls import reverse

from cases import services
from cases.choices import CaseState
from cases.models import Attachment, Case, Category
from staff.choices import Role

from .conftest import PDF, fed_back_case, file_case, jpeg

pytestmark = pytest.mark.django_db


def act_url(case, action):
    return reverse("worker:case-action", args=[case.pk, action])


def test_a_fed_back_case_waits_for_my_check(tree, wclient):
    case = fed_back_case(tree)
    html = wclient.get(reverse("worker:tasks")).content.decode()
    assert reverse("worker:case", args=[case.pk]) in html and "待核查" in html
    home = wclient.get(reverse("worker:home")).content.decode()
    assert case.title in home


def test_verify_closes_the_case(tree, wclient, worker):
    case = fed_back_case(tree)
    page = wclient.get(reverse("worker:case", args=[case.pk])).content.decode()
    assert "核查通过，结案" in page and "不通过，退回返工" in page
    response = wclient.post(act_url(case, "verify"), {"version": case.version, "photos": [jpeg()]})
    assert response.status_code == 302 and response["Location"] == reverse("worker:tasks")
    case.refresh_from_db()
    assert case.state == CaseState.CLOSED
    event = case.events.order_by("-seq").first()
    assert (event.action, event.actor) == ("verify", worker)
    assert Attachment.objects.get(event=event).case == case
    assert "核查通过，事件" in wclient.get(response["Location"]).content.decode()


def test_rework_needs_a_reason(tree, wclient):
    case = fed_back_case(tree)
    response = wclient.post(act_url(case, "rework"), {"version": case.version, "note": ""})
    assert response.status_code == 400
    assert "请填写不通过的原因" in response.content.decode()
    case.refresh_from_db()
    assert case.state == CaseState.FEEDBACK


def test_rework_sends_the_case_back_with_reason_and_photo(tree, wclient):
    case = fed_back_case(tree)
    response = wclient.post(act_url(case, "rework"), {"version": case.version, "note": "摊位还在", "photos": [jpeg()]})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == CaseState.HANDLING and case.rework_count == 1
    assert case.events.order_by("-seq").first().note == "摊位还在"


def test_a_stale_version_says_who_acted_first(tree, wclient):
    case = fed_back_case(tree)
    seen = case.version
    chief = tree.users[Role.GRID_CHIEF]
    chief.first_name = "长"
    chief.last_name = "张"
    chief.save()
    services.case_act(case_id=case.pk, action="verify", actor=chief)
    response = wclient.post(act_url(case, "verify"), {"version": seen})
    html = response.content.decode()
    assert response.status_code == 409
    assert "该事件已被" in html and "核查通过" in html and "请刷新后重试" in html


def test_an_action_the_table_refuses_shows_its_message(tree, wclient):
    case = file_case(tree)  # reported: nothing to verify
    response = wclient.post(act_url(case, "verify"), {"version": case.version})
    assert response.status_code == 409
    assert "不能执行“核查通过”" in response.content.decode()


def test_self_resolve_needs_a_result_and_a_photo(tree, wclient):
    case = file_case(tree)
    page = wclient.get(reverse("worker:case", args=[case.pk])).content.decode()
    assert "网格内自行处置" in page
    response = wclient.post(act_url(case, "self_resolve"), {"version": case.version, "note": ""})
    html = response.content.decode()
    assert response.status_code == 400
    assert "请填写处置结果" in html and "请上传处置后的照片" in html
    response = wclient.post(
        act_url(case, "self_resolve"), {"version": case.version, "note": "已清理", "photos": [jpeg("x.jpg", PDF)]}
    )
    assert response.status_code == 400 and "只能上传照片" in response.content.decode()
    assert not Attachment.objects.exists()


def test_self_resolve_goes_to_the_grid_chief_for_checking(tree, wclient, worker):
    case = file_case(tree)
    response = wclient.post(
        act_url(case, "self_resolve"), {"version": case.version, "note": "已清理", "photos": [jpeg()]}
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == CaseState.FEEDBACK and case.self_resolved and case.assignee == worker
    # The worker does not check their own work: the grid chief does.
    assert case.pk not in [c.pk for c in wclient.get(reverse("worker:tasks")).context["to_verify"]]


def test_tasks_list_what_i_may_self_resolve(tree, wclient):
    case = file_case(tree)
    assert case in wclient.get(reverse("worker:tasks")).context["to_self_resolve"]


def test_my_case_shows_a_readable_chinese_timeline(tree, wclient):
    case = fed_back_case(tree)
    html = wclient.get(reverse("worker:case", args=[case.pk])).content.decode()
    for label in ("上报", "派遣", "反馈结果"):
        assert f"<strong>{label}</strong>" in html
    assert "a_department" in html and "已劝离，恢复通行" in html
    assert "当前期限" in html and "千岛湖镇综合执法队" in html


def test_tasks_list_my_reports_with_their_state(tree, wclient):
    case = file_case(tree)
    html = wclient.get(reverse("worker:tasks")).content.decode()
    assert "我上报的" in html and case.number in html and "待受理" in html
    assert case.number in wclient.get(reverse("worker:reports")).content.decode()


def test_another_grid_case_is_not_found(tree, wclient):
    theirs = file_case(tree, area="grid_b", who="worker_b")
    assert wclient.get(reverse("worker:case", args=[theirs.pk])).status_code == 404
    response = wclient.post(act_url(theirs, "self_resolve"), {"note": "x", "photos": [jpeg()]})
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.state == CaseState.REPORTED and not Attachment.objects.exists()


def test_a_case_outside_my_grid_but_in_my_scope_is_not_shown(tree, client):
    """A worker who is also zone chief sees the whole zone elsewhere; the worker pages stay on the grid."""
    from grids.choices import AreaLevel
    from staff.models import Post
    from tests.factories import area

    second = area("330127100201002", "梦姑塘第二网格", AreaLevel.GRID, tree["village_a"])
    worker = tree.users[Role.GRID_WORKER]
    Post.objects.create(user=worker, role=Role.ZONE_CHIEF, area=tree["zone_a"])
    other = services.case_report(
        reporter=tree.users[Role.CENTRE_STAFF],
        area=second,
        category=Category.objects.get(code="1401"),
        description="第二网格的事",
    )
    assert Case.objects.visible_to(worker).filter(pk=other.pk).exists()
    client.force_login(worker)
    assert client.get(reverse("worker:case", args=[other.pk])).status_code == 404
    assert other not in client.get(reverse("worker:tasks")).context["to_self_resolve"]


def test_unknown_actions_are_not_found(tree, wclient):
    case = file_case(tree)
    assert wclient.post(act_url(case, "dispatch"), {}).status_code == 404


def test_tasks_query_count_does_not_grow_with_the_cases(tree, wclient, django_assert_max_num_queries):
    for _ in range(5):
        fed_back_case(tree)
        file_case(tree)
    with django_assert_max_num_queries(10):
        wclient.get(reverse("worker:tasks"))
