"""The scope matrix: every role sees its own subtree and nothing of the other town, through the
querysets, every API list and detail endpoint, and the filters that take an area id."""

import pytest
from django.urls import reverse

from grids.models import Area, Household, Resident
from staff.choices import Role
from staff.models import Department, Post

pytestmark = pytest.mark.django_db

TOWN_A = {"town_a", "zone_a", "village_a", "grid_a", "group_a", "special_a"}
EVERYTHING = TOWN_A | {"county", "town_b", "zone_b", "grid_b"}
# What each user's posts reach (area keys of tests.factories.build_tree).
EXPECTED_AREAS = {
    Role.GRID_WORKER: {"grid_a", "group_a"},
    Role.GRID_CHIEF: {"grid_a", "group_a"},
    Role.ZONE_CHIEF: {"zone_a", "village_a", "grid_a", "group_a"},
    Role.CENTRE_STAFF: TOWN_A,
    Role.TOWN_LEADER: TOWN_A,
    Role.DEPARTMENT: TOWN_A,
    Role.COUNTY_OFFICIAL: EVERYTHING,
    Role.ADMIN: EVERYTHING,
    "worker_b": {"grid_b"},
    "nobody": set(),
}
# Households hang from these areas; a user sees the ones whose area is in their scope.
HOUSEHOLD_AREAS = ("grid_a", "group_a", "special_a", "grid_b")
USERS = list(EXPECTED_AREAS)


def _keys(tree, objects, mapping) -> set[str]:
    ids = {o.pk for o in objects}
    return {k for k, v in mapping.items() if v.pk in ids}


@pytest.mark.parametrize("who", USERS)
def test_visible_areas_are_the_union_of_post_subtrees(tree, who):
    user = tree.users[who]
    assert _keys(tree, Area.objects.visible_to(user), tree.areas) == EXPECTED_AREAS[who]


@pytest.mark.parametrize("who", USERS)
def test_visible_households_and_residents_follow_the_area_scope(tree, who):
    user = tree.users[who]
    expected = {k for k in HOUSEHOLD_AREAS if k in EXPECTED_AREAS[who]}
    assert _keys(tree, Household.objects.visible_to(user), tree.households) == expected
    assert _keys(tree, Resident.objects.visible_to(user), tree.residents) == expected


def test_superuser_sees_everything(tree):
    root = tree.users["nobody"]
    root.is_superuser = True
    root.save()
    from grids.scope import forget_scope

    forget_scope(root)
    assert Area.objects.visible_to(root).count() == Area.objects.count()


def test_two_posts_give_the_union_of_both_subtrees(tree):
    user = tree.users["worker_b"]
    Post.objects.create(user=user, role=Role.GRID_CHIEF, area=tree["special_a"])
    user.refresh_from_db()  # a fresh user object, as on the next request
    assert _keys(tree, Area.objects.visible_to(user), tree.areas) == {"grid_b", "special_a"}
    assert _keys(tree, Household.objects.visible_to(user), tree.households) == {"grid_b", "special_a"}


def test_inactive_post_grants_nothing(tree):
    user = tree.users[Role.CENTRE_STAFF]
    Post.objects.filter(user=user).update(is_active=False)
    user.refresh_from_db()
    assert not Area.objects.visible_to(user).exists()
    assert not Household.objects.visible_to(user).exists()


def test_departments_and_posts_are_scoped(tree):
    worker_b = tree.users["worker_b"]
    assert not Department.objects.visible_to(worker_b).exists()
    assert set(Department.objects.visible_to(tree.users[Role.CENTRE_STAFF])) == {tree.departments["dept_a"]}
    seen = set(Post.objects.visible_to(tree.users[Role.CENTRE_STAFF]).values_list("user__username", flat=True))
    assert "b_grid_worker" not in seen and "a_grid_worker" in seen and "a_department" in seen


# --- API ------------------------------------------------------------------------------------

LIST_ENDPOINTS = {
    "area": ("area-list", lambda t: t.areas),
    "household": ("household-list", lambda t: t.households),
    "resident": ("resident-list", lambda t: t.residents),
}


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


