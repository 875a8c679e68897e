"""The report form (/m/report/): server validation with Chinese messages next to the fields, what
was typed kept on error, photos checked by magic bytes, and the idempotent submit."""

import uuid

import pytest
from django.urls import reverse

from cases import idempotency
from cases.choices import CaseState, Source, Urgency
from cases.models import Attachment, Case, CaseEvent, IdempotencyKey
from staff.choices import Role

from .conftest import PDF, jpeg

pytestmark = pytest.mark.django_db
URL = reverse("worker:report")


def form(tree, **changes):
    data = {
        "category": "1401",
        "description": "村口垃圾堆积，有异味",
        "area": tree["grid_a"].pk,
        "idempotency_key": str(uuid.uuid4()),
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_form_renders_categories_grouped_with_the_worker_grid_preselected(tree, wclient):
    html = wclient.get(URL).content.decode()
    assert '<optgroup label="环境卫生">' in html
    assert 'data-kind="information"' in html and "重点人员动态（信息类）" in html
    assert 'capture="environment"' in html and 'accept="image/*"' in html and "multiple" in html
    assert f'<option value="{tree["grid_a"].pk}" selected>' in html
    assert "文昌第一网格" not in html  # another town's grid is not offered
    assert 'name="idempotency_key"' in html


def test_report_is_filed_with_photos_in_the_worker_grid(tree, wclient, worker):
    response = wclient.post(URL, {**form(tree), "photos": [jpeg("a.jpg"), jpeg("b.jpg")]})
    case = Case.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("worker:case", args=[case.pk])
    assert (case.reporter, case.area, case.source, case.state) == (worker, tree["grid_a"], Source.PATROL, "reported")
    assert case.grid_id == tree["grid_a"].pk and case.town_id == tree["town_a"].pk
    photos = Attachment.objects.filter(case=case)
    assert photos.count() == 2 and {p.event_id for p in photos} == {case.events.get().pk}
    assert "已上报，编号" in wclient.get(response["Location"]).content.decode()


def test_missing_category_is_reported_next_to_the_field_and_the_text_is_kept(tree, wclient):
    response = wclient.post(URL, form(tree, category=None, description="桥头护栏松动"))
    html = response.content.decode()
    assert response.status_code == 400
    assert 'data-error-for="category" role="alert">请选择事项类别</p>' in html
    assert "桥头护栏松动" in html
    assert not Case.objects.exists()


def test_missing_description_is_a_chinese_error(tree, wclient):
    response = wclient.post(URL, form(tree, description=""))
    assert response.status_code == 400 and "请填写情况描述" in response.content.decode()


def test_a_non_image_photo_is_refused_and_nothing_is_stored(tree, wclient):
    pdf = jpeg("scan.jpg", PDF)  # named .jpg, but the bytes say PDF
    response = wclient.post(URL, {**form(tree), "photos": [jpeg(), pdf]})
    html = response.content.decode()
    assert response.status_code == 400
    assert "第 2 张照片：只能上传照片" in html
    assert not Case.objects.exists() and not Attachment.objects.exists()


def test_garbage_bytes_are_refused(tree, wclient):
    response = wclient.post(URL, {**form(tree), "photos": [jpeg("x.jpg", b"hello, not an image")]})
    assert response.status_code == 400 and "不支持的文件类型" in response.content.decode()


def test_an_oversize_photo_is_refused(tree, wclient, settings):
    settings.GRIDGOV_MAX_UPLOAD_BYTES = 50
    response = wclient.post(URL, {**form(tree), "photos": [jpeg()]})
    assert response.status_code == 400 and "文件过大" in response.content.decode()
    assert not Case.objects.exists() and not Attachment.objects.exists()


def test_more_than_nine_photos_are_refused(tree, wclient):
    response = wclient.post(URL, {**form(tree), "photos": [jpeg(f"{i}.jpg") for i in range(10)]})
    assert response.status_code == 400 and "最多上传 9 张照片" in response.content.decode()


def test_a_location_without_an_area_asks_for_the_grid(tree, wclient):
    response = wclient.post(URL, form(tree, area="", latitude="29.6054321987", longitude="119.0423456789"))
    html = response.content.decode()
    assert response.status_code == 400
    assert "定位无法确定网格，请选择网格或组" in html
    assert 'value="29.6054321987"' in html  # the position is kept for the next try
    assert not Case.objects.exists()


def test_no_area_and_no_location_asks_for_the_grid(tree, wclient):
    response = wclient.post(URL, form(tree, area=""))
    assert response.status_code == 400 and "请选择网格或组" in response.content.decode()


def test_location_is_stored_rounded_to_six_places(tree, wclient):
    wclient.post(URL, form(tree, latitude="29.6054321987", longitude="119.0423456789"))
    case = Case.objects.get()
    assert (str(case.latitude), str(case.longitude)) == ("29.605432", "119.042346")


def test_another_grid_household_is_refused(tree, wclient):
    theirs = tree.households["grid_b"]
    response = wclient.post(URL, form(tree, household=theirs.pk))
    assert response.status_code == 400 and "该户不在您的网格内" in response.content.decode()
    assert not Case.objects.exists()


def test_another_grid_area_is_refused(tree, wclient):
    response = wclient.post(URL, form(tree, area=tree["grid_b"].pk))
    assert response.status_code == 400 and "请选择您所在网格内的网格或组" in response.content.decode()


def test_a_household_implies_its_group(tree, wclient):
    household = tree.households["group_a"]
    wclient.post(URL, form(tree, area="", household=household.pk))
    case = Case.objects.get()
    assert case.household == household and case.area == tree["group_a"]


def test_the_urgent_flag_makes_the_case_urgent(tree, wclient):
    wclient.post(URL, form(tree, urgent="on"))
    assert Case.objects.get().urgency == Urgency.URGENT


def test_an_information_category_is_recorded_and_closed(tree, wclient):
    response = wclient.post(URL, form(tree, category="0203", description="重点人员返乡"))
    case = Case.objects.get()
    assert case.kind == "information" and case.state == CaseState.CLOSED
    assert "信息已登记" in wclient.get(response["Location"]).content.decode()


def test_the_same_key_twice_files_one_case(tree, wclient):
    data = form(tree)
    first = wclient.post(URL, {**data, "photos": [jpeg()]})
    second = wclient.post(URL, {**data, "photos": [jpeg()]})
    case = Case.objects.get()
    assert first["Location"] == second["Location"] == reverse("worker:case", args=[case.pk])
    assert Attachment.objects.count() == 1 and CaseEvent.objects.count() == 1
    html = wclient.get(second["Location"]).content.decode()
    assert f"这份上报已提交过（编号 {case.number}），没有重复登记" in html


def test_the_header_key_wins_and_fetch_gets_json(tree, wclient):
    key = str(uuid.uuid4())
    headers = {"HTTP_IDEMPOTENCY_KEY": key, "HTTP_X_REQUESTED_WITH": "fetch"}
    first = wclient.post(URL, form(tree, idempotency_key=None), **headers).json()
    again = wclient.post(URL, form(tree, idempotency_key=None), **headers).json()
    case = Case.objects.get()
    assert first == {
        "ok": True,
        "redirect": reverse("worker:case", args=[case.pk]),
        "number": case.number,
        "id": case.pk,
    }
    assert again["ok"] and again["replayed"] and again["id"] == case.pk
    assert IdempotencyKey.objects.get().key == f"form:{key}"


def test_a_changed_form_under_the_same_key_keeps_the_first_case_and_says_so(tree, wclient):
    data = form(tree)
    wclient.post(URL, data)
    response = wclient.post(URL, {**data, "description": "改了内容"}, follow=True)
    assert Case.objects.count() == 1 and Case.objects.get().description == "村口垃圾堆积，有异味"
    assert "本次修改未保存" in response.content.decode()


def test_a_failed_attempt_leaves_the_key_free(tree, wclient):
    data = form(tree, category=None)
    assert wclient.post(URL, data).status_code == 400
    assert not IdempotencyKey.objects.exists()
    wclient.post(URL, {**data, "category": "1401"})
    assert Case.objects.count() == 1


def test_fetch_gets_field_errors_as_json(tree, wclient):
    response = wclient.post(URL, form(tree, category=None, area=""), HTTP_X_REQUESTED_WITH="fetch")
    assert response.status_code == 400
    body = response.json()
    assert body["ok"] is False
    assert body["errors"]["category"] == ["请选择事项类别"] and body["errors"]["area"] == ["请选择网格或组"]


def test_keys_are_per_user(tree, client, worker):
    key = str(uuid.uuid4())
    client.force_login(worker)
    client.post(URL, form(tree, idempotency_key=key))
    chief = tree.users[Role.GRID_CHIEF]
    client.force_login(chief)
    client.post(URL, form(tree, idempotency_key=key))
    assert Case.objects.count() == 2


def test_the_shared_helper_replays_the_first_result(tree, worker):
    calls = []

    def action():
        calls.append(1)
        return idempotency.Recorded(value="first", case_id=None, status_code=201, response={"n": 1})

    first = idempotency.run_once(user=worker, key="k", digest="d", action=action)
    again = idempotency.run_once(user=worker, key="k", digest="d", action=action)
    other = idempotency.run_once(user=worker, key="k", digest="x", action=action)
    assert (first.replayed, first.value) == (False, "first")
    assert (again.replayed, again.mismatch, again.response, again.status_code) == (True, False, {"n": 1}, 201)
    assert other.mismatch and len(calls) == 1


def test_the_shared_helper_rolls_back_a_failed_attempt(tree, worker):
    def boom():
        raise idempotency.RolledBack("nope")

    with pytest.raises(idempotency.RolledBack):
        idempotency.run_once(user=worker, key="k", digest="d", action=boom)
    assert not IdempotencyKey.objects.exists()


def test_users_without_a_grid_post_are_told_so(tree, client):
    for user in (tree.users["nobody"], tree.users[Role.CENTRE_STAFF]):
        client.force_login(user)
        response = client.get(URL)
        assert response.status_code == 403 and "网格工作台只对网格员开放" in response.content.decode()


def test_pages_require_login(client):
    response = client.get(URL)
    assert response.status_code == 302 and reverse("login") in response["Location"]
