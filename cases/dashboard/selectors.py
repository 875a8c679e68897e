"""Reads behind the dashboards: figures for a node of the tree and its children, trends, breakdowns,
map points and the cases behind any number.

Every case queryset starts at `Case.objects.visible_to(user)` (the scope choke point), is narrowed
to the node with `grids.selectors.subtree_filter` and filtered with `cases.selectors.apply_filters`
(category, source) and the measure definitions of `kpis`. Aggregation happens in the database
over the denormalised ancestor columns of cases, visits and households: the children of a node
are one GROUP BY on the first path column below the node (children of a county = GROUP BY
COALESCE(town_id, zone_id, village_id, grid_id), which is town_id wherever the tree has towns).
The number of queries does not depend on the number of areas or cases.
"""

from __future__ import annotations

from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Case as SqlCase
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce, TruncDate

from cases.choices import Source
from cases.models import Case, Category, GridDayCompliance
from cases.selectors import apply_filters
from grids.choices import GRID_LEVELS, PATH_COLUMN, AreaLevel
from grids.models import Area, Household
from grids.paths import PATH_FIELDS
from grids.scope import scope_for
from grids.selectors import subtree_filter
from staff.choices import Role

from . import kpis, rollup
from .kpis import CASE_MEASURES, KPIS, MEASURES, Period, relevant

try:  # 走访 records come with the visits feature (grids/visits.py); without it there is no coverage
    from grids.models import Visit
except ImportError:  # pragma: no cover - depends on the deployed version
    Visit = None

#: Posts that open the dashboards: the leaders and staff of zones, towns and the county.
DASHBOARD_ROLES = frozenset({Role.ZONE_CHIEF, Role.CENTRE_STAFF, Role.TOWN_LEADER, Role.COUNTY_OFFICIAL, Role.ADMIN})
#: The per-level KPI tables of the exports, from the top down.
LEVEL_COLUMNS = [
    (AreaLevel.TOWN, "town"),
    (AreaLevel.ZONE, "zone"),
    (AreaLevel.VILLAGE, "village"),
    (AreaLevel.GRID, "grid"),
]
BREAKDOWN_MEASURES = ("reported", "closed", "open", "overdue")
MAP_POINT_LIMIT = 5000


# --- who and where ------------------------------------------------------------------------------


def can_use_dashboard(user) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    from staff.selectors import posts_of

    return any(p.role in DASHBOARD_ROLES for p in posts_of(user))


def scope_roots(user) -> list[Area]:
    """The top nodes of the user's scope, in tree order."""
    scope = scope_for(user)
    if scope.everything:
        return list(Area.objects.root_nodes().order_by("tree_id"))
    return list(Area.objects.filter(pk__in=[n.id for n in scope.nodes]).order_by("tree_id", "lft"))


def visible_node(user, area_id) -> Area | None:
    """The area `area_id` if the user may see it, else None (the caller answers 404)."""
    try:
        pk = int(area_id)
    except (TypeError, ValueError):
        return None
    return Area.objects.visible_to(user).filter(pk=pk).first()


def breadcrumb(user, node: Area) -> list[tuple[Area, bool]]:
    """Ancestors of `node`, each with whether the user may open it."""
    scope = scope_for(user)
    return [(a, scope.contains_area(a)) for a in node.get_ancestors()]


@dataclass(frozen=True)
class Filters:
    node: Area
    period: Period
    category: str = ""
    source: str = ""

    def as_params(self) -> dict[str, str]:
        params = {
            "area": str(self.node.pk),
            "date_from": self.period.date_from.isoformat(),
            "date_to": self.period.date_to.isoformat(),
        }
        if self.category:
            params["category"] = self.category
        if self.source:
            params["source"] = self.source
        return params


def cases_in(user, f: Filters) -> QuerySet:
    """Cases under the node in the user's scope, with the category and source filters."""
    qs = Case.objects.visible_to(user).filter(subtree_filter(f.node))
    return apply_filters(qs, user, {"category": f.category, "source": f.source})


def case_list(user, f: Filters, measure: str) -> QuerySet:
    """The cases behind a number: the same filters as the figure (KeyError: not a case measure)."""
    return (
        cases_in(user, f)
        .filter(kpis.case_filter(measure, f.period))
        .select_related("category", "area", "reporter", "owner_area", "owner_department")
        .order_by("-created_at", "-id")
    )


# --- grouping keys ------------------------------------------------------------------------------


def _column_key(node: Area, children: list[Area]):
    """The path column(s) below the node's own that name each child: one column when all the
    children are of one level (children of a county: town_id), else COALESCE over the columns of
    the children's levels, in tree order (a town with zones and special grids:
    COALESCE(zone_id, grid_id))."""
    column = PATH_COLUMN.get(node.level)
    if column is None or node.level in GRID_LEVELS or not children:
        return None
    columns = {PATH_COLUMN.get(c.level) for c in children}
    if None in columns or column in columns:
        return None
    below = [f"{name}_id" for name in PATH_FIELDS if name in columns]
    return F(below[0]) if len(below) == 1 else Coalesce(*below, output_field=IntegerField())


