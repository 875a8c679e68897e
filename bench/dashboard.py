"""Dashboard benchmarks (issue 6), called from bench/run.py: `from bench import dashboard;
dashboard.run(bench)`.

Measures the county and town dashboard pages in-process (Django test client, last 30 days, the
default view) and the same figures computed by hand-written SQL, and checks that both give the
same numbers. Targets: county page p95 ≤ 300 ms; the page within 2× of the hand-written SQL.

This module is also a URLconf (ROOT_URLCONF="bench.dashboard" while measuring), so the pages can be
measured before gridgov/urls.py mounts /dashboard/.
"""

from __future__ import annotations

import os
import statistics

from django.urls import include, path

from gridgov.urls import urlpatterns as _project

urlpatterns = list(_project)
if "dashboard" not in {getattr(p, "namespace", None) for p in _project}:
    urlpatterns = [path("dashboard/", include("cases.dashboard.urls")), *urlpatterns]


# --- hand-written SQL for the same figures -------------------------------------------------------

_PROBLEM = "c.kind = 'problem' AND c.merged_into_id IS NULL"
_REPORTED = "c.created_at >= %(s)s AND c.created_at < %(e)s"
_CLOSED = f"{_PROBLEM} AND c.state = 'closed' AND c.closed_at >= %(s)s AND c.closed_at < %(e)s"
_D = (
    f"{_PROBLEM} AND c.state <> 'rejected' AND ((c.handle_due_at >= %(s)s AND c.handle_due_at < %(de)s)"
    " OR (c.state = 'closed' AND c.closed_at >= %(s)s AND c.closed_at < %(e)s))"
)
_DUE = f"{_D} AND c.extension_count = 0"
_OPEN = "c.state IN ('reported', 'handling', 'escalated', 'feedback')"
_ACCEPTED = f"{_PROBLEM} AND c.accepted_at >= %(s)s AND c.accepted_at < %(e)s"
_RATED = "c.rated_at >= %(s)s AND c.rated_at < %(e)s AND c.rating <> ''"
_DISPATCHED = f"{_PROBLEM} AND {_REPORTED} AND c.dispatch_count > 0"
HAND_MEASURES = {
    "reported": _REPORTED,
    "reported_problem": f"{_PROBLEM} AND {_REPORTED}",
    "reported_information": f"c.kind = 'information' AND {_REPORTED}",
    **{
        f"state_{s}": f"{_REPORTED} AND c.state = '{s}'"
        for s in ("reported", "handling", "escalated", "feedback", "closed", "rejected")
    },
    "closed": _CLOSED,
    "due": _DUE,
    "due_closed": f"{_DUE} AND c.state = 'closed'",
    "due_closed_on_time": f"{_DUE} AND c.state = 'closed' AND c.closed_on_time",
    "due_late": f"{_DUE} AND NOT (c.state = 'closed' AND c.closed_on_time IS TRUE)",
    "extended": f"{_D} AND c.extension_count > 0",
    "reworked": f"{_CLOSED} AND c.rework_count > 0",
    "dispatched": _DISPATCHED,
    "returned": f"{_DISPATCHED} AND c.return_count > 0",
    "accepted": _ACCEPTED,
    "accepted_on_time": f"{_ACCEPTED} AND c.accepted_on_time",
    "rated": _RATED,
    "satisfied": f"{_RATED} AND c.rating IN ('satisfied', 'basically')",
    "open": _OPEN,
    "overdue": f"{_OPEN} AND c.is_overdue",
    "near_due": f"{_OPEN} AND NOT c.is_overdue AND c.due_at <= %(near)s",
    "supervised": f"{_OPEN} AND c.is_supervised",
}
_RELEVANT = (
    f"({_REPORTED} OR (c.closed_at >= %(s)s AND c.closed_at < %(e)s)"
    " OR (c.handle_due_at >= %(s)s AND c.handle_due_at < %(de)s)"
    " OR (c.accepted_at >= %(s)s AND c.accepted_at < %(e)s)"
    " OR (c.rated_at >= %(s)s AND c.rated_at < %(e)s)"
    f" OR {_OPEN})"
)
_BELOW = {
    "county": "COALESCE({t}.town_id, {t}.zone_id, {t}.village_id, {t}.grid_id)",
    "town": "COALESCE({t}.zone_id, {t}.village_id, {t}.grid_id)",
}


HAND_PARTS = ("children", "cases", "trend", "compliance", "households", "categories")


