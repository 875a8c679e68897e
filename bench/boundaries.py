"""Boundary benchmarks at county scale: locating a point, validating a grid, importing a county.

`run(bench)` is called by bench/run.py. It needs the seeded county (≈950 grids) in the bench
database and leaves it as it found it: synthetic boundaries are generated in memory — the county
is cut recursively into rectangles, one per area down to the grids, each densified to ≈64
vertices like a hand-drawn boundary — and everything that needs them in the database runs inside
a transaction that is rolled back.

Standalone: `python -m bench.boundaries` (BENCH_DATABASE_URL, default the bench database).
"""

from __future__ import annotations

import math
import random
import statistics
import time

ORIGIN = (119.04, 29.605)  # 淳安县
COUNTY_SIZE_M = 60_000
VERTICES_PER_EDGE = 16


class _Rollback(Exception):
    pass


def _split(rect: tuple[float, float, float, float], n: int) -> list[tuple[float, float, float, float]]:
    """n rectangles covering `rect` in a near-square layout (last row stretched)."""
    x0, y0, x1, y1 = rect
    w, h = x1 - x0, y1 - y0
    cols = max(1, round(math.sqrt(n * w / h)))
    rows = math.ceil(n / cols)
    cells = []
    for r in range(rows):
        in_row = cols if r < rows - 1 else n - cols * (rows - 1)
        for c in range(in_row):
            cells.append(
                (
                    x0 + w * c / in_row,
                    y0 + h * r / rows,
                    x0 + w * (c + 1) / in_row,
                    y0 + h * (r + 1) / rows,
                )
            )
    return cells


def synthetic_boundaries(nodes: list[tuple[int, int | None, str, str]]) -> dict[int, object]:
    """Polygons (lon/lat) for every area but groups: (id, parent id, level, code) rows in."""
    import shapely

    from grids.boundaries import LocalProjection
    from grids.choices import AreaLevel

    proj = LocalProjection(*ORIGIN)
    children: dict[int | None, list[int]] = {}
    for pk, parent_id, level, _code in sorted(nodes, key=lambda n: n[3]):
        if level != AreaLevel.GROUP:
            children.setdefault(parent_id, []).append(pk)
    half = COUNTY_SIZE_M / 2
    rects: dict[int, tuple] = {}
    roots = children.get(None, [])
    for root, rect in zip(roots, _split((-half, -half, half, half), len(roots)), strict=True):
        rects[root] = rect
    queue = list(roots)
    while queue:
        node = queue.pop()
        kids = children.get(node, [])
        for kid, rect in zip(kids, _split(rects[node], len(kids)), strict=True) if kids else ():
            rects[kid] = rect
            queue.append(kid)
    polygons = {}
    for pk, (x0, y0, x1, y1) in rects.items():
        box = shapely.box(x0, y0, x1, y1)
        box = shapely.segmentize(box, max(x1 - x0, y1 - y0) / VERTICES_PER_EDGE)
        polygons[pk] = shapely.set_precision(proj.to_lonlat(box), 1e-7, mode="pointwise")
    return polygons


