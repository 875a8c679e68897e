"""The dashboard in a real browser (Debian Chromium via Playwright): a county official filters the
period, drills into a town, a zone, a village and a grid, opens the cases behind a number and
downloads the Excel ledger, whose rows are the cases of that list."""

import io

import pytest
from openpyxl import load_workbook

from staff.choices import Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def login(page, base, username):
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-123456")
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_county_official_drills_down_and_downloads_the_ledger(live_server, chromium, tree, november):
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    base = live_server.url
    login(page, base, f"a_{Role.COUNTY_OFFICIAL}")

    page.goto(f"{base}/dashboard/")
    assert "淳安县" in page.text_content("h1")
    page.fill("input[name=date_from]", "2026-11-01")
    page.fill("input[name=date_to]", "2026-11-30")
    page.click("#dash-filters button[type=submit]")
    page.wait_for_load_state()
    assert page.text_content("[data-kpi=on_time_close_rate] [data-value]").strip() == "50.0%"
    assert page.text_content("[data-count=reported]").strip() == "10"
    page.wait_for_selector("#chart-trend canvas")  # ECharts drew the trend
    page.wait_for_selector("#dash-map[data-loaded=true]")
    assert page.get_attribute("#dash-map", "data-points") == "10"
    assert "尚未绘制边界" in page.text_content("#map-note")

    # Drill down: town → zone → village → grid, the period kept all the way.
    for name in ("千岛湖镇", "城中片区", "梦姑塘村", "梦姑塘第一网格"):
        page.click(f"table.ranking a.drill:has-text('{name}')")
        page.wait_for_load_state()
        assert name in page.text_content("h1")
    assert page.input_value("input[name=date_from]") == "2026-11-01"
    assert page.text_content("[data-count=reported]").strip() == "7"
    crumbs = page.locator("nav.breadcrumb a").all_text_contents()
    assert crumbs == ["淳安县", "千岛湖镇", "城中片区", "梦姑塘村"]

    # The cases behind 未按期结案, and their ledger.
    page.click("[data-count=due_late]")
    page.wait_for_load_state()
    listed = sorted(page.locator("table.queue a.rowlink").all_text_contents())
    assert listed == sorted(november.cases[k].number for k in ("c2", "c6", "c11"))
    with page.expect_download() as info:
        page.click("[data-export=ledger-xlsx] button")
    download = info.value
    assert download.suggested_filename.endswith(".xlsx") and "梦姑塘第一网格" in download.suggested_filename
    ws = load_workbook(io.BytesIO(open(download.path(), "rb").read()), read_only=True)["事件台账"]
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert sorted(r[0] for r in rows) == listed
    assert {r[11] for r in rows} == {"梦姑塘第一网格"}
    assert errors == []
    context.close()