def _range_key(children: list[Area], area_field: str):
    """CASE over the children's lft ranges, for levels without a path column (sub-grids, groups)
    and for tables that carry only an area (reporting compliance)."""
    if not children:
        return Value(None, output_field=IntegerField())
    whens = [
        When(**{f"{area_field}__lft__gte": c.lft, f"{area_field}__lft__lte": c.rght}, then=Value(c.pk))
        for c in children
    ]
    return SqlCase(*whens, default=Value(None), output_field=IntegerField())


def _path_key(node: Area, children: list[Area]):
    return _column_key(node, children) or _range_key(children, "area")


def _grouped(qs: QuerySet, key, aggregates: dict) -> dict[int | None, dict]:
    rows = qs.annotate(child=key).values("child").annotate(**aggregates).order_by()
    return {row.pop("child"): row for row in rows}


#: work_mem of the dashboard's aggregates (PostgreSQL's default is 4MB). A county page groups
#: ~70k rollup rows of 25 counts: under 4MB the planner sorts them on disk (≈ 60 ms) instead of
#: hashing them in memory. Few dashboard queries run at once, and each uses it for one step.
ANALYTIC_WORK_MEM = "64MB"


@contextmanager
def analytic_queries():
    """PostgreSQL settings for the dashboard's aggregates: no JIT (they are cheap per row but
    costed high enough to trigger JIT, whose compilation, ≈ 0.3 s, costs more than it saves) and
    room to hash (ANALYTIC_WORK_MEM). SET LOCAL lasts until the end of the transaction opened here."""
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SET LOCAL jit = off")
            cur.execute("SET LOCAL work_mem = %s", [ANALYTIC_WORK_MEM])
        yield


# --- figures ------------------------------------------------------------------------------------


@dataclass
class Figures:
    """Counts and rates of one area (or of the whole node when `area` is None)."""

    area: Area | None
    counts: dict[str, int] = field(default_factory=dict)
    kpis: dict[str, float | None] = field(default_factory=dict)
    flagged: bool = False

    @property
    def pct(self) -> dict[str, str]:
        return {k: kpis.percent(v) for k, v in self.kpis.items()}

    def finish(self) -> Figures:
        for key in MEASURES:
            self.counts.setdefault(key, 0)
        self.kpis = kpis.kpi_values(self.counts)
        return self


@dataclass
class Breakdown:
    total: Figures
    children: list[Figures]
    other: Figures | None  # cases counted under the node but under no current child (moved grids)
    categories: list[dict]  # BREAKDOWN_MEASURES per 大类 (per 小类 when a category is filtered)
    sources: list[dict]  # BREAKDOWN_MEASURES per source
    visits_available: bool


def _add(target: dict, row: dict) -> None:
    for key, value in row.items():
        target[key] = target.get(key, 0) + (value or 0)


def case_counts(qs: QuerySet, period: Period, key) -> dict[int | None, dict]:
    """Every case measure per value of `key`, in one grouped query."""
    aggregates = {m.key: Count("id", filter=m.q(period)) for m in CASE_MEASURES}
    return _grouped(qs.filter(relevant(period)), key, aggregates)


def case_cube(qs: QuerySet, period: Period, key) -> list[dict]:
    """Every case measure per (child, 小类, source), in one grouped query: the children, the node,
    the categories and the sources are sums of these cells (a few thousand at most), so one scan
    of the cases serves the whole page."""
    aggregates = {m.key: Count("id", filter=m.q(period)) for m in CASE_MEASURES}
    return list(
        qs.filter(relevant(period))
        .annotate(child=key)
        .values("child", "category_id", "source")
        .annotate(**aggregates)
        .order_by()
    )


def compliance_counts(node: Area, children: list[Area], period: Period) -> dict[int | None, dict]:
    qs = GridDayCompliance.objects.filter(day__gte=period.date_from, day__lte=period.date_to)
    if node.level == AreaLevel.TOWN:
        qs = qs.filter(town_id=node.pk)
    else:
        qs = qs.filter(grid__tree_id=node.tree_id, grid__lft__gte=node.lft, grid__rght__lte=node.rght)
    if children and node.level not in GRID_LEVELS and all(c.level == AreaLevel.TOWN for c in children):
        key = F("town_id")
    else:
        key = _range_key(children, "grid")
    return _grouped(qs, key, {"grid_days": Count("id"), "compliant_days": Count("id", filter=Q(compliant=True))})


