"""The dashboard rollup: dated case counts per local day for county and town pages, kept exact by
PostgreSQL.

Why. A county page over 30 days at 1M cases has to classify ~400k cases (everything filed, closed,
due, accepted or rated in the period, plus every open case) into 25 counts, twice (figures and
trend): ≈ 0.8 s on this project's 2-core reference machine, however the SQL is written. A county
or town page never needs finer keys than its children, 小类 and source, and every dated measure of
kpis.py is "anchor date in P and a condition without dates" (`Measure.anchor`, `Measure.where`),
so the counts can be kept per local day of the anchor and summed over the period's days.

What is stored (rollup_models.py): each case is counted under its county (child: its town) and
under its town (child: its zone, village or special grid), per (day, node, child, 小类, source),
one column per dated measure, counted on the day of its anchor; the due family also on the day of
the handling deadline (`d_<key>`); and, for closed cases only, the due family per (day closed, day
of deadline) with no 小类/source (`CaseClosePair`), because D = deadline in P ∪ closed in P needs
both days; and the snapshots that do not read the clock (open, overdue, supervised) with no day
(`CaseOpenStat`).

How it stays exact. Statement-level triggers on cases_case (INSERT, UPDATE, DELETE with
transition tables; TRUNCATE empties the counts) append the difference each statement makes: +1
for every count a changed case is in now, -1 for every count it was in before, summed per key,
zero rows left out. Nothing is updated in place, so concurrent writers never wait on each
other's counters; `compact` (Celery beat, every minute) folds the appended rows of the days they
touched. The trigger SQL is generated from kpis.py's Q objects (compiled by Django), installed
after every `migrate`, and rebuilt from cases_case whenever the generated SQL changes (its hash
is the function's comment).

How a page reads it (`cube`, `trend`): the days of P from the day table; D's deadline part for
days before today; closed cases whose deadline is outside P from the pair table; the cases whose
deadline is today (D counts a deadline only once it has passed: `due_end = min(end, now)`) and the
counts that read the clock (near due) live from cases_case; open, overdue and supervised from
`CaseOpenStat`. One GROUPING SETS statement folds all of it into a `selectors.Cube` (per child,
per 小类, per source), and tests compare it with the live count over random cases and periods.

Scope: county and town nodes in the user's scope, without a 小类/source filter, read the rollup;
zones, villages, grids and filtered views read cases_case (a zone holds a few thousand cases).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import operator
import re
from functools import reduce
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import connections, transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from grids.choices import AreaLevel
from grids.models import Household

from ..choices import CaseState
from ..models import Category
from .kpis import CASE_MEASURES, DUE, Period, due_candidates
from .rollup_models import (
    DAY_COLUMNS,
    DUE_COLUMNS,
    GRAIN_CATEGORY,
    GRAIN_CELL,
    GRAIN_CHILD,
    GRAIN_SOURCE,
    OPEN_COLUMNS,
    PAIR_COLUMNS,
    CaseClosePair,
    CaseDayStat,
    CaseOpenStat,
    HouseholdStat,
)

FUNCTION = "gridgov_case_stats"
HOUSEHOLD_FUNCTION = "gridgov_household_stats"
#: pg_advisory lock key of `compact` (one compaction at a time).
COMPACT_LOCK = 0x67676373
KEYS = ("node_key", "child_key", "category_id", "source")
CASE_TABLES = (CaseDayStat, CaseClosePair, CaseOpenStat)
TABLES = (*CASE_TABLES, HouseholdStat)
#: The household columns a HouseholdStat row depends on.
HOUSEHOLD_COLUMNS = ("is_active", "last_visited_on", "county_id", "town_id", "zone_id", "village_id", "grid_id")


# --- what is counted --------------------------------------------------------------------------------


def day_columns() -> list[tuple[str, str, Q]]:
    """(column, anchor date field, condition) of the day table, from the measure definitions."""
    columns = []
    for m in CASE_MEASURES:
        if m.snapshot or not m.anchor:
            continue
        if m.anchor == DUE:
            columns.append((f"d_{m.key}", "handle_due_at", due_candidates() & m.where()))
        else:
            columns.append((m.key, m.anchor, m.where()))
    return columns


def pair_columns() -> list[tuple[str, Q]]:
    """(column, condition) of the pair table: the due family of closed cases."""
    return [(m.key, due_candidates() & Q(state=CaseState.CLOSED) & m.where()) for m in CASE_MEASURES if m.anchor == DUE]


def open_columns() -> list[tuple[str, Q]]:
    """(column, condition) of the snapshot table: the snapshots that do not read the clock."""
    return [(m.key, m.where()) for m in CASE_MEASURES if m.snapshot and m.where is not None]


def _condition_sql(connection, q: Q, alias: str) -> str:
    """A Q over cases as SQL on `alias` (literals inlined): the definition Django compiles is the
    one the trigger evaluates."""
    from ..models import Case

    query = Case.objects.filter(q).query
    try:
        where, params = query.get_compiler(connection=connection).compile(query.where)
    except FullResultSet:
        return "TRUE"
    except EmptyResultSet:
        return "FALSE"
    if sum(1 for n in query.alias_refcount.values() if n) > 1:
        raise ValueError(f"rollup conditions must not join other tables: {q}")
    if not where:
        return "TRUE"
    with connection.cursor() as cur:
        sql = cur.mogrify(where, params)
    sql = sql.decode() if isinstance(sql, bytes) else sql
    return sql.replace(f'"{Case._meta.db_table}".', f"{alias}.")


def _zone() -> str:
    zone = settings.TIME_ZONE
    if not re.fullmatch(r"[A-Za-z0-9_/+\-]+", zone):
        raise ValueError(f"unexpected TIME_ZONE {zone!r}")
    return zone


def _day(alias: str, field: str) -> str:
    return f"(({alias}.{field} AT TIME ZONE '{_zone()}')::date)"


#: The nodes a case is counted under, with the expression naming its child there: a county's
#: children are grouped as selectors._column_key groups them (town wherever the tree has towns),
#: a town's likewise (zone, or a village or special grid hanging from the town).
NODES = {
    AreaLevel.COUNTY: ("county_id", "COALESCE({a}.town_id, {a}.zone_id, {a}.village_id, {a}.grid_id, 0)"),
    AreaLevel.TOWN: ("town_id", "COALESCE({a}.zone_id, {a}.village_id, {a}.grid_id, 0)"),
}


def _keys(alias: str, level: str) -> str:
    column, child = NODES[level]
    return (
        f"{alias}.{column} AS node_key, {child.format(a=alias)} AS child_key, "
        f"{alias}.category_id AS category_id, {alias}.source AS source"
    )


def _counted(alias: str, level: str) -> str:
    return f"{alias}.{NODES[level][0]} IS NOT NULL"


def _one(sign: int, condition: str, column: str) -> str:
    return f"{sign} * (CASE WHEN {condition} THEN 1 ELSE 0 END) AS {column}"


#: The GROUPING SETS of each grain (rollup_models.GRAIN_*).
_GRAIN_SETS = {
    GRAIN_CELL: "(child_key, category_id, source)",
    GRAIN_CHILD: "(child_key)",
    GRAIN_CATEGORY: "(category_id)",
    GRAIN_SOURCE: "(source)",
}
ALL_GRAINS = tuple(_GRAIN_SETS)


def _grained_insert(
    model, lead: list[str], names: list[str], parts: list[str], grains: tuple[int, ...], compacted: bool
) -> str:
    """INSERT … SELECT of the rows of `parts` summed per (lead columns, node, grain key): one row
    per grain in `grains` (GROUPING SETS; a key summed away is stored as 0 or ''), zero rows left
    out. A rebuild writes each node's rows together: a page reads few pages (compaction does too)."""
    lead_sql = "".join(f"{c}, " for c in lead)
    sets = ", ".join(_GRAIN_SETS[g] for g in grains)
    return (
        f"INSERT INTO {model._meta.db_table} ({lead_sql}grain, {', '.join(KEYS)}, {', '.join(names)}, compacted) "
        f"SELECT {lead_sql}GROUPING(child_key, category_id, source), node_key, COALESCE(child_key, 0), "
        f"COALESCE(category_id, 0), COALESCE(source, ''), {', '.join(f'sum({n})' for n in names)}, "
        f"{str(compacted).upper()} FROM ({' UNION ALL '.join(parts)}) u "
        f"GROUP BY {lead_sql}node_key, GROUPING SETS ({sets}) "
        f"HAVING {' OR '.join(f'sum({n}) <> 0' for n in names)}"
        + (f" ORDER BY node_key{''.join(f', {c}' for c in lead[:1])}" if compacted else "")
    )


