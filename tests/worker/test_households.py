"""Households (/m/households/): my grid's households and residents, masked personal data, the
logged ID-number reveal, visits with photos, key households due their monthly visit, 1+X."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from grids.models import Household, Resident, Tag
from grids.visits import IdNumberAccess, Pairing, Visit
from staff.choices import Role
from tests.factories import HouseholdFactory, ResidentFactory, make_id_number

from .conftest import PDF, file_case, jpeg

pytestmark = pytest.mark.django_db


def test_the_list_shows_my_grid_households_only(tree, wclient):
    html = wclient.get(reverse("worker:households")).content.decode()
    assert tree.households["grid_a"].code in html and tree.households["group_a"].code in html
    assert tree.households["grid_b"].code not in html and tree.households["special_a"].code not in html


def test_the_list_searches_by_resident_name(tree, wclient):
    resident = tree.residents["group_a"]
    response = wclient.get(reverse("worker:households"), {"q": resident.name})
    assert [h.pk for h in response.context["page"]] == [tree.households["group_a"].pk]


def test_household_page_masks_id_numbers_and_phones(tree, wclient):
    resident = tree.residents["grid_a"]
    html = wclient.get(reverse("worker:household", args=[resident.household_id])).content.decode()
    assert resident.id_number_masked in html and resident.phone_masked in html
    assert resident.id_number not in html and resident.phone not in html
    assert "查看身份证号" in html


def test_another_grid_household_and_resident_are_not_found(tree, wclient):
    theirs = tree.households["grid_b"]
    resident = tree.residents["grid_b"]
    for url in (
        reverse("worker:household", args=[theirs.pk]),
        reverse("worker:household-edit", args=[theirs.pk]),
        reverse("worker:resident-new", args=[theirs.pk]),
        reverse("worker:resident-edit", args=[resident.pk]),
        reverse("worker:resident-reveal", args=[resident.pk]),
    ):
        assert wclient.get(url).status_code == 404, url
    assert wclient.post(reverse("worker:visit-new", args=[theirs.pk]), {"discussed": "x"}).status_code == 404
    assert wclient.post(reverse("worker:pairing-new", args=[theirs.pk]), {"cadre_name": "x"}).status_code == 404
    response = wclient.post(reverse("worker:resident-reveal", args=[resident.pk]), {"reason": "好奇看看"})
    assert response.status_code == 404
    assert not Visit.objects.exists() and not Pairing.objects.exists() and not IdNumberAccess.objects.exists()


# --- the ID number reveal -----------------------------------------------------------------------


def test_reveal_asks_for_a_reason_first(tree, wclient):
    resident = tree.residents["grid_a"]
    url = reverse("worker:resident-reveal", args=[resident.pk])
    page = wclient.get(url)
    assert page.status_code == 200 and resident.id_number not in page.content.decode()
    refused = wclient.post(url, {"reason": ""})
    html = refused.content.decode()
    assert refused.status_code == 400 and "请填写查看原因" in html and resident.id_number not in html
    assert not IdNumberAccess.objects.exists()


def test_reveal_with_a_reason_is_logged_then_shows_the_number(tree, wclient, worker):
    resident = tree.residents["grid_a"]
    response = wclient.post(reverse("worker:resident-reveal", args=[resident.pk]), {"reason": "代办低保年审"})
    html = response.content.decode()
    assert response.status_code == 200 and resident.id_number in html
    assert response["Cache-Control"] == "no-store"
    access = IdNumberAccess.objects.get()
    assert (access.user, access.resident, access.reason) == (worker, resident, "代办低保年审")
    assert access.created_at is not None
    # The next page load is masked again.
    page = wclient.get(reverse("worker:household", args=[resident.household_id])).content.decode()
    assert resident.id_number not in page


def test_the_access_log_is_read_only_in_the_admin(tree, client):
    resident = tree.residents["grid_a"]
    IdNumberAccess.objects.create(user=tree.users[Role.GRID_WORKER], resident=resident, reason="核对")
    admin = tree.users[Role.ADMIN]
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client.force_login(admin)
    assert client.get(reverse("admin:grids_idnumberaccess_changelist")).status_code == 200
    assert client.get(reverse("admin:grids_idnumberaccess_add")).status_code == 403
    access = IdNumberAccess.objects.get()
    page = client.get(reverse("admin:grids_idnumberaccess_change", args=[access.pk])).content.decode()
    assert "核对" in page and 'name="reason"' not in page


# --- households and residents -------------------------------------------------------------------


def test_a_household_is_added_with_a_generated_code(tree, wclient):
    dibao = Tag.objects.get(code="dibao")
    response = wclient.post(
        reverse("worker:household-new"), {"address": "幸福路 99 号", "area": tree["group_a"].pk, "tags": [dibao.pk]}
    )
    household = Household.objects.get(address="幸福路 99 号")
    assert response["Location"] == reverse("worker:household", args=[household.pk])
    assert household.code.startswith(tree["group_a"].code) and household.grid_id == tree["grid_a"].pk
    assert list(household.tags.all()) == [dibao]


def test_household_form_errors_are_chinese_and_keep_what_was_typed(tree, wclient):
    response = wclient.post(
        reverse("worker:household-new"), {"address": "", "area": tree["grid_b"].pk, "note": "门口有狗"}
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "请填写地址" in html and "请选择您网格内的网格或组" in html and "门口有狗" in html
    taken = tree.households["grid_b"].code
    response = wclient.post(reverse("worker:household-new"), {"address": "x", "area": tree["grid_a"].pk, "code": taken})
    assert "户编号已存在" in response.content.decode()


def test_moving_a_household_moves_its_residents(tree, wclient):
    household = tree.households["grid_a"]
    wclient.post(
        reverse("worker:household-edit", args=[household.pk]),
        {"address": household.address, "area": tree["group_a"].pk, "code": household.code},
    )
    assert Resident.objects.get(household=household).area == tree["group_a"]


def test_a_resident_is_added_with_a_valid_id_number(tree, wclient):
    household = tree.households["grid_a"]
    number = make_id_number(birth="19580312", seq=123)
    response = wclient.post(
        reverse("worker:resident-new", args=[household.pk]),
        {"name": "王大妈", "relation": "spouse", "id_number": number.lower(), "phone": "13900001111"},
    )
    assert response.status_code == 302
    resident = Resident.objects.get(name="王大妈")
    assert resident.id_number == number and resident.birth_date == dt.date(1958, 3, 12) and resident.is_active
    assert resident.grid_id == tree["grid_a"].pk


@pytest.mark.parametrize(
    ("id_number", "message"),
    [
        ("33012719800101001", "身份证号应为 18 位"),
        ("330127198013010010", "出生日期无效"),
        ("330127198001010010", "校验位错误"),
    ],
)
def test_a_bad_id_number_is_refused_with_its_reason(tree, wclient, id_number, message):
    if message == "校验位错误":
        good = make_id_number(seq=1)
        id_number = good[:17] + ("0" if good[17] != "0" else "1")
    household = tree.households["grid_a"]
    response = wclient.post(
        reverse("worker:resident-new", args=[household.pk]),
        {"name": "李四", "relation": "child", "id_number": id_number},
    )
    html = response.content.decode()
    assert response.status_code == 400 and message in html and 'value="李四"' in html
    assert not Resident.objects.filter(name="李四").exists()


def test_an_id_number_registered_anywhere_is_refused_without_saying_where(tree, wclient):
    taken = tree.residents["grid_b"].id_number
    response = wclient.post(
        reverse("worker:resident-new", args=[tree.households["grid_a"].pk]),
        {"name": "重名", "relation": "child", "id_number": taken},
    )
    html = response.content.decode()
    assert "该身份证号已登记，不能重复登记" in html and tree.households["grid_b"].address not in html


def test_editing_keeps_the_stored_id_number_when_left_empty(tree, wclient):
    resident = tree.residents["grid_a"]
    page = wclient.get(reverse("worker:resident-edit", args=[resident.pk])).content.decode()
    assert resident.id_number not in page and resident.id_number_masked in page
    wclient.post(
        reverse("worker:resident-edit", args=[resident.pk]),
        {"name": "改名", "relation": "head", "id_number": "", "phone": "", "is_active": "on"},
    )
    resident.refresh_from_db()
    assert resident.name == "改名" and resident.id_number == tree.residents["grid_a"].id_number
    assert resident.phone == tree.residents["grid_a"].phone and resident.is_active


def test_a_resident_who_moved_away_is_taken_off_the_register(tree, wclient):
    resident = tree.residents["grid_a"]
    wclient.post(reverse("worker:resident-edit", args=[resident.pk]), {"name": resident.name, "relation": "head"})
    resident.refresh_from_db()
    assert not resident.is_active
    assert "已注销" in wclient.get(reverse("worker:household", args=[resident.household_id])).content.decode()


# --- visits and key households ------------------------------------------------------------------


def key_household(tree, key="grid_a"):
    household = tree.households[key]
    household.tags.add(Tag.objects.get(code="dibao"))
    return household


def test_key_households_due_this_month(tree, wclient, worker):
    due = key_household(tree)
    via_resident = tree.households["group_a"]
    tree.residents["group_a"].tags.add(Tag.objects.get(code="duju-laoren"))
    plain = HouseholdFactory(area=tree["grid_a"])
    ResidentFactory(household=plain).tags.add(Tag.objects.get(code="dangyuan"))  # not a 五必访 tag
    key_household(tree, "grid_b")  # another grid
    home = wclient.get(reverse("worker:home")).context
    assert {h.pk for h in home["due_households"]} == {due.pk, via_resident.pk} and home["due_count"] == 2
    listed = wclient.get(reverse("worker:households"), {"due": "1"}).context["page"]
    assert {h.pk for h in listed} == {due.pk, via_resident.pk}
    # Visited last month: still due. Visited this month: done.
    first = timezone.localdate().replace(day=1)
    Visit.objects.create(
        household=due, visitor=worker, date=first - dt.timedelta(days=1), discussed="上月", area=due.area
    )
    assert due.pk in {h.pk for h in wclient.get(reverse("worker:home")).context["due_households"]}
    Visit.objects.create(household=due, visitor=worker, date=first, discussed="本月", area=due.area)
    assert {h.pk for h in wclient.get(reverse("worker:home")).context["due_households"]} == {via_resident.pk}


def test_a_visit_is_recorded_with_a_photo_and_shown_in_the_history(tree, wclient, worker):
    household = key_household(tree)
    follow_up = file_case(tree, household=household)
    response = wclient.post(
        reverse("worker:visit-new", args=[household.pk]),
        {
            "date": timezone.localdate().isoformat(),
            "discussed": "询问低保年审材料",
            "photo": jpeg(),
            "follow_up_case": follow_up.pk,
        },
    )
    assert response.status_code == 302
    visit = Visit.objects.get()
    assert (visit.visitor, visit.household, visit.follow_up_case) == (worker, household, follow_up)
    assert visit.grid_id == tree["grid_a"].pk and visit.town_id == tree["town_a"].pk
    assert visit.photo_content_type == "image/jpeg" and visit.photo.name.endswith(".jpg")
    html = wclient.get(reverse("worker:household", args=[household.pk])).content.decode()
    assert "询问低保年审材料" in html and "本月已走访" in html and follow_up.number in html
    photo = wclient.get(reverse("worker:visit-photo", args=[visit.pk]))
    assert photo.status_code == 200 and photo["Content-Type"] == "image/jpeg"
    assert b"".join(photo.streaming_content).startswith(b"\xff\xd8\xff")


def test_visit_form_errors(tree, wclient):
    household = tree.households["grid_a"]
    theirs = file_case(tree, area="grid_b", who="worker_b")
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    response = wclient.post(
        reverse("worker:visit-new", args=[household.pk]),
        {"date": tomorrow.isoformat(), "discussed": "", "photo": jpeg("v.jpg", PDF), "follow_up_case": theirs.pk},
    )
    html = response.content.decode()
    assert response.status_code == 400
    for message in ("走访日期不能晚于今天", "请填写走访内容", "只能上传照片", "事件不存在或不在您的网格内"):
        assert message in html
    assert not Visit.objects.exists()


def test_another_grid_visit_photo_is_not_found(tree, wclient):
    theirs = tree.households["grid_b"]
    visit = Visit(household=theirs, visitor=tree.users["worker_b"], discussed="x", area=theirs.area, grid=theirs.grid)
    visit.photo_content_type = "image/jpeg"
    visit.photo.save("v.jpg", jpeg(), save=False)
    visit.save()
    assert wclient.get(reverse("worker:visit-photo", args=[visit.pk])).status_code == 404


# --- 1+X -----------------------------------------------------------------------------------------


def test_a_pairing_is_registered_shown_and_ended(tree, wclient, worker):
    household = tree.households["grid_a"]
    refused = wclient.post(reverse("worker:pairing-new", args=[household.pk]), {"cadre_name": "", "since": ""})
    assert refused.status_code == 400 and "请填写结对干部或党员的姓名" in refused.content.decode()
    wclient.post(
        reverse("worker:pairing-new", args=[household.pk]),
        {"cadre_name": "陈书记", "cadre_title": "村党支部书记", "since": "2026-01-05"},
    )
    pairing = Pairing.objects.get()
    assert (pairing.household, pairing.created_by, pairing.until) == (household, worker, None)
    assert "陈书记" in wclient.get(reverse("worker:household", args=[household.pk])).content.decode()
    assert "陈书记" in wclient.get(reverse("worker:households")).content.decode()
    wclient.post(reverse("worker:pairing-end", args=[pairing.pk]))
    pairing.refresh_from_db()
    assert pairing.until == timezone.localdate()


def test_households_list_query_count_is_bounded(tree, wclient, django_assert_max_num_queries):
    for _ in range(20):
        ResidentFactory(household=HouseholdFactory(area=tree["grid_a"]))
    with django_assert_max_num_queries(10):
        wclient.get(reverse("worker:households"))


def test_visits_and_patrol_logs_are_in_the_admin(tree, client, worker):
    household = tree.households["grid_a"]
    visit = Visit.objects.create(household=household, visitor=worker, discussed="入户", area=household.area)
    admin = tree.users[Role.ADMIN]
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client.force_login(admin)
    assert "入户" in client.get(reverse("admin:grids_visit_change", args=[visit.pk])).content.decode()
    assert client.get(reverse("admin:cases_patrollog_changelist")).status_code == 200
    assert client.get(reverse("admin:grids_pairing_changelist")).status_code == 200
