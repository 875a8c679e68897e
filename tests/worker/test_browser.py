"""The grid worker's phone pages in a real browser (Debian Chromium via Playwright) at 375 px."""

import base64
from decimal import Decimal

import pytest

from cases.models import Attachment, Case
from grids.visits import IdNumberAccess, Visit
from tests.factories import build_tree

from .conftest import fed_back_case

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def login(page, base: str, username: str = "a_grid_worker", password: str = "pw-123456") -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")


def camera_photo(page, width: int = 2400, height: int = 1800) -> bytes:
    """A real JPEG the size of a phone camera shot, drawn by the browser itself."""
    data_url = page.evaluate(
        """([w, h]) => {
            const c = document.createElement('canvas'); c.width = w; c.height = h;
            const g = c.getContext('2d');
            const grad = g.createLinearGradient(0, 0, w, h);
            grad.addColorStop(0, '#3a7'); grad.addColorStop(1, '#c31');
            g.fillStyle = grad; g.fillRect(0, 0, w, h);
            for (let i = 0; i < 400; i++) { g.fillStyle = `hsl(${i * 37 % 360},70%,50%)`;
              g.fillRect((i * 97) % w, (i * 53) % h, 40, 40); }
            return c.toDataURL('image/jpeg', 0.95);
        }""",
        [width, height],
    )
    return base64.b64decode(data_url.split(",", 1)[1])


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a JPEG's SOF segment."""
    i = 2
    while i < len(data):
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            return int.from_bytes(data[i + 7 : i + 9], "big"), int.from_bytes(data[i + 5 : i + 7], "big")
        i += 2 + length
    raise ValueError("no SOF segment")


def fill_report(page, base: str, photo: bytes | None = None, text: str = "村口垃圾堆积，有异味") -> None:
    page.goto(f"{base}/m/report/")
    page.fill("[data-category-search]", "垃圾")  # one match: picked for me
    assert page.input_value("select[name=category]") == "1401"
    page.wait_for_selector("[data-kind-hint]:has-text('问题类')")
    page.fill("textarea[name=description]", text)
    if photo is not None:
        page.set_input_files(
            "input[name=photos]", files=[{"name": "IMG_0001.jpg", "mimeType": "image/jpeg", "buffer": photo}]
        )
        page.wait_for_selector("[data-photo-previews] img")


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= 375


def test_a_grid_worker_day_on_a_phone(live_server, phone_page):
    tree = build_tree()
    fed = fed_back_case(tree)
    page = phone_page
    page.context.grant_permissions(["geolocation"], origin=live_server.url)
    page.context.set_geolocation({"latitude": 29.6054321, "longitude": 119.0423456, "accuracy": 12})
    login(page, live_server.url)
    page.wait_for_selector("h1:has-text('梦姑塘第一网格')")
    assert page.text_content("[data-count=reports-today]").strip() == "1"  # the fed-back case
    assert page.locator("a[href='/assessment/me/']").count() == 1
    assert no_horizontal_scroll(page)

    # File a report with a camera photo; the browser downscales it and adds the position.
    original = camera_photo(page)
    fill_report(page, live_server.url, original)
    page.wait_for_selector("[data-geo-status]:has-text('已带上定位')")
    assert no_horizontal_scroll(page)
    page.click("[data-submit]")
    page.wait_for_url("**/m/cases/*/")
    page.wait_for_selector("text=已上报，编号")
    case = Case.objects.get(description="村口垃圾堆积，有异味")
    assert (case.latitude, case.longitude) == (Decimal("29.605432"), Decimal("119.042346"))
    assert case.area == tree["grid_a"]
    stored = Attachment.objects.get(case=case)
    with stored.file.open("rb") as f:
        uploaded = f.read()
    assert max(jpeg_size(uploaded)) == 1600 and len(uploaded) < len(original)

    # It is among my reports, with its state.
    page.click(".m-tabs >> text=任务")
    page.wait_for_selector("[data-my-reports]")
    assert case.number in page.text_content("[data-my-reports]")

    # Check the case a department fed back: pass → closed.
    page.click(f"a[href='/m/cases/{fed.pk}/']")
    page.wait_for_selector("text=已劝离，恢复通行")
    page.click("button:has-text('核查通过，结案')")
    page.wait_for_url("**/m/tasks/")
    fed.refresh_from_db()
    assert fed.state == "closed"

    # Visit a household and record it.
    household = tree.households["grid_a"]
    page.click(".m-tabs >> text=住户")
    page.click(f"[data-household='{household.code}'] a")
    page.fill("textarea[name=discussed]", "了解家庭近况，无新诉求")
    page.click("button:has-text('保存走访记录')")
    page.wait_for_selector("[data-visit] >> text=了解家庭近况")
    assert Visit.objects.get().household == household
    assert no_horizontal_scroll(page)

    # Reveal an ID number: masked until a reason is given, and the access is logged.
    resident = tree.residents["grid_a"]
    assert resident.id_number not in page.content()
    page.click(f"[data-resident='{resident.pk}'] [data-reveal]")
    page.click("button:has-text('说明原因并查看')")
    page.wait_for_selector("[data-error-for=reason]:has-text('请填写查看原因')")
    assert not IdNumberAccess.objects.exists()
    page.fill("textarea[name=reason]", "为其代办低保年审")
    page.click("button:has-text('说明原因并查看')")
    page.wait_for_selector("[data-id-full]")
    assert page.text_content("[data-id-full]").strip() == resident.id_number
    access = IdNumberAccess.objects.get()
    assert (access.resident_id, access.reason) == (resident.pk, "为其代办低保年审")