def hand_sql(node, period, parts: tuple[str, ...] = HAND_PARTS) -> dict:
    """The dashboard's figures for a county or town, written by hand the way one would without an
    ORM: all case counts per (child, 小类, source) in one pass, the trend per (day reported, day
    closed) in a second, then reporting compliance, visits, households, the children and the
    catalogue. JIT off, as the page does."""
    from django.db import connection, transaction

    from cases.selectors import near_due_window

    column = f"{node.level}_id"
    key = _BELOW[node.level]
    params = {
        "node": node.pk,
        "s": period.start,
        "e": period.end,
        "de": period.due_end,
        "near": period.now + near_due_window(),
        "d0": period.date_from,
        "d1": period.date_to,
        "tree": node.tree_id,
        "lft": node.lft,
        "rght": node.rght,
    }
    filters = ", ".join(f"count(*) FILTER (WHERE {sql}) AS {name}" for name, sql in HAND_MEASURES.items())
    local = "AT TIME ZONE 'Asia/Shanghai')::date"
    statements = {
        "children": "SELECT id, name, level, lft, rght FROM grids_area WHERE parent_id = %(node)s ORDER BY lft",
        "cases": f"SELECT {key.format(t='c')} AS child, c.category_id, c.source, {filters} FROM cases_case c "
        f"WHERE c.{column} = %(node)s AND {_RELEVANT} GROUP BY 1, 2, 3",
        "trend": f"SELECT CASE WHEN {_REPORTED} THEN (c.created_at {local} END AS new, "
        f"CASE WHEN {_CLOSED} THEN (c.closed_at {local} END AS done, count(*) FROM cases_case c "
        f"WHERE c.{column} = %(node)s AND (({_REPORTED}) OR ({_CLOSED})) GROUP BY 1, 2",
        "compliance": "SELECT ch.id, count(*), count(*) FILTER (WHERE g.compliant) FROM cases_griddaycompliance g "
        "JOIN grids_area ga ON ga.id = g.grid_id "
        "JOIN grids_area ch ON ch.parent_id = %(node)s AND ch.tree_id = ga.tree_id "
        "AND ga.lft BETWEEN ch.lft AND ch.rght "
        "WHERE g.day BETWEEN %(d0)s AND %(d1)s "
        "AND ga.tree_id = %(tree)s AND ga.lft > %(lft)s AND ga.rght < %(rght)s "
        "GROUP BY 1",
        # 走访覆盖率: households there now, and those of them with a visit dated in the period.
        "households": f"SELECT {key.format(t='h')}, count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 "
        "FROM grids_visit v WHERE v.household_id = h.id AND v.date BETWEEN %(d0)s AND %(d1)s)) "
        f"FROM grids_household h WHERE h.{column} = %(node)s AND h.is_active GROUP BY 1",
        "categories": "SELECT id, code, name, parent_id FROM cases_category",
    }
    out: dict = {}
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL jit = off")
        for part in parts:
            cur.execute(statements[part], params)
            if part == "cases":
                names = [d[0] for d in cur.description]
                out[part] = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
            else:
                out[part] = cur.fetchall()
    return out