def household_counts(user, node: Area, key, period: Period) -> dict[int | None, dict]:
    """Active households per value of `key` and, of those, the ones with a visit dated in the
    period (走访覆盖率: both counted where the household is now), in one grouped query."""
    households = Household.objects.visible_to(user).filter(subtree_filter(node), is_active=True)
    aggregates = {"households": Count("id")}
    if Visit is not None:
        in_period = Visit.objects.filter(
            household_id=OuterRef("pk"), date__gte=period.date_from, date__lte=period.date_to
        )
        households = households.annotate(visited=Exists(in_period))
        aggregates["visited_households"] = Count("id", filter=Q(visited=True))
    return _grouped(households, key, aggregates)


def visit_counts(user, node: Area, children: list[Area], period: Period) -> dict[int | None, dict]:
    """Households and visited households per child: from the rollup on county and town pages in
    the user's scope for a period that ends today or later, live elsewhere."""
    if rollup.serves(user, node) and _column_key(node, children) is not None and rollup.serves_visits(period):
        return rollup.household_counts(node, period)
    return household_counts(user, node, _path_key(node, children), period)


def categories_by_id() -> dict[int, dict]:
    return {c["id"]: c for c in Category.objects.values("id", "code", "name", "parent_id")}


def _roll_up(cells: dict, label_of) -> list[dict]:
    rows = []
    for code, counts in cells.items():
        if any(counts.get(k) for k in BREAKDOWN_MEASURES):
            rows.append({"code": code, "name": label_of(code), **{k: counts.get(k, 0) for k in BREAKDOWN_MEASURES}})
    return sorted(rows, key=lambda r: (-r["reported"], -r["open"], r["code"] or ""))


@dataclass
class Cube:
    """Case counts of a node folded three ways: every measure per child, the breakdown measures
    per 小类 and per source."""

    children: dict = field(default_factory=lambda: defaultdict(dict))
    categories: dict = field(default_factory=lambda: defaultdict(dict))
    sources: dict = field(default_factory=lambda: defaultdict(dict))

    @classmethod
    def fold(cls, cells: list[dict]) -> Cube:
        """From (child, 小类, source) cells, as `case_cube` returns them."""
        cube = cls()
        for cell in cells:
            child, category_id, source = cell.pop("child"), cell.pop("category_id"), cell.pop("source")
            _add(cube.children[child], cell)
            small = {k: cell.get(k, 0) for k in BREAKDOWN_MEASURES}
            _add(cube.categories[category_id], small)
            _add(cube.sources[source], small)
        return cube


def breakdown(user, f: Filters, children: list[Area] | None = None) -> Breakdown:
    """The node's figures, each child's, and the breakdowns by category and source: one grouped
    query per source of data (cases, reporting compliance, visits, households) whatever the
    number of children; the node is the sum of the groups. County and town pages read the cases'
    counts from the rollup (rollup.py), folded in the database; other pages count cases here."""
    if children is None:
        children = list(f.node.get_children())
    with analytic_queries():
        cases, key = cases_in(user, f), _path_key(f.node, children)
        # The rollup names children by path columns; a node whose children have none reads live.
        if rollup.serves(user, f.node) and _column_key(f.node, children) is not None:
            cube = rollup.cube(cases, f.node, f.period, key, f.category, f.source)
        else:
            cube = Cube.fold(case_cube(cases, f.period, key))
        others = [compliance_counts(f.node, children, f.period), visit_counts(user, f.node, children, f.period)]
    cats = categories_by_id()
    by_child: dict[int | None, dict] = defaultdict(dict, cube.children)
    by_category: dict[str | None, dict] = defaultdict(dict)
    for category_id, small in cube.categories.items():
        leaf = cats.get(category_id, {})
        group = leaf if f.category else cats.get(leaf.get("parent_id"), leaf)
        _add(by_category[group.get("code")], small)
    for source_rows in others:
        for k, row in source_rows.items():
            _add(by_child[k], row)
    total = Figures(None)
    for row in by_child.values():
        _add(total.counts, row)
    rows = [Figures(c, dict(by_child.pop(c.pk, {}))).finish() for c in children]
    leftover: dict = {}
    for row in by_child.values():
        _add(leftover, row)
    other = Figures(None, leftover).finish() if any(leftover.get(m.key) for m in CASE_MEASURES) else None
    names = {c["code"]: c["name"] for c in cats.values()}
    sources = dict(Source.choices)
    return Breakdown(
        total=total.finish(),
        children=rows,
        other=other,
        categories=_roll_up(by_category, lambda code: names.get(code, code)),
        sources=_roll_up(cube.sources, lambda code: str(sources.get(code, code))),
        visits_available=Visit is not None,
    )


