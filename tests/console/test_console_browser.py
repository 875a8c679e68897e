"""The console in a real browser (Debian Chromium via Playwright): a case's whole life across the
centre, a department and the grid worker, and two staff racing on one case."""

import pytest

from cases import services
from cases.models import Case, Category
from staff.choices import Role
from tests.factories import build_tree

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF" + b"\x00" * 100


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def desktop(chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    return context, page


def login(page, base, username):
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-123456")
    page.click("button[type=submit]")
    page.wait_for_load_state()


def do(page, action, fill=None, select=None, files=None):
    """Open the action's panel on the case page, fill its form and submit it."""
    panel = page.locator(f"details.action[data-action='{action}']")
    panel.locator("summary").click()
    for name, value in (fill or {}).items():
        panel.locator(f"[name='{name}']").fill(value)
    for name, value in (select or {}).items():
        panel.locator(f"select[name='{name}']").select_option(value)
    for name, value in (files or {}).items():
        panel.locator(f"input[name='{name}']").set_input_files(value)
    panel.locator("button[type=submit]").click()
    page.wait_for_load_state()


def test_a_case_from_intake_to_closed(live_server, chromium, tmp_path):
    tree = build_tree()
    case = services.case_report(
        reporter=tree.users[Role.GRID_WORKER],
        area=tree["grid_a"],
        category=Category.objects.get(code="0202"),
        description="文化广场夜间有人聚众喧哗",
    )
    dept = str(tree.departments["dept_a"].pk)
    base = live_server.url
    context, page = desktop(chromium)

    # The centre finds the report in its intake queue, accepts and dispatches it.
    login(page, base, f"a_{Role.CENTRE_STAFF}")
    page.goto(f"{base}/console/")
    page.click(f"a.rowlink:has-text('{case.number}')")
    do(page, "accept")
    assert page.text_content("[data-state]").strip() == "处置中"
    do(page, "dispatch", select={"department": dept}, fill={"note": "请派人处理"})
    assert "千岛湖镇综合执法队" in page.text_content("[data-owner]")

    # The department returns it with a reason.
    context.clear_cookies()
    login(page, base, f"a_{Role.DEPARTMENT}")
    page.goto(f"{base}/console/department/")
    page.click(f"a.rowlink:has-text('{case.number}')")
    do(page, "return", fill={"note": "需先由村里核实"})
    assert page.text_content("[data-state]").strip() == "待受理"

    # The centre dispatches again.
    context.clear_cookies()
    login(page, base, f"a_{Role.CENTRE_STAFF}")
    page.goto(f"{base}/console/case/{case.pk}/")
    do(page, "dispatch", select={"department": dept}, fill={"note": "已核实，请处理"})

    # The department feeds back with a photo.
    photo = tmp_path / "after.jpg"
    photo.write_bytes(JPEG)
    context.clear_cookies()
    login(page, base, f"a_{Role.DEPARTMENT}")
    page.goto(f"{base}/console/department/")
    page.click(f"a.rowlink:has-text('{case.number}')")
    do(page, "sign")
    do(page, "submit_feedback", fill={"note": "已劝离，增加夜间巡逻"}, files={"photos": str(photo)})
    assert page.text_content("[data-state]").strip() == "待核查"

    # The grid worker checks on the spot and passes it.
    context.clear_cookies()
    login(page, base, f"a_{Role.GRID_WORKER}")
    page.goto(f"{base}/console/case/{case.pk}/")
    do(page, "verify", fill={"note": "现场已恢复正常"})
    assert page.text_content("[data-state]").strip() == "已结案"
    timeline = page.locator("ol.timeline li").evaluate_all("els => els.map(e => e.dataset.action)")
    assert timeline == ["report", "accept", "dispatch", "return", "dispatch", "sign", "submit_feedback", "verify"]
    assert page.locator("ol.timeline img.thumb").count() == 1
    context.close()
    assert Case.objects.get(pk=case.pk).state == "closed"


def test_two_staff_race_on_one_case(live_server, chromium):
    tree = build_tree()
    case = services.case_report(
        reporter=tree.users[Role.GRID_WORKER],
        area=tree["grid_a"],
        category=Category.objects.get(code="0202"),
        description="路灯不亮",
    )
    base = live_server.url
    ctx_a, page_a = desktop(chromium)
    ctx_b, page_b = desktop(chromium)
    login(page_a, base, f"a_{Role.CENTRE_STAFF}")
    login(page_b, base, f"a_{Role.TOWN_LEADER}")
    for page in (page_a, page_b):
        page.goto(f"{base}/console/case/{case.pk}/")
    do(page_a, "accept")
    do(page_b, "reject", fill={"note": "不属实"})
    body = page_b.text_content("main")
    assert "a_centre_staff" in body and "处置中" in body
    assert Case.objects.get(pk=case.pk).state == "handling"
    ctx_a.close()
    ctx_b.close()
