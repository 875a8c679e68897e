"""`make bench`: county-scale benchmarks on PostgreSQL. Figures go to docs/benchmarks.md.

Benchmarks report, they never fail: speed targets live here, not in timed tests.
"""

from __future__ import annotations

import argparse
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


class Bench:
    def __init__(self, repeat: int) -> None:
        self.repeat = repeat
        self.rows: list[tuple[str, str, str, str]] = []  # name, figure, target, note
        self.notes: list[str] = []

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
            return
        start = time.perf_counter()
        stats = DemoBuilder(scale="county", seed=1, log=print).build()
        took = time.perf_counter() - start
        self.add("seed_demo --scale county", f"{took:.1f} s", "", ", ".join(f"{k} {v}" for k, v in stats.items()))

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
            *[f"- {n}" for n in self.notes],
            "",
            "| benchmark | figure | target | note |",
            "| --- | --- | --- | --- |",
            *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in self.rows],
            "",
        ]
        out.write_text("\n".join(lines), encoding="utf-8")
        print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks.md"))
    parser.add_argument("--only", nargs="*", default=None, help="subset: counts list import")
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
    only = set(args.only or ["counts", "list", "import"])
    if "counts" in only:
        bench.subtree_counts()
    if "list" in only:
        bench.scoped_area_list()
    if "import" in only:
        bench.import_file()
    bench.write(Path(args.output), url)


if __name__ == "__main__":
    main()