def _day_insert(connection, sources: list[tuple[str, int]], compacted: bool) -> str:
    columns = day_columns()
    conditions = {name: _condition_sql(connection, q, "c") for name, _, q in columns}
    anchors = list(dict.fromkeys(anchor for _, anchor, _ in columns))
    parts = []
    for table, sign in sources:
        for anchor in anchors:
            values = ", ".join(
                _one(sign, conditions[name], name) if a == anchor else f"0 AS {name}" for name, a, _ in columns
            )
            parts += [
                f"SELECT {_day('c', anchor)} AS day, {_keys('c', level)}, {values} FROM {table} c "
                f"WHERE c.{anchor} IS NOT NULL AND {_counted('c', level)}"
                for level in NODES
            ]
    names = [name for name, _, _ in columns]
    return _grained_insert(CaseDayStat, ["day"], names, parts, ALL_GRAINS, compacted)


def _pair_insert(connection, sources: list[tuple[str, int]], compacted: bool) -> str:
    columns = pair_columns()
    parts = []
    values = {
        sign: ", ".join(_one(sign, _condition_sql(connection, q, "c"), name) for name, q in columns) for sign in (1, -1)
    }
    for table, sign in sources:
        parts += [
            f"SELECT {_day('c', 'closed_at')} AS closed_day, {_day('c', 'handle_due_at')} AS deadline_day, "
            f"{_keys('c', level)}, {values[sign]} FROM {table} c "
            f"WHERE c.closed_at IS NOT NULL AND {_counted('c', level)}"
            for level in NODES
        ]
    names = [name for name, _ in columns]
    # The due family is not broken down by 小类 or source on a page: cells (filtered pages) and children.
    return _grained_insert(
        CaseClosePair, ["closed_day", "deadline_day"], names, parts, (GRAIN_CELL, GRAIN_CHILD), compacted
    )


