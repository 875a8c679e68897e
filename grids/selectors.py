"""Reads over the area tree that are more than `.get()`."""

from collections import defaultdict

from django.db.models import Count, Q

from .choices import GRID_LEVELS, PATH_COLUMN
from .models import Area, Household, Resident


def subtree_filter(node: Area) -> Q:
    """Records (households, residents …) under `node`: an indexed equality on the denormalised
    path column where the level has one, the MPTT range of the area otherwise."""
    column = PATH_COLUMN.get(node.level)
    if column:
        return Q(**{f"{column}_id": node.pk})
    return Q(area__tree_id=node.tree_id, area__lft__gte=node.lft, area__rght__lte=node.rght)


def _record_counts(model, nodes: list[Area]) -> dict[int, int]:
    """Active records of `model` under each node, in one query per kind of path column."""
    counts: dict[int, int] = dict.fromkeys((n.pk for n in nodes), 0)
    by_column: dict[str, list[int]] = defaultdict(list)
    others: list[Area] = []
    for n in nodes:
        column = PATH_COLUMN.get(n.level)
        if column:
            by_column[column].append(n.pk)
        else:
            others.append(n)
    base = model.objects.filter(is_active=True)
    for column, ids in by_column.items():
        rows = base.filter(**{f"{column}_id__in": ids}).values(f"{column}_id").annotate(n=Count("id"))
        for row in rows:
            counts[row[f"{column}_id"]] = row["n"]
    if others:
        agg = base.aggregate(**{f"c{n.pk}": Count("id", filter=subtree_filter(n)) for n in others})
        for n in others:
            counts[n.pk] = agg[f"c{n.pk}"]
    return counts


def children_with_counts(node: Area) -> list[Area]:
    """`node`'s children, each with cumulative `grid_count`, `household_count`, `resident_count`.

    A constant number of queries whatever the number of children: one for the children, one for
    the grid counts, at most two per record model.
    """
    children = list(node.get_children())
    if not children:
        return children
    grid_counts = Area.objects.filter(
        tree_id=node.tree_id, lft__gt=node.lft, rght__lt=node.rght, level__in=GRID_LEVELS, is_active=True
    ).aggregate(**{f"c{c.pk}": Count("id", filter=Q(lft__gte=c.lft, rght__lte=c.rght)) for c in children})
    households = _record_counts(Household, children)
    residents = _record_counts(Resident, children)
    for c in children:
        c.grid_count = grid_counts[f"c{c.pk}"]
        c.household_count = households[c.pk]
        c.resident_count = residents[c.pk]
    return children


def node_totals(node: Area) -> dict[str, int]:
    return {
        "grids": Area.objects.filter(
            tree_id=node.tree_id, lft__gte=node.lft, rght__lte=node.rght, level__in=GRID_LEVELS, is_active=True
        ).count(),
        "households": _record_counts(Household, [node])[node.pk],
        "residents": _record_counts(Resident, [node])[node.pk],
    }
