"""ID numbers are checksum-validated and masked in every response and page."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from gridgov import pii
from grids.models import Resident
from staff.choices import Role
from tests.factories import make_id_number

# A published specimen number (GB 11643 example) with a correct check character.
VALID = "11010519491231002X"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("11010519491231002", "id_format"),  # 17 characters
        ("1101051949123100XX", "id_format"),  # X outside the last place
        ("110105194913310021", "id_birth_date"),  # month 13
        ("110105194902300023", "id_birth_date"),  # 30 February
        ("110105194912310021", "id_checksum"),  # wrong check character
    ],
)
def test_bad_id_numbers_are_refused_with_a_code(value, code):
    with pytest.raises(ValidationError) as info:
        pii.validate_id_number(value)
    assert info.value.code == code


def test_valid_id_number_passes_and_lowercase_x_is_normalised():
    pii.validate_id_number(VALID)
    pii.validate_id_number(VALID.lower())
    assert pii.id_gender(VALID) == "F"
    assert str(pii.id_birth_date(VALID)) == "1949-12-31"


def test_masks():
    assert pii.mask_id_number("330127199001011234") == "3301**********1234"
    assert pii.mask_phone("13812345678") == "138****5678"
    assert pii.mask_id_number("") == ""


@pytest.mark.parametrize("phone", ["1381234567", "23812345678", "abc"])
def test_bad_phones_are_refused(phone):
    with pytest.raises(ValidationError):
        pii.validate_phone(phone)


@pytest.mark.django_db
def test_resident_api_never_returns_a_raw_id_number_or_phone(tree, api_client):
    api_client.force_authenticate(tree.users[Role.COUNTY_OFFICIAL])
    raws = list(Resident.objects.values_list("id_number", "phone"))
    bodies = [api_client.get(reverse("resident-list")).content.decode()]
    for r in Resident.objects.all():
        bodies.append(api_client.get(reverse("resident-detail", args=[r.pk])).content.decode())
    text = "\n".join(bodies)
    for id_number, phone in raws:
        assert id_number not in text and phone not in text
        assert pii.mask_id_number(id_number) in text


@pytest.mark.django_db
def test_resident_create_validates_and_masks(tree, api_client):
    api_client.force_authenticate(tree.users[Role.GRID_WORKER])
    household = tree.households["grid_a"]
    bad = api_client.post(
        reverse("resident-list"),
        {"household": household.pk, "name": "张三", "id_number": "110105194912310021"},
        format="json",
    )
    assert bad.status_code == 400
    body = bad.json()
    assert body["code"] == "id_checksum"
    assert "校验位" in body["errors"]["id_number"][0]
    assert not Resident.objects.filter(name="张三").exists()

    raw = make_id_number(birth="19900101")
    good = api_client.post(
        reverse("resident-list"),
        {"household": household.pk, "name": "张三", "id_number": raw, "phone": "13900001111", "tags": ["dibao"]},
        format="json",
    )
    assert good.status_code == 201, good.content
    data = good.json()
    assert data["id_number"] == pii.mask_id_number(raw) and raw not in json.dumps(data)
    assert data["phone"] == "139****1111"
    created = Resident.objects.get(pk=data["id"])
    assert created.id_number == raw and created.birth_date.year == 1990
    assert created.grid_id == tree["grid_a"].pk and created.town_id == tree["town_a"].pk

    again = api_client.post(
        reverse("resident-list"), {"household": household.pk, "name": "李四", "id_number": raw}, format="json"
    )
    assert again.status_code == 400 and again.json()["code"] == "id_duplicate"


@pytest.mark.django_db
def test_admin_pages_show_masked_id_numbers(tree, client):
    admin = tree.users["nobody"]
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client.force_login(admin)
    resident = tree.residents["grid_a"]
    for url in (
        reverse("admin:grids_resident_changelist"),
        reverse("admin:grids_household_change", args=[resident.household_id]),
        reverse("admin:grids_resident_change", args=[resident.pk]),
    ):
        html = client.get(url).content.decode()
        assert resident.id_number not in html
        assert resident.id_number_masked in html


@pytest.mark.django_db
def test_admin_resident_edit_keeps_id_number_when_left_empty(tree, client):
    admin = tree.users["nobody"]
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client.force_login(admin)
    resident = tree.residents["grid_a"]
    stored = resident.id_number
    response = client.post(
        reverse("admin:grids_resident_change", args=[resident.pk]),
        {
            "household": resident.household_id,
            "name": "改名",
            "id_number": "",
            "phone": "",
            "relation": "head",
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    resident.refresh_from_db()
    assert resident.name == "改名" and resident.id_number == stored
