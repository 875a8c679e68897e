"""`make bench`: county-scale benchmarks on PostgreSQL. Figures go to docs/benchmarks.md.

Benchmarks report, they never fail: speed targets live here, not in timed tests.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/gridgov_bench"


def ensure_database(url: str) -> None:
    import dj_database_url
    import psycopg2
    from psycopg2 import sql

    cfg = dj_database_url.parse(url)
    conn = psycopg2.connect(
        dbname="postgres",
        user=cfg["USER"],
        password=cfg["PASSWORD"] or None,
        host=cfg["HOST"],
        port=cfg["PORT"] or 5432,
    )
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [cfg["NAME"]])
        if not cur.fetchone():
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(cfg["NAME"])))
    conn.close()


def timed(fn, repeat: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def statements(captured) -> list[str]:
    """The SQL statements of a CaptureQueriesContext, savepoints left out."""
    return [q["sql"] for q in captured if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]


def within(town) -> dict:
    """Post filter: posts at areas in the town's subtree."""
    return {"area__tree_id": town.tree_id, "area__lft__gte": town.lft, "area__rght__lte": town.rght}


class Bench:
    def __init__(self, repeat: int) -> None:
        self.repeat = repeat
        self.rows: list[tuple[str, str, str, str]] = []  # name, figure, target, note
        self.notes: list[str] = []
        self.load_at_start = "/".join(f"{x:.1f}" for x in os.getloadavg())
        self.queue_p95: dict[str, float] = {}
        self.transition_p95: dict[str, dict[str, float]] = {}

    def add(self, name: str, figure: str, target: str = "", note: str = "") -> None:
        print(f"  {name}: {figure}  {target}  {note}")
        self.rows.append((name, figure, target, note))

    # --- data ---------------------------------------------------------------------------------
    def seed(self) -> None:
        from gridgov.demo import DemoBuilder
        from grids.models import Area, Household

        if Area.objects.exists():
            self.notes.append(
                f"Data: existing bench database ({Area.objects.count()} areas, {Household.objects.count()} households)."
            )
        else:
            start = time.perf_counter()
            stats = DemoBuilder(scale="county", seed=1, log=print).build()
            took = time.perf_counter() - start
            self.add("seed_demo --scale county", f"{took:.1f} s", "", ", ".join(f"{k} {v}" for k, v in stats.items()))
        self.seed_visits()

    def seed_visits(self) -> None:
        """90 days of household visits (a database seeded before visits were generated has none):
        the dashboards' 走访覆盖率 is then measured over a real volume."""
        from gridgov.demo_visits import VisitHistoryBuilder
        from grids.visits import Visit

        if Visit.objects.exists():
            self.notes.append(f"Visits: {Visit.objects.count():,} in the bench database.")
            return
        from django.db import connection

        from cases.dashboard import rollup
        from grids.models import Household

        stats = VisitHistoryBuilder(days=90, seed=1, log=print).build()
        rollup.compact()  # the household rollup rows the visits moved, as beat folds them
        with connection.cursor() as cur:
            for table in (Visit._meta.db_table, Household._meta.db_table, *(m._meta.db_table for m in rollup.TABLES)):
                cur.execute(f"VACUUM ANALYZE {table}")
        self.add(
            "seed_demo: 90 days of household visits",
            f"{stats['seconds']} s, {stats['visits'] / max(stats['seconds'], 0.1):,.0f} visits/s",
            "",
            f"{stats['visits']:,} visits ({stats['key_visits']:,} to key households) "
            f"on {stats['working_days']} working days",
        )

    # --- subtree counts -----------------------------------------------------------------------
    def subtree_counts(self) -> None:
        from django.db import connection

        from grids.choices import AreaLevel
        from grids.models import Area, Household
        from grids.selectors import subtree_filter

        town = Area.objects.filter(level=AreaLevel.TOWN).order_by("code").first()
        county = Area.objects.filter(level=AreaLevel.COUNTY).order_by("code").first()
        for label, node, column in (("town", town, "town_id"), ("county", county, "county_id")):
            orm = timed(
                lambda node=node: Household.objects.filter(subtree_filter(node), is_active=True).count(), self.repeat
            )

            def raw(node=node, column=column):
                with connection.cursor() as cur:
                    cur.execute(f"SELECT count(*) FROM grids_household WHERE {column} = %s AND is_active", [node.pk])
                    return cur.fetchone()[0]

            def join(node=node):
                with connection.cursor() as cur:
                    cur.execute(
                        "SELECT count(*) FROM grids_household h JOIN grids_area a ON a.id = h.area_id "
                        "WHERE a.tree_id = %s AND a.lft >= %s AND a.rght <= %s AND h.is_active",
                        [node.tree_id, node.lft, node.rght],
                    )
                    return cur.fetchone()[0]

            raw_s = timed(raw, self.repeat)
            join_s = timed(join, self.repeat)
            n = Household.objects.filter(subtree_filter(node), is_active=True).count()
            assert n == raw() == join(), "the three counts must agree"
            ratio = statistics.median(orm) / statistics.median(raw_s)
            self.add(
                f"subtree household count, {label} ({n:,} households)",
                f"ORM p50 {statistics.median(orm):.2f} ms, hand SQL p50 {statistics.median(raw_s):.2f} ms, "
                f"ratio {ratio:.2f}×",
                "≤ 2×",
                f"lft/rght join instead of the path column: p50 {statistics.median(join_s):.2f} ms",
            )

    # --- scoped area list ---------------------------------------------------------------------
    def scoped_area_list(self) -> None:
        from django.test import Client

        from grids.models import Area
        from staff.choices import Role
        from staff.models import Post

        cases = [
            ("county official, first page", Role.COUNTY_OFFICIAL, {"page_size": 50}),
            ("centre staff, first page", Role.CENTRE_STAFF, {"page_size": 50}),
            ("centre staff, grids within town", Role.CENTRE_STAFF, {"page_size": 50, "level": "grid"}),
            ("county official, search", Role.COUNTY_OFFICIAL, {"page_size": 50, "search": "网格"}),
        ]
        for label, role, params in cases:
            post = Post.objects.filter(role=role).select_related("user", "area").order_by("id").first()
            client = Client(SERVER_NAME="localhost")
            client.force_login(post.user)
            if params.get("level") == "grid":
                params = {**params, "within": post.area_id}

            def get(client=client, params=params):
                response = client.get("/api/v1/areas/", params)
                assert response.status_code == 200, response.status_code

            samples = timed(get, self.repeat * 2)
            self.add(
                f"scoped area list: {label}",
                f"p50 {p(samples, 0.5):.1f} ms, p95 {p(samples, 0.95):.1f} ms",
                "p95 ≤ 50 ms",
                f"{Area.objects.visible_to(post.user).count():,} areas in scope",
            )

    # --- import ---------------------------------------------------------------------------------
    def import_file(self) -> None:
        from django.core.management import call_command
        from django.db import transaction

        rows = [("code", "name", "level", "parent_code"), ("330199", "基准县", "county", "")]
        grids = 0
        for t in range(15):
            town = f"330199{100 + t:03d}"
            rows.append((town, f"基准镇{t}", "town", "330199"))
            for z in range(8):
                zone = f"{town}{900 + z:03d}"
                rows.append((zone, f"基准片区{t}-{z}", "zone", town))
                for v in range(4):
                    village = f"{town}{200 + z * 4 + v:03d}"
                    rows.append((village, f"基准村{t}-{z}-{v}", "village", zone))
                    for g in range(2):
                        if grids >= 1000:
                            break
                        grid = f"{village}{g + 1:03d}"
                        grids += 1
                        rows.append((grid, f"基准网格{grids}", "grid", village))
                        for k in range(3):
                            rows.append((f"{grid}{k + 1:03d}", f"基准组{grids}-{k}", "group", grid))
        with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False, encoding="utf-8", newline="") as fh:
            csv.writer(fh).writerows(rows)
            path = fh.name

        class Rollback(Exception):
            pass

        samples = []
        for _ in range(3):
            start = time.perf_counter()
            try:
                with transaction.atomic():
                    call_command("import_areas", path, stdout=open(os.devnull, "w"))
                    samples.append(time.perf_counter() - start)
                    raise Rollback
            except Rollback:
                pass
        os.unlink(path)
        self.add(
            f"import_areas: {grids:,}-grid file ({len(rows) - 1:,} rows)",
            f"median {statistics.median(samples):.2f} s (3 runs, each rolled back)",
            "",
            "into the seeded county database",
        )

    # --- cases ---------------------------------------------------------------------------------
    def cases(self, sizes: list[int], filings: int = 500) -> None:
        """Case engine figures at each size in `sizes` (cases in the table), topping the bench
        database up with CaseHistoryBuilder; a database already holding more cases than every size
        is measured as it is. Everything measured is rolled back, so the database stays reusable."""
        from cases.models import Case

        existing = Case.objects.count()
        targets = [n for n in sorted(sizes) if n >= existing] or [existing]
        self.notes.append(
            f"Cases: {existing:,} in the bench database before this run; measured at "
            + ", ".join(f"{n:,}" for n in targets)
            + " (topped up with gridgov.demo_cases.CaseHistoryBuilder)."
        )
        for i, target in enumerate(targets):
            have = Case.objects.count()
            if have < target:
                self._generate_cases(target - have, seed=100 + i, total=target)
            if i == 0:
                self.case_filing(filings)
            label = f"{Case.objects.count():,} cases"
            self.case_queue(label)
            self.case_transitions(label)
            self.case_sweep(label)

    def _generate_cases(self, count: int, seed: int, total: int) -> None:
        from django.db import connection

        from cases.dashboard import rollup
        from gridgov.demo_cases import CaseHistoryBuilder

        start = time.perf_counter()
        stats = CaseHistoryBuilder(count, seed=seed, log=print).build()
        took = time.perf_counter() - start
        with connection.cursor() as cur:
            for table in ("cases_case", "cases_caseevent", "cases_reminder", "cases_supervision", "cases_casenumber"):
                cur.execute(f"ANALYZE {table}")
            # The builder recounted or folded the rollup's delta rows; vacuum what a fold left dead
            # (as autovacuum soon would), so pages are measured on the steady state.
            for model in rollup.TABLES:
                cur.execute(f"VACUUM ANALYZE {model._meta.db_table}")
        per_second = count / took
        self.add(
            f"seed_demo --cases-only: {count:,} demo cases (to {total:,})",
            f"{took:.0f} s, {per_second:,.0f} cases/s ({stats['events']:,} events)",
            "1M ≤ 10 min",
            f"1M extrapolated: {1_000_000 / per_second / 60:.1f} min"
            + ("" if 1_000_000 / per_second <= 600 else " — target missed")
            + f"; includes recounting or folding the dashboard rollup ({stats['rollup_fold_seconds']} s)",
        )

    def _town_for_cases(self):
        """The town with the most open cases and a centre staff user there."""
        from django.db.models import Count

        from cases.models import Case
        from staff.choices import Role
        from staff.models import Post

        towns = Case.objects.open().values("town_id").annotate(n=Count("id")).order_by("-n", "town_id")
        for row in towns:
            post = (
                Post.objects.filter(role=Role.CENTRE_STAFF, area_id=row["town_id"], is_active=True)
                .select_related("user", "area")
                .order_by("id")
                .first()
            )
            if post:
                return post.area, post.user, row["n"]
        post = Post.objects.filter(role=Role.CENTRE_STAFF).select_related("user", "area").order_by("id").first()
        return post.area, post.user, 0

    def case_filing(self, n: int) -> None:
        """Filings per second through services.case_report vs the same rows by hand-written
        INSERTs (a case row and its event row), both in one transaction that is rolled back: no
        commit in either, so the ratio is the engine's own cost."""
        from django.db import connection, transaction
        from django.test.utils import CaptureQueriesContext

        from cases.choices import CaseKind
        from cases.models import Case, CaseEvent, Category
        from cases.services import case_report
        from staff.choices import Role
        from staff.models import Post

        town, _, _ = self._town_for_cases()
        posts = list(Post.objects.filter(role=Role.GRID_WORKER, **within(town)).select_related("user", "area")[:20])
        if not posts:
            posts = list(Post.objects.filter(role=Role.GRID_WORKER).select_related("user", "area")[:20])
        categories = list(Category.objects.filter(parent__isnull=False, is_active=True, kind=CaseKind.PROBLEM))

        class Rollback(Exception):
            pass

        rows: list[tuple[dict, dict]] = []
        try:
            with transaction.atomic():
                start = time.perf_counter()
                for i in range(n):
                    post = posts[i % len(posts)]
                    case_report(
                        reporter=post.user,
                        area=post.area,
                        category=categories[i % len(categories)],
                        description=f"基准测试：{post.area.name}路口垃圾堆放多日未清运（{i}）",
                    )
                orm_took = time.perf_counter() - start
                with CaptureQueriesContext(connection) as captured:
                    case_report(
                        reporter=posts[0].user,
                        area=posts[0].area,
                        category=categories[0],
                        description="基准测试：统计一次上报的语句数",
                    )
                per_filing = len(statements(captured))
                filed = list(Case.objects.order_by("-id").values()[1 : n + 1])
                events = {
                    e["case_id"]: e for e in CaseEvent.objects.filter(case_id__in=[c["id"] for c in filed]).values()
                }
                rows = [(c, events[c["id"]]) for c in reversed(filed)]
                raise Rollback
        except Rollback:
            pass

        case_fields = [f for f in Case._meta.concrete_fields if f.attname != "id"]
        event_fields = [f for f in CaseEvent._meta.concrete_fields if f.attname not in ("id", "case_id")]
        case_sql = (
            f"INSERT INTO cases_case ({', '.join(f.column for f in case_fields)}) "
            f"VALUES ({', '.join(['%s'] * len(case_fields))}) RETURNING id"
        )
        event_sql = (
            f"INSERT INTO cases_caseevent (case_id, {', '.join(f.column for f in event_fields)}) "
            f"VALUES (%s, {', '.join(['%s'] * len(event_fields))})"
        )
        prepared = [
            (
                [f.get_db_prep_save(case[f.attname], connection) for f in case_fields],
                [f.get_db_prep_save(event[f.attname], connection) for f in event_fields],
            )
            for case, event in rows
        ]
        try:
            with transaction.atomic(), connection.cursor() as cur:
                start = time.perf_counter()
                for case_values, event_values in prepared:
                    cur.execute(case_sql, case_values)
                    case_id = cur.fetchone()[0]
                    cur.execute(event_sql, [case_id, *event_values])
                raw_took = time.perf_counter() - start
                raise Rollback
        except Rollback:
            pass
        # The same INSERTs without the dashboard rollup's triggers: what keeping the rollup costs.
        try:
            with transaction.atomic(), connection.cursor() as cur:
                cur.execute("ALTER TABLE cases_case DISABLE TRIGGER USER")
                start = time.perf_counter()
                for case_values, event_values in prepared:
                    cur.execute(case_sql, case_values)
                    case_id = cur.fetchone()[0]
                    cur.execute(event_sql, [case_id, *event_values])
                bare_took = time.perf_counter() - start
                raise Rollback
        except Rollback:
            pass
        orm_rate, raw_rate = n / orm_took, n / raw_took
        ratio = orm_rate / raw_rate
        self.add(
            f"case filing: {n} sequential case_report calls",
            f"{orm_rate:,.0f} cases/s via case_report, {raw_rate:,.0f} cases/s hand SQL (case + event row), "
            f"ratio {ratio:.1%}",
            "≥ 8% of hand SQL",
            f"one transaction rolled back, no commits; case_report runs {per_filing} SQL statements a filing "
            f"(hand SQL: 2); hand SQL without the rollup triggers {n / bare_took:,.0f} cases/s"
            + ("" if ratio >= 0.08 else " — target missed"),
        )

    def case_queue(self, label: str) -> None:
        """A town centre's open-case queue through the API (the list has no `ordering` parameter:
        its fixed order is newest first)."""
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        from cases.models import Case

        town, user, open_count = self._town_for_cases()
        client = Client(SERVER_NAME="localhost")
        client.force_login(user)
        params = {"state": ["reported", "handling", "escalated", "feedback"], "page_size": 50, "ordering": "due_at"}

        def get():
            response = client.get("/api/v1/cases/", params)
            assert response.status_code == 200, response.status_code

        samples = timed(get, max(100, self.repeat * 2))
        with CaptureQueriesContext(connection) as captured:
            get()
        sql = [q for q in statements(captured) if 'FROM "cases_case"' in q]
        self.queue_p95[label] = p(samples, 0.95)
        first = next(iter(self.queue_p95.values()))
        growth = self.queue_p95[label] / first if first else 1
        notes = [f"{town.name}: {open_count:,} open of {Case.objects.filter(town_id=town.pk).count():,} cases"]
        notes.append(f"{len(statements(captured))} SQL statements a request")
        if any("SELECT DISTINCT" in q for q in sql):
            notes.append("the list and its count use SELECT DISTINCT")
        missed = []
        if p(samples, 0.95) > 50:
            missed.append("p95 > 50 ms")
        if len(self.queue_p95) > 1:
            notes.append(f"{growth:.2f}× the first size")
            if growth > 1.5:
                missed.append("> 1.5× the smaller table")
        self.add(
            f"town open-case queue, API, {label}",
            f"p50 {p(samples, 0.5):.1f} ms, p95 {p(samples, 0.95):.1f} ms",
            "p95 ≤ 50 ms, flat (≤ 1.5×)",
            "; ".join(notes) + (" — target missed: " + ", ".join(missed) if missed else ""),
        )

    def case_transitions(self, label: str, samples: int = 120) -> None:
        """case_act accept and dispatch p95 on freshly filed town-level cases (in a transaction
        that is rolled back)."""
        from django.db import transaction

        from cases.choices import Action, CaseKind, HandlingLevel
        from cases.models import Category
        from cases.services import case_act, case_report
        from staff.choices import Role
        from staff.models import Department, Post

        town, centre, _ = self._town_for_cases()
        worker = Post.objects.filter(role=Role.GRID_WORKER, **within(town)).select_related("user", "area").first()
        categories = list(
            Category.objects.filter(
                parent__isnull=False,
                is_active=True,
                kind=CaseKind.PROBLEM,
                urgent=False,
                default_level=HandlingLevel.TOWN,
            )
        )
        dept = Department.objects.filter(area=town, is_active=True).order_by("code").first()

        class Rollback(Exception):
            pass

        results: dict[str, list[float]] = {"accept": [], "dispatch": []}
        try:
            with transaction.atomic():
                filed = [
                    case_report(
                        reporter=worker.user,
                        area=worker.area,
                        category=categories[i % len(categories)],
                        description=f"基准测试：{worker.area.name}占道经营（{i}）",
                    )
                    for i in range(2 * (samples + 3))
                ]
                for i, case in enumerate(filed):
                    action = "accept" if i % 2 == 0 else "dispatch"
                    params = {"target": dept} if action == "dispatch" else {}
                    start = time.perf_counter()
                    case_act(case_id=case.pk, action=Action(action), actor=centre, **params)
                    if i >= 6:  # 3 warm-up runs of each
                        results[action].append((time.perf_counter() - start) * 1000)
                raise Rollback
        except Rollback:
            pass
        for action, times in results.items():
            self.transition_p95.setdefault(action, {})[label] = p(times, 0.95)
            first = next(iter(self.transition_p95[action].values()))
            growth = p(times, 0.95) / first if first else 1
            missed = p(times, 0.95) > 100 or (len(self.transition_p95[action]) > 1 and growth > 1.5)
            self.add(
                f"case_act {action}, {label}",
                f"p50 {p(times, 0.5):.1f} ms, p95 {p(times, 0.95):.1f} ms ({len(times)} samples)",
                "p95 ≤ 100 ms, flat",
                (f"{growth:.2f}× the first size" if len(self.transition_p95[action]) > 1 else "")
                + (" — target missed" if missed else ""),
            )

    def case_sweep(self, label: str, count: int = 10_000) -> None:
        """sweep_deadlines over `count` cases made due (reminders, then deadlines), in a
        transaction that is rolled back; then the SQL of a pass over a tenth of them."""
        for kind in ("remind", "overdue"):
            n, took, result, _ = self._sweep(kind, count)
            _, _, _, sql = self._sweep(kind, count // 10, capture=True)
            lookups = sum(1 for q in sql if q.startswith('SELECT "grids_area"'))
            done = result.reminded if kind == "remind" else result.overdue
            rate = done / took if took else 0
            self.add(
                f"sweep_deadlines, {n:,} cases due ({kind}), {label}",
                f"{took:.2f} s, {rate:,.0f} cases/s",
                "≥ 1,800 cases/s",
                f"{result.as_dict()}; rolled back; {count // 10:,} cases take {len(sql):,} SQL statements"
                + (f", {lookups:,} of them single-area lookups" if lookups else "")
                + ("" if rate >= 1800 else " — target missed"),
            )

    def _sweep(self, kind: str, count: int, capture: bool = False):
        import datetime as dt

        from django.db import connection, transaction
        from django.test.utils import CaptureQueriesContext
        from django.utils import timezone

        from cases.sweep import sweep_deadlines

        class Rollback(Exception):
            pass

        now = timezone.now()
        sql: list[str] = []
        try:
            with transaction.atomic(), connection.cursor() as cur:
                # Nothing else due at `now`, then `count` cases due for exactly one kind.
                cur.execute(
                    "UPDATE cases_case SET remind_at = NULL, escalate_at = NULL "
                    "WHERE remind_at <= %s OR escalate_at <= %s",
                    [now, now],
                )
                cur.execute("UPDATE cases_case SET is_overdue = TRUE WHERE due_at < %s AND NOT is_overdue", [now])
                if kind == "remind":
                    values = "remind_at = %s, due_at = %s, is_overdue = FALSE"
                    args = [now - dt.timedelta(minutes=5), now + dt.timedelta(hours=2)]
                else:
                    values = "remind_at = NULL, due_at = %s, is_overdue = FALSE, is_supervised = FALSE"
                    args = [now - dt.timedelta(minutes=5)]
                cur.execute(
                    f"UPDATE cases_case SET state = 'handling', {values} "
                    "WHERE id IN (SELECT id FROM cases_case ORDER BY id DESC LIMIT %s)",
                    [*args, count],
                )
                n = cur.rowcount
                with CaptureQueriesContext(connection) if capture else contextlib.nullcontext() as captured:
                    start = time.perf_counter()
                    result = sweep_deadlines(now=now)
                    took = time.perf_counter() - start
                if capture:
                    sql = statements(captured)
                raise Rollback
        except Rollback:
            pass
        return n, took, result, sql

    def _merged_rows(self, out: Path) -> list[tuple[str, str, str, str]]:
        """This run's rows, plus the rows of the existing file that this run did not measure (a
        partial `make bench BENCH_ARGS="--only …"` keeps the other figures)."""
        measured = {r[0] for r in self.rows}
        kept = []
        if out.exists():
            for line in out.read_text(encoding="utf-8").splitlines():
                cells = [c.strip() for c in line.strip().strip("|").split("|")]
                if line.startswith("| ") and len(cells) == 4 and cells[0] not in ("benchmark", "---"):
                    if cells[0] not in measured:
                        kept.append(tuple(cells))
        return kept + self.rows

    @staticmethod
    def _tail(out: Path) -> str:
        """Hand-written sections after the table (from the first '## ' heading) are kept."""
        if not out.exists():
            return ""
        text = out.read_text(encoding="utf-8")
        index = text.find("\n## ")
        return text[index + 1 :] if index >= 0 else ""

    def write(self, out: Path, url: str) -> None:
        from django.db import connection

        with connection.cursor() as cur:
            cur.execute("SHOW server_version")
            version = cur.fetchone()[0]
        lines = [
            "# Benchmarks",
            "",
            "Written by `make bench` (bench/run.py). Figures are wall-clock on the machine named below;",
            "they report and never fail CI. Timings are in-process (Django test client for HTTP, so no",
            "network or gunicorn), after 3 warm-up runs.",
            "",
            f"- date: {dt.datetime.now().strftime('%Y-%m-%d %H:%M')}",
            f"- machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"PostgreSQL {version}",
            f"- database: `{url}`",
            "- load average (1/5/15 min) at the start and the end: "
            + f"{self.load_at_start} → {'/'.join(f'{x:.1f}' for x in os.getloadavg())}"
            + " (other processes on the machine slow every figure down)",
            *[f"- {n}" for n in self.notes],
            "",
            "| benchmark | figure | target | note |",
            "| --- | --- | --- | --- |",
            *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in self._merged_rows(out)],
            "",
        ]
        tail = self._tail(out)
        out.write_text("\n".join(lines) + ("\n" + tail if tail else ""), encoding="utf-8")
        print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks.md"))
    parser.add_argument(
        "--only", nargs="*", default=None, help="subset: counts list import assessment cases dashboard boundaries"
    )
    parser.add_argument(
        "--case-sizes",
        type=int,
        nargs="*",
        default=[10_000, 1_000_000],
        help="case table sizes to measure at (the bench database is topped up with demo cases)",
    )
    args = parser.parse_args()

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    if not url.startswith("postgres"):
        raise SystemExit("make bench needs PostgreSQL: set BENCH_DATABASE_URL=postgres://…")
    ensure_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "gridgov.settings.dev"
    os.environ.setdefault("DEBUG", "false")

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    bench = Bench(args.repeat)
    bench.seed()
    only = set(args.only or ["counts", "list", "import", "assessment", "cases", "dashboard", "boundaries"])
    if "counts" in only:
        bench.subtree_counts()
    if "list" in only:
        bench.scoped_area_list()
    if "import" in only:
        bench.import_file()
    if "cases" in only:
        bench.cases(args.case_sizes)
    if "dashboard" in only:
        from bench import dashboard

        dashboard.run(bench)
        dashboard.run_rollup_upkeep(bench)
    if "assessment" in only:
        from bench.assessment import run as run_assessment

        run_assessment(bench)
    if "boundaries" in only:
        from bench.boundaries import run as run_boundaries

        run_boundaries(bench)
    bench.write(Path(args.output), url)


if __name__ == "__main__":
    main()
