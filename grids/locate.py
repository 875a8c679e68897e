"""Which area contains a point: an in-process index over the current boundaries.

`LocateIndex` holds every active area's boundary as a prepared shapely geometry in an STRtree: a
lookup asks the tree for the boxes containing the point (bounding-box prefilter), then tests the
few candidates with the prepared geometries (`covers`, so a point on an edge counts as inside).
Candidates come back deepest first; areas at the same depth (a point on the edge shared by two
grids) are ordered by code, so the answer is stable.

The process keeps one index (`get_index`). It is rebuilt when boundaries change:
- in this process at once: saving a BoundaryVersion or an Area sends a signal that marks the index
  stale (see grids/boundary_models.py);
- in other processes (gunicorn workers, Celery) within `GRIDGOV_LOCATE_RECHECK_SECONDS` (default
  5 s): at most that often a lookup reads a change token — the newest BoundaryVersion id, the
  latest Area.updated_at and the number of areas — and rebuilds when it differs.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import numpy as np
import shapely
from django.conf import settings
from django.db.models import Count, Max, TextField
from django.db.models.functions import Cast
from shapely import STRtree
from shapely.geometry import MultiPolygon, Polygon

from .models import Area

log = logging.getLogger(__name__)


def recheck_seconds() -> float:
    return float(getattr(settings, "GRIDGOV_LOCATE_RECHECK_SECONDS", 5.0))


class LocateIndex:
    """Point-in-area lookups over a fixed set of boundaries."""

    def __init__(self, rows: list[tuple[int, int, str, object]]) -> None:
        """rows: (area id, depth, code, shapely geometry)."""
        rows = [r for r in rows if r[3] is not None and not r[3].is_empty]
        # Deepest first, then by code: the order candidates are returned in.
        rows.sort(key=lambda r: (-r[1], r[2]))
        self.ids = np.array([r[0] for r in rows], dtype=np.int64)
        self.geoms = np.array([r[3] for r in rows], dtype=object)
        shapely.prepare(self.geoms)
        self.tree = STRtree(self.geoms) if len(rows) else None

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_queryset(cls, qs) -> LocateIndex:
        """Index the boundaries of `qs`. The JSON is read as text and parsed by GEOS in one
        vectorised call; an unreadable boundary is logged and left out."""
        rows = list(
            qs.filter(boundary__isnull=False)
            .annotate(boundary_text=Cast("boundary", output_field=TextField()))
            .values_list("pk", "depth", "code", "boundary_text")
        )
        texts = np.array([r[3] or "null" for r in rows], dtype=object)
        geoms = shapely.from_geojson(texts, on_invalid="ignore") if len(rows) else []
        parsed = []
        for (pk, depth, code, _text), geom in zip(rows, geoms, strict=True):
            if geom is None or not isinstance(geom, Polygon | MultiPolygon):
                log.warning("area %s has an unreadable boundary; left out of the locate index", pk)
                continue
            parsed.append((pk, depth, code, geom))
        return cls(parsed)

    def candidates(self, lon: float, lat: float) -> list[int]:
        """Ids of every area whose boundary covers the point, deepest first."""
        if self.tree is None:
            return []
        point = shapely.Point(lon, lat)
        hits = self.tree.query(point)
        if not len(hits):
            return []
        hits.sort()  # the tree returns tree order; the index order is deepest first
        inside = hits[shapely.covers(self.geoms[hits], point)]
        return self.ids[inside].tolist()

    def locate(self, lon: float, lat: float) -> int | None:
        found = self.candidates(lon, lat)
        return found[0] if found else None


# --- the process-wide index -----------------------------------------------------------------


@dataclass
class _State:
    index: LocateIndex | None = None
    token: tuple | None = None
    checked_at: float = 0.0
    stale: bool = True


_state = _State()
_lock = threading.Lock()


def invalidate() -> None:
    """Boundaries changed in this process: rebuild before the next lookup."""
    _state.stale = True


def _change_token() -> tuple:
    from .boundary_models import BoundaryVersion

    newest = BoundaryVersion.objects.aggregate(n=Max("id"))["n"]
    areas = Area.objects.aggregate(updated=Max("updated_at"), n=Count("id"))
    return (newest, areas["updated"], areas["n"])


def get_index() -> LocateIndex:
    now = time.monotonic()
    state = _state
    if state.index is not None and not state.stale and now - state.checked_at < recheck_seconds():
        return state.index
    with _lock:
        if state.index is not None and not state.stale and now - state.checked_at < recheck_seconds():
            return state.index
        stale = state.stale
        state.stale = False  # a change signalled while rebuilding marks it stale again
        token = _change_token()
        state.checked_at = now
        if stale or state.index is None or token != state.token:
            state.index = LocateIndex.from_queryset(Area.objects.filter(is_active=True))
            state.token = token
    return state.index


@dataclass
class Located:
    area: Area
    path: list[Area]


def locate(*, lat: float, lon: float, user=None) -> Located | None:
    """The deepest active area containing the point that `user` may see (None: no limit), with its
    ancestors; None when the point is in no such area."""
    found = get_index().candidates(lon, lat)
    if not found:
        return None
    qs = Area.objects.filter(pk__in=found)
    if user is not None:
        qs = qs.visible_to(user)
    rows = {a.pk: a for a in qs}  # one query: the candidates the user may see
    area = next((rows[pk] for pk in found if pk in rows), None)
    if area is None:
        return None
    return Located(area=area, path=list(area.get_ancestors(include_self=True)))
