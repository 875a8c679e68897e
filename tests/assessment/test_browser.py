"""My score on a phone in a real browser (Debian Chromium via Playwright): read the ledger, open a
record, appeal a deduction with a photo; the centre staff sees the trend chart drawn by ECharts."""

import pytest
import time_machine
from django.apps import apps

from assessment import services
from assessment.periods import Period
from staff.choices import Role
from tests.factories import build_tree

from .conftest import JPEG, at, build_november

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def login(page, base: str, username: str, password: str = "pw-123456") -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_selector("h1")


@pytest.fixture
def month(tmp_path):
    from importlib import import_module

    import_module("assessment.migrations.0002_default_rules").add(apps, None)  # flushed by transactional tests
    tree = build_tree()
    november = build_november(tree)
    with time_machine.travel(at(12, 2, 3), tick=False):
        services.compute_month(Period.parse("2026-11"))
    return tree, november


def test_grid_worker_reads_the_ledger_and_appeals_on_the_phone(live_server, phone_page, month, tmp_path):
    _tree, november = month
    page = phone_page
    login(page, live_server.url, "a_grid_worker")
    page.goto(f"{live_server.url}/assessment/me/")
    page.wait_for_selector("h1:has-text('我的考核')")
    assert page.text_content(".score-total").split()[0] == "983"
    assert page.locator("text=2026-11-03 网格日报不足 2 条（实报 1 条）").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    late = page.locator(".lines li", has_text="核查超时")
    assert late.locator("a.expl, .expl a").get_attribute("href") == f"/console/case/{november.c1.pk}/"
    late.locator("text=对此条申诉").click()
    page.wait_for_selector("h1:has-text('提出申诉')")
    page.fill("textarea[name=reason]", "当天在开网格例会，次日一早已核查")
    photo = tmp_path / "现场.jpg"
    photo.write_bytes(JPEG)
    page.set_input_files("input[name=evidence]", str(photo))
    page.click("text=提交申诉")
    page.wait_for_selector("text=申诉已提交，请等待审核")
    assert page.locator(".lines li", has_text="核查超时").locator("text=申诉待审核").is_visible()


def test_centre_staff_sees_the_trend_chart(live_server, phone_page, month):
    tree, _november = month
    page = phone_page
    login(page, live_server.url, "a_centre_staff")
    page.goto(f"{live_server.url}/assessment/ranking/?kind=grid&bottom=1")
    page.wait_for_selector("table.ranking")
    assert page.locator("tr.flagged").count() == 1  # grid_a (975) below special_a (995)
    assert "梦姑塘第一网格" in page.text_content("tr.flagged")
    page.click("table.ranking a >> nth=0")
    page.wait_for_selector("[data-chart] canvas")  # ECharts drew the trend
    assert page.locator("text=历月趋势").is_visible()
    assert tree.users[Role.CENTRE_STAFF].username == "a_centre_staff"
