"""Town-centre console, department desk and county desk: server-side behaviour and scope."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from cases import services
from cases.choices import Action, CaseState
from cases.models import Attachment, Case, Category
from staff.choices import Role

pytestmark = pytest.mark.django_db
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF" + b"\x00" * 100


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def file(tree, area="grid_a", code="0202", who=Role.GRID_WORKER, **kw):
    reporter = tree.users[who]
    return services.case_report(
        reporter=reporter, area=tree[area], category=Category.objects.get(code=code), description="路灯损坏", **kw
    )


def post_action(client, case, action, **data):
    case.refresh_from_db()
    payload = {"action": action, "version": case.version, **data}
    return client.post(reverse("console:case", args=[case.pk]), payload)


def test_intake_queue_is_scoped_and_counts_views(tree, client):
    mine = file(tree)
    theirs = file(tree, area="grid_b", who="worker_b")
    client.force_login(tree.users[Role.CENTRE_STAFF])
    response = client.get(reverse("console:intake"))
    html = response.content.decode()
    assert mine.number in html and theirs.number not in html
    assert response.context["counts"]["intake"] == 1


def test_intake_filters(tree, client):
    env = file(tree, code="1401")
    safety = file(tree, code="0202", area="special_a")
    client.force_login(tree.users[Role.CENTRE_STAFF])
    by_cat = client.get(reverse("console:intake"), {"view": "all", "category": "14"}).context["page"]
    assert [c.pk for c in by_cat] == [env.pk]
    by_zone = client.get(reverse("console:intake"), {"view": "all", "zone": tree["zone_a"].pk}).context["page"]
    assert [c.pk for c in by_zone] == [env.pk]
    by_grid = client.get(reverse("console:intake"), {"view": "all", "grid": tree["special_a"].pk}).context["page"]
    assert [c.pk for c in by_grid] == [safety.pk]
    crafted = client.get(reverse("console:intake"), {"view": "all", "zone": tree["zone_b"].pk}).context["page"]
    assert list(crafted) == []


def test_intake_query_count_is_flat(tree, client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(tree.users[Role.CENTRE_STAFF])
    file(tree)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("console:intake"))
    for _ in range(15):
        file(tree)
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("console:intake"))
    assert len(many) == len(few)


def test_other_towns_case_is_404(tree, client):
    theirs = file(tree, area="grid_b", who="worker_b")
    client.force_login(tree.users[Role.CENTRE_STAFF])
    assert client.get(reverse("console:case", args=[theirs.pk])).status_code == 404
    assert post_action(client, theirs, "accept").status_code == 404


def test_accept_then_a_stale_second_action_names_who_acted_first(tree, client):
    case = file(tree)
    centre, leader = tree.users[Role.CENTRE_STAFF], tree.users[Role.TOWN_LEADER]
    seen = case.version
    client.force_login(centre)
    assert post_action(client, case, "accept").status_code == 302
    client.force_login(leader)
    response = client.post(
        reverse("console:case", args=[case.pk]),
        {"action": "dispatch", "version": seen, "department": tree.departments["dept_a"].pk},
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert "a_centre_staff" in html and "处置中" in html
    case.refresh_from_db()
    assert case.owner_department_id is None and case.state == CaseState.HANDLING


def test_an_action_no_longer_offered_is_explained(tree, client):
    case = file(tree)
    client.force_login(tree.users[Role.CENTRE_STAFF])
    post_action(client, case, "reject", note="不属实")
    response = client.post(reverse("console:case", args=[case.pk]), {"action": "accept", "version": 1}, follow=True)
    assert "无法执行“立案”" in response.content.decode()


def test_reject_without_reason_shows_a_field_error_and_changes_nothing(tree, client):
    case = file(tree)
    client.force_login(tree.users[Role.CENTRE_STAFF])
    response = post_action(client, case, "reject", note="")
    assert response.status_code == 400
    assert "不予立案理由" in response.content.decode() and "该字段是必填项" in response.content.decode()
    case.refresh_from_db()
    assert case.state == CaseState.REPORTED and case.events.count() == 1


def test_dispatch_suggests_the_categorys_department_and_keeps_input_on_error(tree, client):
    case = file(tree, code="1001")
    client.force_login(tree.users[Role.CENTRE_STAFF])
    page = client.get(reverse("console:case", args=[case.pk]))
    form = page.context["forms"][Action.DISPATCH]
    assert set(form.fields["department"].queryset) == {tree.departments["dept_a"]}
    bad = post_action(client, case, "dispatch", note="请处理")  # neither department nor unit chosen
    assert bad.status_code == 400 and "请在部门和下级单位中选择其一" in bad.content.decode()
    assert "请处理" in bad.content.decode()
    ok = post_action(client, case, "dispatch", department=tree.departments["dept_a"].pk)
    assert ok.status_code == 302
    case.refresh_from_db()
    assert case.owner_department == tree.departments["dept_a"]


def test_department_feeds_back_with_a_photo_and_a_bad_file_stores_nothing(tree, client):
    case = file(tree)
    services.case_act(
        case_id=case.pk, action=Action.DISPATCH, actor=tree.users[Role.CENTRE_STAFF], target=tree.departments["dept_a"]
    )
    client.force_login(tree.users[Role.DEPARTMENT])
    bad = post_action(
        client, case, "submit_feedback", note="已修复", photos=SimpleUploadedFile("x.jpg", b"GIF-not-really")
    )
    assert bad.status_code == 400 and "不支持的文件类型" in bad.content.decode()
    assert not Attachment.objects.exists()
    good = post_action(client, case, "submit_feedback", note="已修复", photos=SimpleUploadedFile("ok.jpg", JPEG))
    assert good.status_code == 302
    case.refresh_from_db()
    assert case.state == CaseState.FEEDBACK and case.attachments.count() == 1


def test_duplicates_are_suggested_and_merged_in_one_click(tree, client):
    first = file(tree, latitude="29.600000", longitude="119.040000")
    second = file(tree, latitude="29.600500", longitude="119.040300", who=Role.GRID_CHIEF)
    far = file(tree, latitude="29.700000", longitude="119.040000")
    client.force_login(tree.users[Role.CENTRE_STAFF])
    page = client.get(reverse("console:case", args=[second.pk]))
    assert [d.pk for d in page.context["duplicates"]] == [first.pk]
    assert far.pk not in [d.pk for d in page.context["duplicates"]]
    assert "相距约" in page.content.decode()
    assert post_action(client, second, "merge", into=first.number).status_code == 302
    second.refresh_from_db()
    assert second.merged_into == first and second.state == CaseState.CLOSED


def test_bulk_dispatch_reports_each_case(tree, client):
    a, b, c = file(tree), file(tree), file(tree)
    theirs = file(tree, area="grid_b", who="worker_b")
    centre = tree.users[Role.CENTRE_STAFF]
    stale_version = b.version
    services.case_act(case_id=b.pk, action=Action.REJECT, actor=tree.users[Role.TOWN_LEADER], note="重复")
    client.force_login(centre)
    response = client.post(
        reverse("console:bulk_dispatch"),
        {
            "department": tree.departments["dept_a"].pk,
            "case": [a.pk, b.pk, c.pk, theirs.pk],
            f"version-{a.pk}": a.version,
            f"version-{b.pk}": stale_version,
            f"version-{c.pk}": c.version,
        },
    )
    results = {r["id"]: r for r in response.context["results"]}
    assert results[a.pk]["ok"] and results[c.pk]["ok"]
    assert not results[b.pk]["ok"] and "处理" in results[b.pk]["message"]
    assert not results[theirs.pk]["ok"] and theirs.number not in response.content.decode()
    theirs.refresh_from_db()
    assert theirs.state == CaseState.REPORTED and theirs.events.count() == 1
    assert Case.objects.filter(owner_department=tree.departments["dept_a"]).count() == 2


def test_supervision_board_groups_overdue_cases(tree, client, settings):
    settings.GRIDGOV_AUTO_ESCALATE_AFTER_HOURS = 24 * 365  # overdue, not yet escalated
    long_ago = timezone.now() - dt.timedelta(days=10)
    case = file(tree, now=long_ago)
    services.case_act(
        case_id=case.pk,
        action=Action.DISPATCH,
        actor=tree.users[Role.CENTRE_STAFF],
        target=tree.departments["dept_a"],
        now=long_ago,
    )
    from cases.sweep import sweep_deadlines

    sweep_deadlines()
    client.force_login(tree.users[Role.CENTRE_STAFF])
    board = client.get(reverse("console:supervision")).context["board"]
    assert board["by_holder"][0]["owner_department__name"] == "千岛湖镇综合执法队"
    assert board["by_holder"][0]["overdue"] == 1


def test_department_desk_and_county_desk(tree, client):
    case = file(tree)
    services.case_act(
        case_id=case.pk, action=Action.DISPATCH, actor=tree.users[Role.CENTRE_STAFF], target=tree.departments["dept_a"]
    )
    up = file(tree)
    services.case_act(case_id=up.pk, action=Action.ESCALATE, actor=tree.users[Role.CENTRE_STAFF], note="需县里协调")
    client.force_login(tree.users[Role.DEPARTMENT])
    assert [c.pk for c in client.get(reverse("console:department")).context["page"]] == [case.pk]
    client.force_login(tree.users[Role.COUNTY_OFFICIAL])
    county = client.get(reverse("console:county")).context["page"]
    assert [c.pk for c in county] == [up.pk]
    assert list(client.get(reverse("console:county"), {"town": tree["town_b"].pk}).context["page"]) == []
    client.force_login(tree.users[Role.CENTRE_STAFF])
    assert list(client.get(reverse("console:county")).context["page"]) == []


def test_landing_page_per_role(tree, client):
    for who, url in (
        (Role.CENTRE_STAFF, "console:intake"),
        (Role.DEPARTMENT, "console:department"),
        (Role.COUNTY_OFFICIAL, "console:county"),
    ):
        client.force_login(tree.users[who])
        assert client.get("/")["Location"] == reverse(url)