def _open_insert(connection, sources: list[tuple[str, int]], compacted: bool) -> str:
    columns = open_columns()
    values = {
        sign: ", ".join(_one(sign, _condition_sql(connection, q, "c"), name) for name, q in columns) for sign in (1, -1)
    }
    parts = [
        f"SELECT {_keys('c', level)}, {values[sign]} FROM {table} c WHERE {_counted('c', level)}"
        for table, sign in sources
        for level in NODES
    ]
    names = [name for name, _ in columns]
    return _grained_insert(CaseOpenStat, [], names, parts, ALL_GRAINS, compacted)


def _household_insert(sources: list[tuple[str, int]], compacted: bool) -> str:
    """Active households per (node, child, day of the latest visit), +1 or -1 per source table."""
    parts = [
        f"SELECT h.{column} AS node_key, {child.format(a='h')} AS child_key, h.last_visited_on AS last_visit_day, "
        f"{sign} AS n FROM {table} h WHERE h.is_active AND h.{column} IS NOT NULL"
        for table, sign in sources
        for column, child in NODES.values()
    ]
    return (
        f"INSERT INTO {HouseholdStat._meta.db_table} (node_key, child_key, last_visit_day, households, compacted) "
        f"SELECT node_key, child_key, last_visit_day, sum(n), {str(compacted).upper()} "
        f"FROM ({' UNION ALL '.join(parts)}) u GROUP BY 1, 2, 3 HAVING sum(n) <> 0"
        + (" ORDER BY node_key" if compacted else "")
    )


def _inserts(connection, sources: list[tuple[str, int]], compacted: bool) -> list[str]:
    return [
        _day_insert(connection, sources, compacted),
        _pair_insert(connection, sources, compacted),
        _open_insert(connection, sources, compacted),
    ]


def _q_columns(q: Q) -> set[str]:
    """The case columns a Q reads."""
    from ..models import Case

    columns = set()
    for child in q.children:
        if isinstance(child, Q):
            columns |= _q_columns(child)
        else:
            columns.add(Case._meta.get_field(child[0].split("__")[0]).attname)
    return columns


