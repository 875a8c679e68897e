"""Denormalised ancestor ids (county/town/zone/village/grid) on records attached to areas."""

from collections import defaultdict

from django.apps import apps

from .choices import PATH_COLUMN

PATH_FIELDS = ("county", "town", "zone", "village", "grid")


def path_models() -> list:
    """Every concrete model that carries an AreaPath (households, residents, later cases …)."""
    from .models import AreaPath

    return [m for m in apps.get_models() if issubclass(m, AreaPath) and not m._meta.abstract]


def moving_path_models() -> list:
    """The AreaPath models whose rows follow their area when it moves. Households and residents do;
    cases do not (REFRESH_PATH_ON_MOVE = False): a case stays counted where it was filed."""
    return [m for m in path_models() if getattr(m, "REFRESH_PATH_ON_MOVE", True)]


def path_from_ancestors(ancestors) -> dict[str, int | None]:
    """Path ids for the last node of `ancestors` (root first, node itself last)."""
    path: dict[str, int | None] = dict.fromkeys(PATH_FIELDS)
    for node in ancestors:
        column = PATH_COLUMN.get(node.level)
        if column:
            path[column] = node.pk
    return path


def path_ids(area) -> dict[str, int | None]:
    return path_from_ancestors(area.get_ancestors(include_self=True).only("id", "level"))


def set_path(obj, area=None) -> None:
    """Fill obj's path columns from its area (one query; use PathCache for bulk work)."""
    area = area or obj.area
    for field, value in path_ids(area).items():
        setattr(obj, f"{field}_id", value)


class PathCache:
    """Computes paths for many areas from one read of the (small) area table: for bulk imports
    and demo data where a query per record would dominate."""

    def __init__(self) -> None:
        from .models import Area

        self._nodes = {a["id"]: (a["parent_id"], a["level"]) for a in Area.objects.values("id", "parent_id", "level")}
        self._cache: dict[int, dict[str, int | None]] = {}

    def add(self, area) -> None:
        self._nodes[area.pk] = (area.parent_id, area.level)

    def __call__(self, area_id: int) -> dict[str, int | None]:
        if area_id not in self._cache:
            chain = []
            current: int | None = area_id
            while current is not None:
                parent_id, level = self._nodes[current]
                chain.append((current, level))
                current = parent_id
            path: dict[str, int | None] = dict.fromkeys(PATH_FIELDS)
            for node_id, level in reversed(chain):
                column = PATH_COLUMN.get(level)
                if column:
                    path[column] = node_id
            self._cache[area_id] = path
        return self._cache[area_id]

    def apply(self, obj, area_id: int | None = None) -> None:
        for field, value in self(area_id or obj.area_id).items():
            setattr(obj, f"{field}_id", value)


def refresh_paths_below(area) -> int:
    """After `area` moved: rewrite the path columns of every record in its subtree.

    Records are grouped by their new path so the work is one UPDATE per distinct path, not per row.
    Returns the number of rows updated.
    """
    from .models import Area

    cache = PathCache()
    subtree = Area.objects.filter(tree_id=area.tree_id, lft__gte=area.lft, rght__lte=area.rght).values_list(
        "id", flat=True
    )
    by_path: dict[tuple, list[int]] = defaultdict(list)
    for area_id in subtree:
        by_path[tuple(cache(area_id).items())].append(area_id)
    updated = 0
    for model in moving_path_models():
        for path, area_ids in by_path.items():
            values = {f"{field}_id": value for field, value in path}
            updated += model.objects.filter(area_id__in=area_ids).update(**values)
    return updated