def test_a_double_tap_files_one_case(live_server, phone_page):
    build_tree()
    page = phone_page
    login(page, live_server.url)
    page.wait_for_selector("h1:has-text('梦姑塘第一网格')")
    fill_report(page, live_server.url, camera_photo(page, 800, 600))
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.dblclick("[data-submit]")
    page.wait_for_url("**/m/cases/*/")
    assert Case.objects.count() == 1 and Attachment.objects.count() == 1
    assert len(posts) == 1  # the button is disabled while the first submit is in flight


def test_a_lost_response_keeps_the_draft_and_the_resend_files_once(live_server, phone_page):
    """The server files the report but the answer never reaches the phone (patchy network): the
    draft stays in the browser with its photo; resending it from home replays the first case."""
    build_tree()
    page = phone_page
    login(page, live_server.url)
    page.wait_for_selector("h1:has-text('梦姑塘第一网格')")
    fill_report(page, live_server.url, camera_photo(page, 1200, 900), text="路灯不亮")

    def lose_the_answer(route):
        route.fetch()  # reaches the server
        route.abort("internetdisconnected")

    page.route("**/m/report/", lose_the_answer)
    page.click("[data-submit]")
    page.wait_for_selector("[data-form-status]:has-text('已保存在本机')")
    page.unroute("**/m/report/")
    assert Case.objects.count() == 1

    page.goto(f"{live_server.url}/m/")
    page.wait_for_selector("[data-draft] >> text=路灯不亮")
    page.click("[data-draft] button:has-text('重新发送')")
    page.wait_for_url("**/m/cases/*/")
    page.wait_for_selector("text=没有重复登记")
    assert Case.objects.count() == 1 and Attachment.objects.count() == 1
    page.goto(f"{live_server.url}/m/")
    assert page.locator("[data-draft]").count() == 0


def test_an_offline_submit_is_saved_and_sent_later(live_server, phone_page):
    build_tree()
    page = phone_page
    login(page, live_server.url)
    page.wait_for_selector("h1:has-text('梦姑塘第一网格')")
    fill_report(page, live_server.url, camera_photo(page, 640, 480), text="井盖缺失")
    page.context.set_offline(True)
    page.click("[data-submit]")
    page.wait_for_selector("[data-form-status]:has-text('网络不通')")
    assert Case.objects.count() == 0
    page.context.set_offline(False)
    # Continue editing the draft from home: everything typed and the photo come back.
    page.goto(f"{live_server.url}/m/")
    page.click("[data-draft] >> text=编辑")
    page.wait_for_selector("[data-photo-previews] img")
    assert page.input_value("textarea[name=description]") == "井盖缺失"
    assert page.input_value("select[name=category]") == "1401"
    page.click("[data-submit]")
    page.wait_for_url("**/m/cases/*/")
    case = Case.objects.get()
    assert case.description == "井盖缺失" and case.attachments.count() == 1


def test_the_report_form_works_without_javascript(live_server, chromium):
    build_tree()
    context = chromium.new_context(viewport={"width": 375, "height": 740}, locale="zh-CN", java_script_enabled=False)
    page = context.new_page()
    try:
        login(page, live_server.url)
        page.goto(f"{live_server.url}/m/report/")
        assert page.locator("[data-category-search]").is_hidden()
        page.click("[data-submit]")  # nothing chosen: the server says so next to the fields
        page.wait_for_selector("[data-error-for=category]:has-text('请选择事项类别')")
        page.select_option("select[name=category]", "1401")
        page.fill("textarea[name=description]", "无脚本上报")
        page.set_input_files(
            "input[name=photos]",
            files=[{"name": "a.jpg", "mimeType": "image/jpeg", "buffer": b"\xff\xd8\xff\xe0" + b"0" * 64}],
        )
        page.click("[data-submit]")
        page.wait_for_url("**/m/cases/*/")
        assert Case.objects.get().description == "无脚本上报" and Attachment.objects.count() == 1
    finally:
        context.close()