def watched_columns() -> list[str]:
    """Every column a count depends on: an UPDATE that changes none of them changes no count."""
    columns = {"category_id", "source", "county_id", "town_id", "zone_id", "village_id", "grid_id", "closed_at"}
    for _name, anchor, q in day_columns():
        columns |= {anchor, *_q_columns(q)}
    for _name, q in [*pair_columns(), *open_columns()]:
        columns |= _q_columns(q)
    return sorted(columns)


def _any_change(columns) -> str:
    """For an UPDATE trigger: whether some row changed one of `columns`. A reminder or a version
    bump then costs one hash join instead of a recount; when something changed, every row of the
    statement is recounted (+1 new, -1 old) and the unchanged ones cancel in the GROUP BY."""
    differ = f"({', '.join(f'n.{c}' for c in columns)}) IS DISTINCT FROM ({', '.join(f'o.{c}' for c in columns)})"
    return f"SELECT 1 FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE {differ}"


_EVENTS = {
    # trigger suffix: (event, transition tables)
    "ins": ("INSERT", "NEW TABLE AS new_rows"),
    "upd": ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
    "del": ("DELETE", "OLD TABLE AS old_rows"),
    "trunc": ("TRUNCATE", ""),  # emptying the cases empties the counts
}


def _trigger_body(connection, suffix: str) -> str:
    if suffix == "ins":
        return ";\n".join(_inserts(connection, [("new_rows", 1)], False)) + ";"
    if suffix == "del":
        return ";\n".join(_inserts(connection, [("old_rows", -1)], False)) + ";"
    if suffix == "trunc":  # DELETE: a TRUNCATE naming the rollup tables too (flush) is still running
        return "".join(f"DELETE FROM {m._meta.db_table};" for m in CASE_TABLES)
    inserts = ";\n".join(_inserts(connection, [("new_rows", 1), ("old_rows", -1)], False))
    return f"IF NOT EXISTS ({_any_change(watched_columns())}) THEN\nRETURN NULL;\nEND IF;\n{inserts};"


def _household_trigger_body(suffix: str) -> str:
    if suffix == "ins":
        return _household_insert([("new_rows", 1)], False) + ";"
    if suffix == "del":
        return _household_insert([("old_rows", -1)], False) + ";"
    if suffix == "trunc":
        return f"DELETE FROM {HouseholdStat._meta.db_table};"
    # An address or note edit changes no count: one hash join, nothing appended.
    inserts = _household_insert([("new_rows", 1), ("old_rows", -1)], False)
    return f"IF NOT EXISTS ({_any_change(HOUSEHOLD_COLUMNS)}) THEN\nRETURN NULL;\nEND IF;\n{inserts};"


#: The tables whose writes the rollup follows: (table, trigger function prefix, trigger body).
def _watched(connection) -> list[tuple[str, str, object]]:
    return [
        ("cases_case", FUNCTION, lambda suffix: _trigger_body(connection, suffix)),
        (Household._meta.db_table, HOUSEHOLD_FUNCTION, _household_trigger_body),
    ]


def install_statements(connection) -> list[str]:
    # Compaction deletes and rewrites rows all day: vacuum them after a fixed number of dead rows
    # rather than a fifth of the table, so pages do not step over stale versions for long.
    statements = [
        f"ALTER TABLE {m._meta.db_table} SET (autovacuum_vacuum_scale_factor = 0, "
        "autovacuum_vacuum_threshold = 10000, autovacuum_analyze_scale_factor = 0.02)"
        for m in TABLES
    ]
    for table, function, trigger_body in _watched(connection):
        statements += _trigger_statements(table, function, trigger_body)
    return statements


def _trigger_statements(table: str, function: str, trigger_body) -> list[str]:
    statements = []
    for suffix, (event, tables) in _EVENTS.items():
        name = f"{function}_{suffix}"
        body = trigger_body(suffix)
        statements += [
            # Transition tables have no statistics: without this a join of two 10,000-row tables may
            # be planned as a nested loop (minutes instead of milliseconds).
            f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql SET enable_nestloop = off AS $fn$\n"
            f"BEGIN\n{body}\nRETURN NULL;\nEND\n$fn$",
            f"DROP TRIGGER IF EXISTS {name} ON {table}",
            f"CREATE TRIGGER {name} AFTER {event} ON {table} {f'REFERENCING {tables} ' if tables else ''}"
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()",
        ]
    return statements


