"""Service-dependent tests: a test marked `postgres`, `redis` or `browser` runs only when the
service is there. Without it the test is skipped with the reason printed (`-ra`); under CI=true a
missing service fails the test instead, so CI can never go green by skipping."""

import os
import shutil
from functools import cache

import pytest
from django.conf import settings

from tests.factories import build_tree

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def _database_vendor() -> str:
    engine = settings.DATABASES["default"]["ENGINE"]
    return "postgresql" if "postgresql" in engine else "sqlite" if "sqlite" in engine else engine


@cache
def _redis_problem() -> str | None:
    url = os.environ.get("CELERY_BROKER_URL", "")
    if not url.startswith("redis"):
        return "needs Redis: set CELERY_BROKER_URL=redis://…"
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as exc:
        return f"Redis at {url} does not answer: {exc}"
    return None


@cache
def _browser_problem() -> str | None:
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        return f"needs Chromium at {CHROMIUM} (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "needs Playwright for Python (pip install playwright)"
    return None


def _problem_for(item) -> str | None:
    if item.get_closest_marker("postgres") and _database_vendor() != "postgresql":
        return "needs PostgreSQL: set DATABASE_URL=postgres://…"
    if item.get_closest_marker("redis"):
        problem = _redis_problem()
        if problem:
            return problem
    if item.get_closest_marker("browser"):
        problem = _browser_problem()
        if problem:
            return problem
    return None


def pytest_runtest_setup(item):
    problem = _problem_for(item)
    if problem:
        if IN_CI:
            pytest.fail(f"CI=true but {problem}", pytrace=False)
        pytest.skip(problem)


def pytest_report_header(config):
    return [
        f"database: {_database_vendor()}  broker: {settings.CELERY_BROKER_URL.split('://')[0]}  CI={IN_CI}",
    ]


@pytest.fixture
def tree(db):
    return build_tree()


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium driven by Playwright (Playwright cannot download a browser here)."""
    problem = _browser_problem()
    if problem:
        if IN_CI:
            pytest.fail(f"CI=true but {problem}", pytrace=False)
        pytest.skip(problem)
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
    # still synchronous and safe.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def phone_page(chromium):
    """A page at a phone's viewport (375 px), Chinese locale."""
    context = chromium.new_context(viewport={"width": 375, "height": 740}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def _load_reference_data() -> None:
    """Rows that data migrations create (tags, the case catalogue). Transactional tests flush the
    database after each test, taking these with them; put them back for the next one."""
    from importlib import import_module

    from django.apps import apps

    for module in ("grids.migrations.0002_default_tags", "cases.migrations.0003_default_categories"):
        migration = import_module(module)
        loader = getattr(migration, "add_tags", None) or migration.add
        loader(apps, None)


@pytest.fixture(autouse=True)
def _reference_data_for_transactional_tests(request):
    marker = request.node.get_closest_marker("django_db")
    if marker and marker.kwargs.get("transaction"):
        request.getfixturevalue("transactional_db")
        _load_reference_data()


@pytest.fixture
def fresh_calendar():
    """The working calendar's caches (admin days, years) emptied before and after the test."""
    from cases import calendar

    calendar.reset()
    yield
    calendar.reset()


@pytest.fixture
def demo_place(db):
    """The demo place of seed_demo (every tree level, households, staff posts), seed 3."""
    from gridgov.demo import DemoBuilder

    DemoBuilder(scale="demo", seed=3, log=lambda *a: None).build()
