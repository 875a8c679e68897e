"""Real browser (Debian Chromium via Playwright) against the live server."""

import pytest

from staff.choices import Role
from tests.factories import build_tree

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def login(page, base: str, username: str, password: str = "pw-123456") -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")


def test_centre_staff_browses_the_town_on_a_phone(live_server, phone_page):
    tree = build_tree()
    page = phone_page
    login(page, live_server.url, f"a_{Role.CENTRE_STAFF}")
    page.wait_for_selector("h1")  # lands on the intake queue of the centre
    page.click("nav.nav >> text=区域")
    # A single post: straight into the town, with its totals.
    page.wait_for_selector("h1:has-text('千岛湖镇')")
    assert page.text_content("[data-total=households]").strip() == "3"
    assert page.locator("text=文昌镇").count() == 0
    # Drill down zone → village → grid via the children table.
    page.click("tr[data-area='330127100001'] a")
    page.wait_for_selector("h1:has-text('城中片区')")
    page.click("tr[data-area='330127100201'] a")
    page.click("tr[data-area='330127100201001'] a")
    page.wait_for_selector("h1:has-text('梦姑塘第一网格')")
    assert page.text_content("[data-total=residents]").strip() == "2"
    # The breadcrumb leads back up.
    page.click("nav.breadcrumb >> text=千岛湖镇")
    page.wait_for_selector("h1:has-text('千岛湖镇')")
    # htmx search finds areas in scope only.
    page.fill("input[name=q]", "网格")
    page.wait_for_selector("#search-results li")
    results = page.text_content("#search-results")
    assert "梦姑塘第一网格" in results and "文昌第一网格" not in results
    # Nothing overflows the phone viewport horizontally.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert tree.households["grid_a"].town_id == tree["town_a"].pk


def test_other_town_url_is_not_found_in_the_browser(live_server, phone_page):
    tree = build_tree()
    login(phone_page, live_server.url, "b_grid_worker")
    phone_page.goto(f"{live_server.url}/areas/")
    phone_page.wait_for_selector("h1:has-text('文昌第一网格')")
    response = phone_page.goto(f"{live_server.url}/areas/{tree['town_a'].pk}/")
    assert response.status == 404