def _digest(statements: list[str], connection) -> str:
    text = "\n".join([*statements, *_rebuild_inserts(connection)])
    return "gridgov:" + hashlib.sha256(text.encode()).hexdigest()[:32]


@functools.cache
def _generated(using: str) -> tuple[list[str], str]:
    """The trigger statements and their digest: compiled from kpis.py once per process (they
    change only with the code), for install and for every /healthz probe."""
    connection = connections[using]
    statements = install_statements(connection)
    return statements, _digest(statements, connection)


def _rebuild_inserts(connection) -> list[str]:
    return [*_inserts(connection, [("cases_case", 1)], True), _household_insert([(Household._meta.db_table, 1)], True)]


def _tables_exist(connection) -> bool:
    names = set(connection.introspection.table_names())
    return {"cases_case", Household._meta.db_table, *(m._meta.db_table for m in TABLES)} <= names


def installed_digest(using: str = "default") -> str | None:
    connection = connections[using]
    with connection.cursor() as cur:
        cur.execute(f"SELECT obj_description(to_regprocedure('{FUNCTION}_upd()'), 'pg_proc')")
        return cur.fetchone()[0]


def install(using: str = "default", force: bool = False) -> bool:
    """Create or refresh the triggers and rebuild the tables when the generated SQL changed (or
    `force`). Returns whether anything was done. PostgreSQL only; elsewhere pages read live."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return False
    if not _tables_exist(connection):
        uninstall(using)
        return False
    statements, digest = _generated(using)
    if not force and installed_digest(using) == digest:
        return False
    with transaction.atomic(using=using), connection.cursor() as cur:
        # No case or household is written while the triggers change and the counts are rebuilt.
        cur.execute(f"LOCK TABLE cases_case, {Household._meta.db_table} IN SHARE ROW EXCLUSIVE MODE")
        for sql in statements:
            cur.execute(sql)
        rebuild(using)
        cur.execute(f"COMMENT ON FUNCTION {FUNCTION}_upd() IS %s", [digest])
    return True


def uninstall(using: str = "default") -> None:
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    names = set(connection.introspection.table_names())
    with connection.cursor() as cur:
        for table, function, _body in _watched(connection):
            for suffix in _EVENTS:
                if table in names:
                    cur.execute(f"DROP TRIGGER IF EXISTS {function}_{suffix} ON {table}")
                cur.execute(f"DROP FUNCTION IF EXISTS {function}_{suffix}()")


def rebuild(using: str = "default") -> None:
    """Recount everything from cases_case and grids_household (in the caller's transaction)."""
    connection = connections[using]
    with connection.cursor() as cur:
        tables = ", ".join(m._meta.db_table for m in TABLES)
        # TRUNCATE, not DELETE: no dead rows for the pages' index scans to step over.
        cur.execute(f"TRUNCATE {tables}")
        for sql in _rebuild_inserts(connection):
            cur.execute(sql)
        # Fresh statistics: a planner that thinks the table is empty sorts on disk instead of hashing.
        cur.execute(f"ANALYZE {tables}")


def on_post_migrate(sender, using="default", **kwargs) -> None:
    install(using)


#: Per table: the columns of a key (day columns first; a nullable one is compared with IS NOT
#: DISTINCT FROM) and the counts.
_FOLDS = (
    (CaseDayStat, ("day", "grain", *KEYS), (), DAY_COLUMNS),
    (CaseClosePair, ("closed_day", "grain", *KEYS), ("deadline_day",), PAIR_COLUMNS),
    (CaseOpenStat, ("grain", *KEYS), (), OPEN_COLUMNS),
    (HouseholdStat, ("node_key", "child_key"), ("last_visit_day",), ("households",)),
)


def compact(using: str = "default") -> dict[str, int] | None:
    """Fold the rows the triggers appended into one row per key, for the keys they touched (not
    whole days: today's other rows are not rewritten, so they leave no dead versions behind).
    Rows of transactions still running are left for the next run. Returns the rows written per
    table; None when another compaction holds the lock."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return None
    written = {}
    with transaction.atomic(using=using), connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_xact_lock(%s)", [COMPACT_LOCK])
        if not cur.fetchone()[0]:
            return None
        for model, keys, nullable, counts in _FOLDS:
            table = model._meta.db_table
            columns = ", ".join([*keys, *nullable])
            match = " AND ".join(
                [*(f"s.{k} = d.{k}" for k in keys), *(f"s.{k} IS NOT DISTINCT FROM d.{k}" for k in nullable)]
            )
            cur.execute(
                f"WITH dirty AS (SELECT DISTINCT {columns} FROM {table} WHERE NOT compacted), "
                f"gone AS (DELETE FROM {table} s USING dirty d WHERE {match} RETURNING s.*) "
                f"INSERT INTO {table} ({columns}, {', '.join(counts)}, compacted) "
                f"SELECT {columns}, {', '.join(f'sum({c})' for c in counts)}, TRUE FROM gone "
                f"GROUP BY {columns} HAVING {' OR '.join(f'sum({c}) <> 0' for c in counts)} ORDER BY node_key"
            )
            written[table] = cur.rowcount
    return written


#: Unfolded rows past which /healthz calls the rollup degraded: beat's compaction is not keeping up
#: (or not running), and every county and town page reads all of them.
BACKLOG_WARN = 200_000


def backlog(using: str = "default") -> dict | None:
    """The rollup's state for /healthz: whether the triggers are installed (their digest matches
    the measure definitions) and how many appended rows wait for compaction (counted up to a
    bound through the partial indexes, so a large backlog costs a bounded scan). None where there
    is no rollup (SQLite, or GRIDGOV_CASE_ROLLUP off)."""
    connection = connections[using]
    if connection.vendor != "postgresql" or not getattr(settings, "GRIDGOV_CASE_ROLLUP", True):
        return None
    if not _tables_exist(connection):
        return {"ok": False, "installed": False, "unfolded_rows": 0}
    installed = installed_digest(using) == _generated(using)[1]
    bound = 10 * BACKLOG_WARN
    unfolded = 0
    with connection.cursor() as cur:
        for model in TABLES:
            cur.execute(
                f"SELECT count(*) FROM (SELECT 1 FROM {model._meta.db_table} WHERE NOT compacted LIMIT %s) s", [bound]
            )
            unfolded += cur.fetchone()[0]
    return {"ok": installed and unfolded <= BACKLOG_WARN, "installed": installed, "unfolded_rows": unfolded}


# --- reading ------------------------------------------------------------------------------------------


def serves(user, node, using: str = "default") -> bool:
    """Whether a page of `node` reads the rollup (whatever its 小类 and source filters)."""
    if not getattr(settings, "GRIDGOV_CASE_ROLLUP", True) or connections[using].vendor != "postgresql":
        return False
    if node.level not in NODES:
        return False
    from grids.scope import scope_for

    return scope_for(user).contains_area(node)


def _bounds(p: Period) -> tuple[dt.date, dt.date, bool]:
    """(today, the last day whose deadlines count whole, whether today's deadlines are read live)."""
    today = timezone.localdate(p.now, ZoneInfo(settings.TIME_ZONE))  # the zone the triggers count days in
    last_whole = p.date_to if p.date_to < today else today - dt.timedelta(days=1)
    return today, last_whole, p.date_from <= today <= p.date_to


def _part(qs: QuerySet, keys: list[str], all_keys: list[str], grain: int) -> tuple[str, tuple]:
    """One grouped queryset of live counts (grouped by child, 小类 and source for CELL rows, by
    child alone for CHILD rows) as rows of (grain, child, 小类, source, every measure)."""
    sql, params = qs.query.sql_with_params()
    columns = [f"{grain} AS grain", 'p."child" AS child']
    columns += (
        ['p."category_id" AS category_id', 'p."source" AS source']
        if grain == GRAIN_CELL
        else ["0 AS category_id", "'' AS source"]
    )
    columns += [f'p."{k}" AS {k}' if k in keys else f"0 AS {k}" for k in all_keys]
    return f"SELECT {', '.join(columns)} FROM ({sql}) p", params


def _positional(sql: str, named: dict) -> tuple[str, tuple]:
    """%(name)s placeholders as %s with their values in order (to join with Django's SQL)."""
    params = []

    def take(match: re.Match) -> str:
        params.append(named[match.group(1)])
        return "%s"

    return re.sub(r"%\((\w+)\)s", take, sql), tuple(params)


def _cell_filter(category: str, source: str) -> tuple[str, dict]:
    """The 小类 and source filters of a page (cases.selectors.apply_filters: a category code
    matches itself and everything under it) as a WHERE clause on rollup rows."""
    clause, named = "", {}
    if category:
        escaped = category.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        clause += f" AND category_id IN (SELECT id FROM {Category._meta.db_table} WHERE code LIKE %(category)s)"
        named["category"] = f"{escaped}%"
    if source:
        clause += " AND source = %(source)s"
        named["source"] = source
    return clause, named


def cube(cases: QuerySet, node, period: Period, key, category: str = "", source: str = ""):
    """Every case measure per child, and the breakdown measures per 小类 and per source, for a
    county or town node (a `selectors.Cube`), in one statement. Without a 小类/source filter it
    sums the CHILD, CATEGORY and SOURCE rows (GROUP BY grain); with one, the CELL rows the filter
    keeps, folded by GROUPING SETS. Either way a few dozen rows come back. `cases` are the node's
    cases in the user's scope, filtered (for the live parts), `key` the child expression over
    them, `category`/`source` the page's filters (for the rollup rows)."""
    from .selectors import BREAKDOWN_MEASURES, Cube

    today, last_whole, live_today = _bounds(period)
    all_keys = [m.key for m in CASE_MEASURES]
    dated = [c for c in DAY_COLUMNS if not c.startswith("d_")]
    filtered = bool(category or source)
    grains = f"grain = {GRAIN_CELL}" if filtered else f"grain IN ({GRAIN_CHILD}, {GRAIN_CATEGORY}, {GRAIN_SOURCE})"
    child_grain = GRAIN_CELL if filtered else GRAIN_CHILD  # the rows of measures counted per child only

    def columns(stored: dict[str, str]) -> str:
        """Rollup rows as (grain, child, 小类, source, every measure)."""
        values = ", ".join(f"{stored[k]} AS {k}" if k in stored else f"0 AS {k}" for k in all_keys)
        return f"grain, NULLIF(child_key, 0) AS child, category_id, source, {values}"

    cell_filter, named = _cell_filter(category, source)

    # The period's days; D's deadline part only for whole days (today's deadlines are read live).
    on_day = {c: c for c in dated} | {k: f"CASE WHEN day <= %(last)s THEN d_{k} ELSE 0 END" for k in DUE_COLUMNS}
    parts = [
        (
            f"SELECT {columns(on_day)} FROM {CaseDayStat._meta.db_table} "
            f"WHERE node_key = %(node)s AND {grains} AND day >= %(from)s AND day <= %(to)s{cell_filter}",
            None,
        ),
        # Closed in P with the deadline outside P (or none): the part of D the deadline days miss.
        (
            f"SELECT {columns({c: c for c in PAIR_COLUMNS})} FROM {CaseClosePair._meta.db_table} "
            f"WHERE node_key = %(node)s AND grain = {child_grain} AND closed_day >= %(from)s AND closed_day <= %(to)s "
            "AND (deadline_day IS NULL OR deadline_day < %(from)s OR deadline_day > %(last)s)"
            + (" AND deadline_day IS DISTINCT FROM %(today)s" if live_today else "")
            + cell_filter,
            None,
        ),
        (
            f"SELECT {columns({c: c for c in OPEN_COLUMNS})} FROM {CaseOpenStat._meta.db_table} "
            f"WHERE node_key = %(node)s AND {grains}{cell_filter}",
            None,
        ),
    ]
    named.update(node=node.pk, last=last_whole, today=today, **{"from": period.date_from, "to": period.date_to})
    live = []
    if live_today:
        due_today = cases.filter(
            handle_due_at__gte=Period._midnight(today), handle_due_at__lt=Period._midnight(today + dt.timedelta(days=1))
        )
        live.append((due_today, [m for m in CASE_MEASURES if m.anchor == DUE]))
    # Snapshots that read the clock (near due) are counted live over the open cases.
    moving = [m for m in CASE_MEASURES if m.snapshot and m.where is None]
    live.append((cases.filter(reduce(operator.or_, (m.q(period) for m in moving))), moving))
    assert not {m.key for _, measures in live for m in measures} & set(BREAKDOWN_MEASURES)  # counted per child only
    for qs, measures in live:
        grouped = (
            qs.annotate(child=key)
            .values("child", *(("category_id", "source") if filtered else ()))
            .annotate(**{m.key: Count("id", filter=m.q(period)) for m in measures})
            .order_by()
        )
        parts.append(_part(grouped, [m.key for m in measures], all_keys, child_grain))
    parts = [_positional(sql, named) if params is None else (sql, params) for sql, params in parts]
    union = " UNION ALL ".join(p[0] for p in parts)
    sums = ", ".join(f"sum({k}) AS {k}" for k in all_keys)
    if filtered:
        # Summed per cell first (one hash pass over the days' rows), then the grouping sets over
        # the cells: each set hashes every input row. GROUPING() numbers the sets as the grains.
        sql = (
            f"SELECT GROUPING(child, category_id, source) AS g, child, category_id, source, {sums} "
            f"FROM (SELECT child, category_id, source, {sums} FROM ({union}) u "
            "GROUP BY child, category_id, source) cells "
            "GROUP BY GROUPING SETS ((child), (category_id), (source))"
        )
    else:
        sql = f"SELECT grain AS g, child, category_id, source, {sums} FROM ({union}) u GROUP BY 1, 2, 3, 4"
    params = tuple(param for _, part_params in parts for param in part_params)
    result = Cube()
    with connections[cases.db].cursor() as cur:
        cur.execute(sql, params)
        for g, child, category_id, source, *values in cur.fetchall():
            counts = {k: int(v) for k, v in zip(all_keys, values, strict=True) if v}
            if g == GRAIN_CHILD:  # 小类 and source summed away
                result.children[child] = counts
            elif g == GRAIN_CATEGORY:
                result.categories[category_id] = {k: counts.get(k, 0) for k in BREAKDOWN_MEASURES}
            elif g == GRAIN_SOURCE:
                result.sources[source] = {k: counts.get(k, 0) for k in BREAKDOWN_MEASURES}
    return result


def trend(node, period: Period, category: str = "", source: str = "") -> dict[dt.date, tuple[int, int]]:
    """(reported, closed) per local day of the period for a county or town node: from the CHILD
    rows, or the CELL rows a 小类/source filter keeps."""
    rows = CaseDayStat.objects.filter(node_key=node.pk, day__gte=period.date_from, day__lte=period.date_to)
    if category or source:
        rows = rows.filter(grain=GRAIN_CELL)
    else:
        rows = rows.filter(grain=GRAIN_CHILD)
    if category:
        rows = rows.filter(category_id__in=Category.objects.filter(code__startswith=category).values("id"))
    if source:
        rows = rows.filter(source=source)
    rows = rows.values("day").annotate(reported=Sum("reported"), closed=Sum("closed")).order_by()
    return {row["day"]: (row["reported"] or 0, row["closed"] or 0) for row in rows}


def serves_visits(period: Period) -> bool:
    """Whether `household_counts` can give the visited households of `period`: it ends today or
    later by the clock (not the period's `now`), and no visit is dated after today, so those are
    the households whose latest visit falls in it. An earlier period needs the visits themselves."""
    return period.date_to >= timezone.localdate()


def household_counts(node, period: Period) -> dict[int | None, dict]:
    """Active households per child of a county or town node and, of those, the ones visited in
    `period` (one that `serves_visits`)."""
    in_period = Q(last_visit_day__gte=period.date_from, last_visit_day__lte=period.date_to)
    rows = (
        HouseholdStat.objects.filter(node_key=node.pk)
        .values("child_key")
        .annotate(all=Sum("households"), visited=Sum("households", filter=in_period))
        .order_by()
    )
    return {
        row["child_key"] or None: {"households": row["all"] or 0, "visited_households": row["visited"] or 0}
        for row in rows
    }