def rank(rows: list[Figures], kpi_key: str) -> list[Figures]:
    """Children ordered best first by a KPI (those without a value last); the worst are flagged
    when the children differ at all."""
    kpi = KPIS[kpi_key]
    for r in rows:
        r.flagged = False
    with_value = [r for r in rows if r.kpis.get(kpi_key) is not None]
    without = [r for r in rows if r.kpis.get(kpi_key) is None]
    with_value.sort(key=lambda r: r.kpis[kpi_key], reverse=kpi.higher_is_better)
    values = [r.kpis[kpi_key] for r in with_value]
    worst = kpi.worst(values)
    if worst is not None and len(set(values)) > 1:
        for r in with_value:
            r.flagged = r.kpis[kpi_key] == worst
    return with_value + without


def level_tables(user, f: Filters) -> list[tuple[str, list[Figures]]]:
    """KPI tables of every level below the node (towns, zones, villages, grids), each one grouped
    query per source on that level's path column (for the exports)."""
    node_column = PATH_COLUMN.get(f.node.level)
    start = PATH_FIELDS.index(node_column) + 1 if node_column else len(PATH_FIELDS)
    tables = []
    for level, column in LEVEL_COLUMNS:
        if PATH_FIELDS.index(column) < start:
            continue
        levels = (
            (AreaLevel.VILLAGE, AreaLevel.COMMUNITY)
            if column == "village"
            else (GRID_LEVELS[:2] if column == "grid" else (level,))
        )
        areas = list(
            Area.objects.filter(
                tree_id=f.node.tree_id, lft__gt=f.node.lft, rght__lt=f.node.rght, level__in=levels
            ).order_by("lft")
        )
        if not areas:
            continue
        by_area: dict[int | None, dict] = defaultdict(dict)
        case_rows = case_counts(cases_in(user, f), f.period, F(f"{column}_id"))
        comp = GridDayCompliance.objects.filter(
            day__gte=f.period.date_from,
            day__lte=f.period.date_to,
            grid__tree_id=f.node.tree_id,
            grid__lft__gte=f.node.lft,
            grid__rght__lte=f.node.rght,
        )
        comp_key = F("grid_id") if column == "grid" else F("town_id") if column == "town" else _range_key(areas, "grid")
        comp_rows = _grouped(
            comp, comp_key, {"grid_days": Count("id"), "compliant_days": Count("id", filter=Q(compliant=True))}
        )
        visit_rows = household_counts(user, f.node, F(f"{column}_id"), f.period)
        for source in (case_rows, comp_rows, visit_rows):
            for k, row in source.items():
                _add(by_area[k], row)
        tables.append((level, [Figures(a, dict(by_area.get(a.pk, {}))).finish() for a in areas]))
    return tables


# --- trend, category, source ----------------------------------------------------------------------


def trend(user, f: Filters) -> list[dict]:
    """Cases reported and problems closed per local day of the period, in one grouped query over
    (day reported, day closed)."""
    p = f.period
    if rollup.serves(user, f.node):
        days = rollup.trend(f.node, p, f.category, f.source)
        return [{"day": d, "reported": days.get(d, (0, 0))[0], "closed": days.get(d, (0, 0))[1]} for d in p.days()]
    rows = (
        cases_in(user, f)
        .filter(kpis.reported(p) | kpis.closed(p))
        .annotate(
            new=SqlCase(When(kpis.reported(p), then=TruncDate("created_at")), default=None),
            done=SqlCase(When(kpis.closed(p), then=TruncDate("closed_at")), default=None),
        )
        .values("new", "done")
        .annotate(n=Count("id"))
        .order_by()
    )
    new: dict = defaultdict(int)
    done: dict = defaultdict(int)
    with analytic_queries():
        for row in rows:
            if row["new"] is not None:
                new[row["new"]] += row["n"]
            if row["done"] is not None:
                done[row["done"]] += row["n"]
    return [{"day": d, "reported": new[d], "closed": done[d]} for d in p.days()]


def top_categories() -> list[Category]:
    return list(Category.objects.filter(parent__isnull=True, is_active=True).order_by("code"))


# --- map ------------------------------------------------------------------------------------------


def map_points(user, f: Filters, measure: str, limit: int = MAP_POINT_LIMIT) -> tuple[list[dict], bool]:
    """Located cases behind a number (newest first, at most `limit`), and whether more exist."""
    qs = (
        cases_in(user, f)
        .filter(kpis.case_filter(measure, f.period), latitude__isnull=False, longitude__isnull=False)
        .order_by("-created_at", "-id")
        .values("id", "number", "title", "state", "is_overdue", "latitude", "longitude")
    )
    rows = list(qs[: limit + 1])
    points = [
        {
            "id": r["id"],
            "number": r["number"],
            "title": r["title"],
            "state": r["state"],
            "overdue": r["is_overdue"],
            "lat": float(r["latitude"]),
            "lon": float(r["longitude"]),
        }
        for r in rows[:limit]
    ]
    return points, len(rows) > limit
