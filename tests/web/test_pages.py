"""Server-rendered pages: login, the Chinese layout, the tree browser with cumulative counts."""

import pytest
from django.urls import reverse

from staff.choices import Role
from tests.factories import HouseholdFactory, ResidentFactory

pytestmark = pytest.mark.django_db


def test_login_page_is_chinese_by_default(client):
    html = client.get(reverse("login")).content.decode()
    assert 'lang="zh-hans"' in html and "登录" in html and "密码" in html


def test_english_is_available(client):
    client.post(reverse("set_language"), {"language": "en", "next": "/login/"})
    html = client.get(reverse("login")).content.decode()
    assert 'lang="en"' in html


def test_pages_require_login(tree, client):
    response = client.get(reverse("grids:area", args=[tree["town_a"].pk]))
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_wrong_password_shows_a_chinese_error(tree, client):
    html = client.post(reverse("login"), {"username": "a_grid_worker", "password": "nope"}).content.decode()
    assert "用户名或密码不正确" in html


def test_single_post_goes_straight_into_its_subtree(tree, client):
    client.force_login(tree.users[Role.CENTRE_STAFF])
    response = client.get(reverse("grids:browser"))
    assert response.status_code == 302
    assert response["Location"] == reverse("grids:area", args=[tree["town_a"].pk])


def test_user_without_posts_is_told_so(tree, client):
    client.force_login(tree.users["nobody"])
    assert "还没有任何岗位" in client.get(reverse("grids:browser")).content.decode()


def test_tree_browser_shows_breadcrumb_and_cumulative_counts(tree, client):
    client.force_login(tree.users[Role.COUNTY_OFFICIAL])
    extra = HouseholdFactory(area=tree["group_a"])
    ResidentFactory(household=extra)
    ResidentFactory(household=extra)
    response = client.get(reverse("grids:area", args=[tree["town_a"].pk]))
    children = {c.code: c for c in response.context["children"]}
    zone = children["330127100001"]
    special = children["330127100002"]
    # zone_a holds grid_a (households in grid_a and group_a: 1 + 2), special_a is itself a grid.
    assert (zone.grid_count, zone.household_count, zone.resident_count) == (1, 3, 4)
    assert (special.grid_count, special.household_count, special.resident_count) == (1, 1, 1)
    assert response.context["totals"] == {"grids": 2, "households": 4, "residents": 5}
    html = response.content.decode()
    assert "淳安县" in html and "千岛湖镇" in html


def test_breadcrumb_above_scope_is_not_a_link(tree, client):
    client.force_login(tree.users[Role.GRID_WORKER])
    response = client.get(reverse("grids:area", args=[tree["group_a"].pk]))
    crumbs = dict((a.code, ok) for a, ok in response.context["breadcrumb"])
    assert crumbs == {
        "330127": False,
        "330127100": False,
        "330127100001": False,
        "330127100201": False,
        "330127100201001": True,
    }


def test_tree_browser_query_count_is_constant(tree, client, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from grids.choices import AreaLevel
    from tests.factories import area

    client.force_login(tree.users[Role.COUNTY_OFFICIAL])
    url = reverse("grids:area", args=[tree["town_a"].pk])
    with CaptureQueriesContext(connection) as few_children:
        client.get(url)
    for i in range(10):
        z = area(f"330127100{910 + i}", f"新片区{i}", AreaLevel.ZONE, tree["town_a"])
        g = area(f"{z.code}001", f"新网格{i}", AreaLevel.GRID, z)
        HouseholdFactory(area=g)
    with CaptureQueriesContext(connection) as many_children:
        assert client.get(url).status_code == 200
    assert len(many_children) == len(few_children) <= 14