def _rate(fn, points, rounds: int = 3) -> float:
    best = math.inf
    for _ in range(rounds):
        start = time.perf_counter()
        for lon, lat in points:
            fn(lon, lat)
        best = min(best, time.perf_counter() - start)
    return len(points) / best


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(bench) -> None:
    from django.db import transaction
    from django.db.models import Count

    from grids import locate as locate_module
    from grids.boundaries import check_boundary, from_geojson, import_boundaries, to_geojson
    from grids.choices import GRID_LEVELS
    from grids.locate import LocateIndex
    from grids.models import Area

    nodes = list(Area.objects.values_list("pk", "parent_id", "level", "code"))
    depth = dict(Area.objects.values_list("pk", "depth"))
    level = {pk: lv for pk, _, lv, _ in nodes}
    polygons = synthetic_boundaries(nodes)
    grids = [pk for pk in polygons if level[pk] in GRID_LEVELS]
    code = {pk: c for pk, _, _, c in nodes}
    rows = [(pk, depth[pk], code[pk], geom) for pk, geom in polygons.items()]

    # --- index build and in-memory lookups ------------------------------------------------------
    builds = []
    for _ in range(5):
        start = time.perf_counter()
        index = LocateIndex(rows)
        builds.append((time.perf_counter() - start) * 1000)
    rng = random.Random(7)
    minx, miny, maxx, maxy = polygons[next(pk for pk, p, _, _ in nodes if p is None)].bounds
    points = [(rng.uniform(minx, maxx), rng.uniform(miny, maxy)) for _ in range(20_000)]
    # Correctness on the way: a point at the centre of each grid finds that grid.
    for pk in grids[:200]:
        c = polygons[pk].centroid
        found = index.locate(c.x, c.y)
        assert found == pk, (pk, found)
    rate = _rate(index.locate, points)
    vertices = statistics.mean(len(p.exterior.coords) for p in polygons.values())
    bench.add(
        f"locate a point, in-process index ({len(grids):,} grids, {len(rows):,} boundaries)",
        f"{rate:,.0f} lookups/s ({1e6 / rate:.1f} µs each)",
        "≥ 1,000 lookups/s",
        f"STRtree + prepared geometries, ≈{vertices:.0f} vertices per boundary; "
        f"index build p50 {statistics.median(builds):.0f} ms",
    )

    # --- with the database: end-to-end locate, one grid's validation, a county import ---------
    from staff.choices import Role
    from staff.models import Post

    post = Post.objects.filter(role=Role.CENTRE_STAFF).select_related("user", "area").order_by("id").first()
    county_file = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"code": code[pk]}, "geometry": to_geojson(geom)}
            for pk, geom in sorted(polygons.items(), key=lambda item: (depth[item[0]], code[item[0]]))
        ],
    }
    try:
        with transaction.atomic():
            areas = list(Area.objects.filter(pk__in=list(polygons)))
            for a in areas:
                a.boundary = to_geojson(polygons[a.pk])
            Area.objects.bulk_update(areas, ["boundary"], batch_size=500)
            rebuilds = []
            for _ in range(3):
                locate_module.invalidate()
                start = time.perf_counter()
                locate_module.get_index()
                rebuilds.append((time.perf_counter() - start) * 1000)
            bench.add(
                "locate index rebuild after a boundary change",
                f"p50 {statistics.median(rebuilds):.0f} ms",
                "",
                f"{len(polygons):,} boundaries read from the database and parsed; once per change per process",
            )
            if post is not None:
                town = post.area
                in_town = Area.objects.filter(
                    pk__in=grids, tree_id=town.tree_id, lft__gte=town.lft, rght__lte=town.rght
                ).values_list("pk", flat=True)
                inside = [(polygons[pk].centroid.x, polygons[pk].centroid.y) for pk in in_town[:200]]
                samples = []
                for lon, lat in inside * 3:
                    start = time.perf_counter()
                    found = locate_module.locate(lat=lat, lon=lon, user=post.user)
                    samples.append((time.perf_counter() - start) * 1000)
                    assert found is not None
                bench.add(
                    "locate with scope and path (what GET /api/v1/areas/locate/ runs, centre staff)",
                    f"p50 {_pct(samples, 0.5):.2f} ms, p95 {_pct(samples, 0.95):.2f} ms",
                    "",
                    "index lookup + one scope query + one path query (PostgreSQL)",
                )
            # The grid with the most siblings: the heaviest ordinary save.
            busiest = (
                Area.objects.filter(pk__in=grids)
                .values("parent_id")
                .annotate(n=Count("id"))
                .order_by("-n", "parent_id")
                .first()
            )
            grid = Area.objects.select_related("parent").filter(parent_id=busiest["parent_id"]).order_by("code").first()
            geometry = from_geojson(grid.boundary)
            samples = []
            for _ in range(20):
                start = time.perf_counter()
                check = check_boundary(grid, geometry)
                samples.append((time.perf_counter() - start) * 1000)
            assert check.ok, [e.message for e in check.errors]
            siblings = Area.objects.filter(parent_id=grid.parent_id).count() - 1
            bench.add(
                "validate one grid's boundary (save check)",
                f"p50 {_pct(samples, 0.5):.1f} ms",
                "",
                f"against its parent and {siblings} siblings: validity, containment, overlaps, gaps",
            )
            start = time.perf_counter()
            report = import_boundaries(county_file, dry_run=True)
            dry = time.perf_counter() - start
            assert report.ok, [str(f) for f in report.features if f.status in ("invalid", "unmatched")][:5]
            start = time.perf_counter()
            Area.objects.filter(pk__in=list(polygons)).update(boundary=None)
            report = import_boundaries(county_file)
            applied = time.perf_counter() - start
            bench.add(
                f"import_boundaries: county GeoJSON ({len(county_file['features']):,} features)",
                f"dry run {dry:.1f} s, apply {applied:.1f} s",
                "",
                f"{report.versions:,} versions written in one transaction (rolled back)",
            )
            raise _Rollback
    except _Rollback:
        pass
    locate_module.invalidate()


def main() -> None:
    import os

    from bench.run import DEFAULT_URL, Bench, ensure_database

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    ensure_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "gridgov.settings.dev"
    os.environ.setdefault("DEBUG", "false")
    import django

    django.setup()
    run(Bench(repeat=1))


if __name__ == "__main__":
    main()