@pytest.mark.parametrize("who", USERS)
@pytest.mark.parametrize("kind", sorted(LIST_ENDPOINTS))
def test_api_lists_never_leak_outside_scope(tree, api_client, who, kind):
    url_name, objects = LIST_ENDPOINTS[kind]
    api_client.force_authenticate(tree.users[who])
    got = _ids(api_client.get(reverse(url_name), {"page_size": 500}))
    mapping = objects(tree)
    allowed = EXPECTED_AREAS[who]
    expected = {o.pk for k, o in mapping.items() if k in allowed}
    assert got == expected


@pytest.mark.parametrize("who", [r for r in USERS if r not in (Role.COUNTY_OFFICIAL, Role.ADMIN)])
@pytest.mark.parametrize("kind", sorted(LIST_ENDPOINTS))
def test_api_detail_of_other_town_is_404(tree, api_client, who, kind):
    url_name, objects = LIST_ENDPOINTS[kind]
    api_client.force_authenticate(tree.users[who])
    other = objects(tree)["grid_b"] if who != "worker_b" else objects(tree)["grid_a"]
    response = api_client.get(reverse(url_name.replace("-list", "-detail"), args=[other.pk]))
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("param", ["within", "parent"])
def test_area_filters_cannot_reach_another_town(tree, api_client, param):
    api_client.force_authenticate(tree.users[Role.CENTRE_STAFF])
    assert _ids(api_client.get(reverse("area-list"), {param: tree["town_b"].pk})) == set()
    assert _ids(api_client.get(reverse("area-list"), {param: tree["county"].pk})) <= {tree.areas[k].pk for k in TOWN_A}


def test_household_within_filter_cannot_reach_another_town(tree, api_client):
    api_client.force_authenticate(tree.users[Role.CENTRE_STAFF])
    assert _ids(api_client.get(reverse("household-list"), {"within": tree["town_b"].pk})) == set()
    assert _ids(api_client.get(reverse("resident-list"), {"within": tree["grid_b"].pk})) == set()


def test_area_children_of_other_town_is_404(tree, api_client):
    api_client.force_authenticate(tree.users[Role.GRID_WORKER])
    assert api_client.get(reverse("area-children", args=[tree["town_b"].pk])).status_code == 404


def test_cannot_create_household_in_another_town(tree, api_client):
    api_client.force_authenticate(tree.users[Role.CENTRE_STAFF])
    before = Household.objects.count()
    response = api_client.post(
        reverse("household-list"), {"code": "HX1", "area": tree["grid_b"].pk, "address": "外镇 1 号"}, format="json"
    )
    assert response.status_code == 400
    assert "area" in response.json()["errors"]
    assert Household.objects.count() == before


def test_cannot_move_resident_into_household_of_another_town(tree, api_client):
    api_client.force_authenticate(tree.users[Role.CENTRE_STAFF])
    resident = tree.residents["grid_a"]
    response = api_client.patch(
        reverse("resident-detail", args=[resident.pk]), {"household": tree.households["grid_b"].pk}, format="json"
    )
    assert response.status_code == 400
    resident.refresh_from_db()
    assert resident.household_id == tree.households["grid_a"].pk


# --- pages ----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", [Role.GRID_WORKER, Role.CENTRE_STAFF, "worker_b"])
def test_tree_browser_of_other_town_is_404(tree, client, who):
    client.force_login(tree.users[who])
    other = tree["town_b"] if who != "worker_b" else tree["grid_a"]
    assert client.get(reverse("grids:area", args=[other.pk])).status_code == 404


def test_area_search_shows_only_scope(tree, client):
    client.force_login(tree.users[Role.CENTRE_STAFF])
    html = client.get(reverse("grids:search"), {"q": "网格"}).content.decode()
    assert "梦姑塘第一网格" in html and "文昌第一网格" not in html


def test_admin_changelist_is_scoped_for_non_superuser_staff(tree, client):
    user = tree.users[Role.ADMIN]
    user.is_staff = True
    user.save()
    Post.objects.filter(user=user).update(area=tree["town_a"])
    from django.contrib.auth.models import Permission

    user.user_permissions.add(Permission.objects.get(codename="view_household"))
    client.force_login(user)
    html = client.get(reverse("admin:grids_household_changelist")).content.decode()
    assert tree.households["grid_a"].code in html
    assert tree.households["grid_b"].code not in html