def hand_sql_rollup(node, period) -> dict:
    """The same figures by hand-written SQL over the rollup tables the page reads (the fair
    baseline for the rollup path): the period's days per child, 小类 and source (the summed
    grains), the closed/deadline pairs per child, today's deadlines and near-due cases live, the
    current snapshot, the trend, the households by latest visit, then the same compliance,
    children and catalogue statements as `hand_sql`."""
    import datetime as dt

    from django.db import connection, transaction
    from django.utils import timezone

    from cases.dashboard.rollup_models import (
        DAY_COLUMNS,
        DUE_COLUMNS,
        GRAIN_CATEGORY,
        GRAIN_CHILD,
        GRAIN_SOURCE,
        OPEN_COLUMNS,
        PAIR_COLUMNS,
    )
    from cases.selectors import near_due_window

    today = timezone.localdate(period.now)
    last_whole = period.date_to if period.date_to < today else today - dt.timedelta(days=1)
    live_today = period.date_from <= today <= period.date_to
    column = f"{node.level}_id"
    key = _BELOW[node.level]
    params = {
        "node": node.pk,
        "d0": period.date_from,
        "d1": period.date_to,
        "last": last_whole,
        "today": today,
        "ts": period._midnight(today),
        "te": period._midnight(today + dt.timedelta(days=1)),
        "s": period.start,
        "e": period.end,
        "de": period.due_end,
        "near": period.now + near_due_window(),
        "child": GRAIN_CHILD,
        "cat": GRAIN_CATEGORY,
        "src": GRAIN_SOURCE,
    }
    dated = [c for c in DAY_COLUMNS if not c.startswith("d_")]
    day_sums = ", ".join(
        [
            *(f"sum({c}) AS {c}" for c in dated),
            *(f"sum(d_{c}) FILTER (WHERE day <= %(last)s) AS {c}" for c in DUE_COLUMNS),
        ]
    )
    out: dict = {}
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL jit = off")
        cur.execute("SELECT id, name, level, lft, rght FROM grids_area WHERE parent_id = %(node)s ORDER BY lft", params)
        out["children"] = cur.fetchall()
        cur.execute(
            f"SELECT child_key, category_id, source, {day_sums} FROM cases_casedaystat "
            "WHERE node_key = %(node)s AND grain IN (%(child)s, %(cat)s, %(src)s) "
            "AND day BETWEEN %(d0)s AND %(d1)s GROUP BY grain, 1, 2, 3",
            params,
        )
        out["days"] = cur.fetchall()
        today_clause = " AND deadline_day IS DISTINCT FROM %(today)s" if live_today else ""
        cur.execute(
            f"SELECT child_key, {', '.join(f'sum({c})' for c in PAIR_COLUMNS)} FROM cases_caseclosepair "
            "WHERE node_key = %(node)s AND grain = %(child)s AND closed_day BETWEEN %(d0)s AND %(d1)s "
            f"AND (deadline_day IS NULL OR deadline_day < %(d0)s OR deadline_day > %(last)s){today_clause} "
            "GROUP BY 1",
            params,
        )
        out["pairs"] = cur.fetchall()
        if live_today:
            due = ", ".join(f"count(*) FILTER (WHERE {HAND_MEASURES[m]}) AS {m}" for m in DUE_COLUMNS)
            cur.execute(
                f"SELECT {key.format(t='c')}, {due} FROM cases_case c "
                f"WHERE c.{column} = %(node)s AND c.handle_due_at >= %(ts)s AND c.handle_due_at < %(te)s "
                "GROUP BY 1",
                params,
            )
            out["due_today"] = cur.fetchall()
        cur.execute(
            f"SELECT child_key, category_id, source, {', '.join(f'sum({c})' for c in OPEN_COLUMNS)} "
            "FROM cases_caseopenstat WHERE node_key = %(node)s AND grain IN (%(child)s, %(cat)s, %(src)s) "
            "GROUP BY grain, 1, 2, 3",
            params,
        )
        out["open"] = cur.fetchall()
        cur.execute(
            f"SELECT {key.format(t='c')}, count(*) FROM cases_case c "
            f"WHERE c.{column} = %(node)s AND {HAND_MEASURES['near_due']} GROUP BY 1",
            params,
        )
        out["near_due"] = cur.fetchall()
        cur.execute(
            "SELECT day, sum(reported), sum(closed) FROM cases_casedaystat "
            "WHERE node_key = %(node)s AND grain = %(child)s AND day BETWEEN %(d0)s AND %(d1)s GROUP BY 1",
            params,
        )
        out["trend"] = cur.fetchall()
        cur.execute(
            "SELECT child_key, sum(households), "
            "sum(households) FILTER (WHERE last_visit_day BETWEEN %(d0)s AND %(d1)s) "
            "FROM cases_householdstat WHERE node_key = %(node)s GROUP BY 1",
            params,
        )
        out["households"] = cur.fetchall()
    live = hand_sql(node, period, parts=("compliance", "categories"))
    out.update({k: live[k] for k in ("compliance", "categories")})
    return out


# --- the benchmark ---------------------------------------------------------------------------------


def _post(role, level):
    from staff.models import Post

    return (
        Post.objects.filter(role=role, area__level=level, is_active=True, user__is_active=True)
        .select_related("user", "area")
        .order_by("id")
        .first()
    )


def run(bench) -> None:
    from django.db.models import Count
    from django.test import Client
    from django.test.utils import override_settings
    from django.utils import timezone

    from bench.run import p, timed
    from cases.dashboard import rollup, selectors
    from cases.dashboard.kpis import Period
    from cases.dashboard.rollup_models import DAY_COLUMNS
    from cases.models import Case, GridDayCompliance
    from staff.choices import Role

    total_cases = Case.objects.count()
    now = timezone.now()
    period = Period.last_days(30, now)
    in_period = Case.objects.filter(created_at__gte=period.start, created_at__lt=period.end).count()
    compliance_rows = GridDayCompliance.objects.filter(day__gte=period.date_from).count()
    if not compliance_rows:  # beat records each day's reporting compliance nightly; a fresh database has none
        from cases.periodic import record_compliance

        for day in period.days():
            if day < timezone.localdate(now):
                record_compliance(day)
        compliance_rows = GridDayCompliance.objects.filter(day__gte=period.date_from).count()
        from django.db import connection

        with connection.cursor() as cur:  # as autovacuum would: 30 days at once leave no statistics
            cur.execute(f"ANALYZE {GridDayCompliance._meta.db_table}")
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pg_size_pretty(pg_table_size('cases_case')), current_setting('shared_buffers')")
        table_size, shared_buffers = cur.fetchone()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    bench.notes.append(
        f"Dashboard data: {total_cases:,} cases ({table_size}; shared_buffers {shared_buffers}), "
        f"{in_period:,} filed in the last 30 days, {compliance_rows:,} grid-day compliance rows in the last 30 days; "
        f"load average at the start of the dashboard benchmark {load}."
    )
    targets = [
        ("county", _post(Role.COUNTY_OFFICIAL, "county"), "p95 ≤ 300 ms"),
        ("town", _post(Role.TOWN_LEADER, "town") or _post(Role.CENTRE_STAFF, "town"), "p95 ≤ 300 ms"),
    ]
    for label, post, target in targets:
        if post is None:
            bench.add(f"dashboard, {label}", "skipped", target, f"no {label} post in the bench database")
            continue
        node = post.area
        client = Client(SERVER_NAME="localhost")
        client.force_login(post.user)

        def page(client=client):
            response = client.get("/dashboard/")
            assert response.status_code == 200, response.status_code

        # A 大类 filter (the largest), as an official narrowing the page to one kind of problem.
        from cases.models import Category

        big = (
            Category.objects.filter(parent__isnull=True)
            .annotate(n=Count("children__cases"))
            .order_by("-n", "code")
            .values_list("code", flat=True)
            .first()
        )

        def filtered(client=client, big=big):
            response = client.get(f"/dashboard/?category={big}")
            assert response.status_code == 200, response.status_code

        with override_settings(ROOT_URLCONF="bench.dashboard"):
            page_ms = timed(page, bench.repeat)
            filtered_ms = timed(filtered, bench.repeat)
            with override_settings(GRIDGOV_CASE_ROLLUP=False):
                live_page_ms = timed(page, max(10, bench.repeat // 2))
                live_filtered_ms = timed(filtered, max(10, bench.repeat // 4))

        def hand(node=node):
            return hand_sql(node, Period.last_days(30, timezone.now()))

        def hand_rollup(node=node):
            return hand_sql_rollup(node, Period.last_days(30, timezone.now()))

        hand_ms = timed(hand, max(10, bench.repeat // 2))
        hand_rollup_ms = timed(hand_rollup, bench.repeat)

        # The same numbers: the page's selector against both hand-written versions.
        f = selectors.Filters(node, Period.last_days(30, timezone.now()))
        assert rollup.serves(post.user, node), label
        orm = selectors.breakdown(post.user, f).total.counts
        raw = hand_sql(node, f.period)
        for name in ("reported", "closed", "due", "due_closed_on_time", "overdue", "returned", "satisfied"):
            assert orm[name] == sum(r[name] for r in raw["cases"]), (label, name)
        assert orm["grid_days"] == sum(r[1] for r in raw["compliance"]), (label, "grid_days")
        days = selectors.trend(post.user, f)
        assert sum(d["reported"] for d in days) == sum(n for new, _, n in raw["trend"] if new), (label, "trend")
        assert sum(d["closed"] for d in days) == sum(n for _, done, n in raw["trend"] if done), (label, "trend")
        assert orm["households"] == sum(r[1] for r in raw["households"]), (label, "households")
        assert orm["visited_households"] == sum(r[2] for r in raw["households"]), (label, "visited households")
        rolled = hand_sql_rollup(node, f.period)
        first_due = 3 + len([c for c in DAY_COLUMNS if not c.startswith("d_")])  # day rows: keys, dated, due family
        # The day rows of the CHILD grain (小类 and source summed away: category 0, source '').
        due = sum(r[first_due] or 0 for r in rolled["days"] if r[1] == 0 and r[2] == "")
        due += sum(r[1] or 0 for r in rolled["pairs"]) + sum(r[1] for r in rolled.get("due_today", []))
        assert due == orm["due"], (label, "due by hand over the rollup", due, orm["due"])
        assert sum(r[1] for r in rolled["trend"]) == orm["reported"], (label, "reported by hand over the rollup")
        assert sum(r[2] for r in rolled["households"]) == orm["visited_households"], (label, "visited, rollup")

        scope = Case.objects.filter(**{f"{node.level}_id": node.pk}).count()
        bench.add(
            f"dashboard page, {label} ({node.name}, {scope:,} cases, last 30 days)",
            f"p50 {statistics.median(page_ms):.0f} ms, p95 {p(page_ms, 0.95):.0f} ms",
            target,
            f"{len(raw['children'])} children; all figures, trend, 大类, source, compliance, visits (rollup)",
        )
        bench.add(
            f"dashboard figures by hand-written SQL over the rollup tables, {label}",
            f"p50 {statistics.median(hand_rollup_ms):.0f} ms, p95 {p(hand_rollup_ms, 0.95):.0f} ms; "
            f"page / SQL: p50 {statistics.median(page_ms) / statistics.median(hand_rollup_ms):.2f}×, "
            f"p95 {p(page_ms, 0.95) / p(hand_rollup_ms, 0.95):.2f}×",
            "page ≤ 2× SQL",
            "same numbers (checked); the statements the page runs, written by hand, no rendering",
        )
        bench.add(
            f"dashboard page filtered by its largest 大类 ({big}), {label}",
            f"p50 {statistics.median(filtered_ms):.0f} ms, p95 {p(filtered_ms, 0.95):.0f} ms; "
            f"without the rollup p95 {p(live_filtered_ms, 0.95):.0f} ms",
            "",
            "the same page with ?category=; 小类/source filters read the rollup too",
        )
        bench.add(
            f"dashboard page without the rollup (GRIDGOV_CASE_ROLLUP=False), {label}",
            f"p50 {statistics.median(live_page_ms):.0f} ms, p95 {p(live_page_ms, 0.95):.0f} ms; "
            f"vs hand-written SQL over cases_case p50 {statistics.median(hand_ms):.0f} ms, "
            f"p95 {p(hand_ms, 0.95):.0f} ms: page / SQL p95 {p(live_page_ms, 0.95) / p(hand_ms, 0.95):.2f}×",
            "",
            "the live path (zone/grid pages, 小类/source filters, SQLite); 7 hand statements",
        )


class _RolledBack(Exception):
    pass


def run_rollup_upkeep(bench) -> None:
    """What keeping the rollup costs: its size, a full recount, and folding the rows a burst of
    case changes appends (each in a transaction that is rolled back)."""
    import time

    from django.db import connection, transaction

    from cases.choices import OPEN_STATES
    from cases.dashboard import rollup
    from cases.models import Case

    with connection.cursor() as cur:
        sizes = []
        for model in rollup.TABLES:
            table = model._meta.db_table
            cur.execute(f"SELECT count(*), pg_size_pretty(pg_total_relation_size('{table}')) FROM {table}")
            rows, size = cur.fetchone()
            sizes.append(f"{table} {rows:,} rows ({size})")
    cases = Case.objects.count()
    took = {}
    try:
        with transaction.atomic():
            start = time.perf_counter()
            rollup.rebuild()
            took["rebuild"] = time.perf_counter() - start
            raise _RolledBack
    except _RolledBack:
        pass
    bench.add(
        f"dashboard rollup: full recount of {cases:,} cases",
        f"{took['rebuild']:.1f} s",
        "",
        "run by migrate when the measure definitions change (rolled back here); " + "; ".join(sizes),
    )
    ids = list(Case.objects.filter(state__in=OPEN_STATES).order_by("id").values_list("id", flat=True)[:2000])
    try:
        with transaction.atomic():
            start = time.perf_counter()
            for i in range(0, len(ids), 100):  # 20 statements, as 20 sweeps or bulk actions would
                Case.objects.filter(id__in=ids[i : i + 100]).update(is_supervised=True, is_overdue=True)
            took["writes"] = time.perf_counter() - start
            start = time.perf_counter()
            result = rollup.compact()
            took["compact"] = time.perf_counter() - start
            raise _RolledBack
    except _RolledBack:
        pass
    bench.add(
        f"dashboard rollup: fold the rows of {len(ids):,} changed open cases",
        f"compact {took['compact'] * 1000:.0f} ms",
        "",
        f"the 20 UPDATE statements took {took['writes'] * 1000:.0f} ms with the triggers; {result}; rolled back",
    )
