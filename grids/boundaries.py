"""Area boundaries: validation, versioned writes, split and merge, comparison, reassignment of open
cases by location, and GeoJSON import/export. Views, the API and the management commands are thin
wrappers around the functions here; every rule lives in this module.

Geometry
--------
Boundaries are GeoJSON Polygon/MultiPolygon geometries in WGS 84 longitude/latitude
(`[lon, lat]`, RFC 7946), stored with 7 decimals (≈ 1 cm) and counter-clockwise outer rings.
Shapely does the geometry. Distances and areas are measured in a local equirectangular projection
around the checked geometry (`LocalProjection`): at county scale (tens of kilometres) its scale
error is well under 1 %, far below the tolerance; no PostGIS and no pyproj are needed.

What a save checks (`check_boundary`)
-------------------------------------
The tolerance `t` is `settings.GRIDGOV_BOUNDARY_TOLERANCE_M` (default 5 m).
- Refused: not a Polygon/MultiPolygon, empty, coordinates outside China's bounding box (with a
  hint when longitude and latitude look swapped, also relative to the parent's boundary), smaller
  than t² square metres.
- Self-intersections are refused with the place where they occur, unless the repair is
  unambiguous: `shapely.make_valid` gives one polygon (after dropping fragments smaller than t²)
  whose area is within 1 % of the area as drawn. A repaired boundary is saved with a warning that
  says so. Parts of a MultiPolygon that overlap each other are merged, with a warning.
- Refused: any part more than t outside the parent's boundary (the boundary minus the parent
  grown by t is not empty).
- Overlap with a sibling: refused where the overlap is wider than t (the overlap shrunk by t/2 is
  not empty); a thinner sliver along a shared edge — the usual result of drawing a shared edge by
  hand — is allowed with a warning giving its area. So an overlap is refused when it has an area
  of at least about t × t that is wider than t everywhere.
- Reported, not refused: gaps in the parent's cover (the parent minus all its children, ignoring
  slivers narrower than t, reported when larger than t²), siblings without a boundary, children
  of the area left outside the new boundary, a parent without a boundary.

Versions
--------
Every change writes a new `BoundaryVersion`; `Area.boundary` mirrors the version in force today.
A version may take effect in the future (the current boundary stays until then and
`sync_effective_boundaries` — run it daily — switches over); it may not take effect before the
version in force, since it would never become current. Boundary writes are serialised with the
area tree lock, so two admins cannot each pass the sibling-overlap check against a stale view.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from shapely.geometry import MultiPolygon, Polygon, mapping
from shapely.geometry.base import BaseGeometry

from .boundary_models import BoundaryChange, BoundaryVersion
from .choices import GRID_LEVELS, LEVEL_RANK, AreaLevel
from .models import Area
from .paths import PATH_FIELDS, set_path
from .tree import tree_write_lock

EARTH_RADIUS_M = 6_371_008.8
# China including the South China Sea islands: lon_min, lat_min, lon_max, lat_max.
CHINA_BBOX = (73.4, 3.8, 135.1, 53.6)
COORD_DECIMALS = 7
REPAIR_MAX_AREA_CHANGE = 0.01  # a self-intersection is repaired only if the area changes ≤ 1 %
OUTSIDE_EPSILON_M2 = 0.01  # numerical noise of set operations, in m²


def tolerance_m() -> float:
    return float(getattr(settings, "GRIDGOV_BOUNDARY_TOLERANCE_M", 5.0))


# =============================================================================================
# Errors and results
# =============================================================================================


class BoundaryError(Exception):
    """A request that cannot be carried out at all (bad input, wrong target); `code` is
    machine-readable, `message` a Chinese sentence."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class BoundaryInvalid(Exception):
    """A boundary that fails validation; carries the checks (with every error and warning)."""

    def __init__(self, *checks: BoundaryCheck) -> None:
        self.checks = checks
        super().__init__("; ".join(i.message for c in checks for i in c.errors))

    @property
    def errors(self) -> list[Issue]:
        return [i for c in self.checks for i in c.errors]

    @property
    def warnings(self) -> list[Issue]:
        return [i for c in self.checks for i in c.warnings]


@dataclass(frozen=True)
class Issue:
    code: str
    message: str
    geometry: dict | None = None  # GeoJSON (lon/lat) of the problem, for the map

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "geometry": self.geometry}


@dataclass
class BoundaryCheck:
    area: Area
    geometry: BaseGeometry | None = None  # cleaned, lon/lat; None when it could not be read
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    repaired: bool = False
    area_m2: float | None = None

    @property
    def ok(self) -> bool:
        return not self.errors and self.geometry is not None

    def geojson(self) -> dict | None:
        return to_geojson(self.geometry) if self.geometry is not None else None

    def error(self, code: str, message: str, geometry: BaseGeometry | None = None) -> None:
        self.errors.append(Issue(code, message, to_geojson(geometry) if geometry is not None else None))

    def warn(self, code: str, message: str, geometry: BaseGeometry | None = None) -> None:
        self.warnings.append(Issue(code, message, to_geojson(geometry) if geometry is not None else None))

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "area": {"id": self.area.pk, "code": self.area.code, "name": self.area.name},
            "errors": [i.as_dict() for i in self.errors],
            "warnings": [i.as_dict() for i in self.warnings],
            "repaired": self.repaired,
            "area_m2": round(self.area_m2, 1) if self.area_m2 is not None else None,
            "geometry": self.geojson(),
        }


# =============================================================================================
# Geometry helpers
# =============================================================================================


@dataclass(frozen=True)
class LocalProjection:
    """Equirectangular projection around (lon0, lat0) in metres: x east, y north. Good to well
    under 1 % within a few tens of kilometres of the origin — a county."""

    lon0: float
    lat0: float

    @classmethod
    def around(cls, geom: BaseGeometry) -> LocalProjection:
        minx, miny, maxx, maxy = geom.bounds
        return cls((minx + maxx) / 2, (miny + maxy) / 2)

    @property
    def _k(self) -> tuple[float, float]:
        ky = EARTH_RADIUS_M * math.pi / 180
        return ky * math.cos(math.radians(self.lat0)), ky

    def to_metres(self, geom: BaseGeometry) -> BaseGeometry:
        kx, ky = self._k
        origin = np.array([self.lon0, self.lat0])
        return shapely.transform(geom, lambda xy: (xy - origin) * np.array([kx, ky]))

    def to_lonlat(self, geom: BaseGeometry) -> BaseGeometry:
        kx, ky = self._k
        origin = np.array([self.lon0, self.lat0])
        return shapely.transform(geom, lambda xy: xy / np.array([kx, ky]) + origin)


def area_m2(geom: BaseGeometry | None) -> float:
    if geom is None or geom.is_empty:
        return 0.0
    return LocalProjection.around(geom).to_metres(geom).area


def _round(value: Any) -> Any:
    if isinstance(value, list | tuple):
        if value and isinstance(value[0], float | int) and not isinstance(value[0], bool):
            return [round(float(v), COORD_DECIMALS) for v in value]
        return [_round(v) for v in value]
    return value


def to_geojson(geom: BaseGeometry | None) -> dict | None:
    """Plain-list GeoJSON with rounded coordinates and counter-clockwise outer rings."""
    if geom is None or geom.is_empty:
        return None
    if isinstance(geom, Polygon | MultiPolygon):
        geom = shapely.orient_polygons(geom, exterior_cw=False)
    data = mapping(geom)
    if data["type"] == "GeometryCollection":
        return {"type": "GeometryCollection", "geometries": [to_geojson(g) for g in geom.geoms]}
    return {"type": data["type"], "coordinates": _round(data["coordinates"])}


def from_geojson(data: dict | None) -> BaseGeometry | None:
    """A stored boundary as a shapely geometry (None for none)."""
    if not data:
        return None
    return shapely.from_geojson(json.dumps(data))


def stored_geometry(data: dict | None) -> BaseGeometry | None:
    """A stored boundary for computing with: None when there is none or it cannot be read (a
    boundary typed into the Django admin), made valid when it is not (so set operations with it
    cannot fail)."""
    try:
        geom = from_geojson(data)
    except (shapely.errors.GEOSException, TypeError, ValueError):
        return None
    if geom is None or geom.is_empty:
        return None
    if not geom.is_valid:
        geom = polygonal(shapely.make_valid(geom))
    return geom if not geom.is_empty else None


def polygonal(geom: BaseGeometry | None) -> BaseGeometry:
    """The polygon parts of any geometry, as a Polygon or MultiPolygon (possibly empty)."""
    if geom is None:
        return MultiPolygon()
    parts = [p for p in shapely.get_parts(geom) if isinstance(p, Polygon | MultiPolygon) and not p.is_empty]
    flat: list[Polygon] = []
    for p in parts:
        flat.extend(p.geoms if isinstance(p, MultiPolygon) else [p])
    if not flat:
        return MultiPolygon()
    return flat[0] if len(flat) == 1 else MultiPolygon(flat)


def drop_slivers(geom_m: BaseGeometry, tol: float) -> BaseGeometry:
    """Parts (of a geometry in metres) that are not slivers: larger than tol² and wider than tol
    somewhere. The parts kept are returned unchanged (no buffering of their outline)."""
    kept = [p for p in shapely.get_parts(polygonal(geom_m)) if p.area > tol * tol and not p.buffer(-tol / 2).is_empty]
    if not kept:
        return MultiPolygon()
    return kept[0] if len(kept) == 1 else MultiPolygon(kept)


def _fmt_m2(value: float) -> str:
    if value >= 10_000:
        return _("%(ha).2f 公顷") % {"ha": value / 10_000}
    return _("%(m2).0f 平方米") % {"m2": value}


def _fmt_m(value: float) -> str:
    return _("%(m).1f 米") % {"m": value}


def _in_china(bounds: tuple[float, float, float, float]) -> bool:
    minx, miny, maxx, maxy = bounds
    lon_min, lat_min, lon_max, lat_max = CHINA_BBOX
    return lon_min <= minx and maxx <= lon_max and lat_min <= miny and maxy <= lat_max


def _near(a: tuple, b: tuple, margin: float = 0.05) -> bool:
    """Bounding boxes within `margin` degrees of each other."""
    return not (a[2] < b[0] - margin or b[2] < a[0] - margin or a[3] < b[1] - margin or b[3] < a[1] - margin)


# =============================================================================================
# Reading a geometry
# =============================================================================================


def _check_positions(coords: Any, depth: int, where: str) -> None:
    """Structure of GeoJSON coordinates: depth 1 = ring, 2 = polygon, 3 = multipolygon."""
    if not isinstance(coords, list):
        raise BoundaryError("bad_geojson", _("坐标格式错误（%(where)s）") % {"where": where})
    if depth == 1:
        if len(coords) < 3:
            raise BoundaryError("too_few_points", _("每个环至少需要 3 个顶点（%(where)s）") % {"where": where})
        for position in coords:
            if (
                not isinstance(position, list | tuple)
                or len(position) < 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in position[:2])
                or not all(math.isfinite(v) for v in position[:2])
            ):
                raise BoundaryError(
                    "bad_position",
                    _("坐标必须是 [经度, 纬度] 数字对（%(where)s，收到 %(value)s）")
                    % {"where": where, "value": json.dumps(position, ensure_ascii=False)[:60]},
                )
        return
    for n, item in enumerate(coords, start=1):
        _check_positions(item, depth - 1, f"{where}/{n}")


def parse_geometry(data: Any) -> BaseGeometry:
    """A Polygon/MultiPolygon from GeoJSON (a geometry or a Feature, as a dict or a JSON string);
    coordinates rounded to 7 decimals. Raises BoundaryError with a Chinese message."""
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except ValueError:
            raise BoundaryError("bad_geojson", _("边界不是有效的 GeoJSON")) from None
    if data is None:
        raise BoundaryError("empty", _("边界为空：请先绘制区域范围"))
    if not isinstance(data, dict):
        raise BoundaryError("bad_geojson", _("边界不是有效的 GeoJSON"))
    if data.get("type") == "Feature":
        data = data.get("geometry")
        if data is None:
            raise BoundaryError("empty", _("边界为空：请先绘制区域范围"))
    kind = data.get("type")
    if kind not in ("Polygon", "MultiPolygon"):
        raise BoundaryError(
            "bad_type", _("边界必须是面（Polygon 或 MultiPolygon），收到的是 %(type)s") % {"type": kind or "—"}
        )
    coords = data.get("coordinates")
    if not coords:
        raise BoundaryError("empty", _("边界为空：请先绘制区域范围"))
    if kind == "Polygon":
        _check_positions(coords, 2, _("面"))
        rings = [coords]
    else:
        _check_positions(coords, 3, _("多面"))
        rings = coords
    polygons = []
    for polygon in rings:
        if not polygon:
            continue
        shell, *holes = ([tuple(float(v) for v in p[:2]) for p in ring] for ring in polygon)
        polygons.append(Polygon(shell, holes))
    geom = polygons[0] if len(polygons) == 1 else MultiPolygon(polygons)
    geom = shapely.set_precision(geom, 10**-COORD_DECIMALS, mode="pointwise")
    if geom.is_empty or (geom.area == 0 and geom.is_valid):
        raise BoundaryError("empty", _("边界为空：请先绘制区域范围"))
    return geom


# =============================================================================================
# Validation
# =============================================================================================


def _coordinate_problem(geom: BaseGeometry, parent_geom: BaseGeometry | None) -> tuple[str, str] | None:
    bounds = geom.bounds
    swapped = (bounds[1], bounds[0], bounds[3], bounds[2])
    hint = _("GeoJSON 的坐标顺序是 [经度, 纬度]")
    # Relative to the parent first: the more telling message when the parent has a boundary.
    if parent_geom is not None and not _near(bounds, parent_geom.bounds) and _near(swapped, parent_geom.bounds):
        return (
            "coords_swapped",
            _("经纬度顺序颠倒：交换经纬度后正好落在上级区域内，而按原顺序远离上级区域（%(hint)s）") % {"hint": hint},
        )
    if not _in_china(bounds):
        if _in_china(swapped):
            return (
                "coords_swapped",
                _("经纬度顺序颠倒：第一个数应是经度、第二个数是纬度（%(hint)s）；这里第一个数约为 %(a).4f，像是纬度")
                % {"hint": hint, "a": bounds[0]},
            )
        return (
            "outside_china",
            _(
                "坐标不在中国境内（经度 %(lon0)s–%(lon1)s、纬度 %(lat0)s–%(lat1)s）：收到经度 %(x0).4f–%(x1).4f、"
                "纬度 %(y0).4f–%(y1).4f。坐标应为 WGS 84 经纬度（%(hint)s），不能是投影坐标（米）"
            )
            % {
                "lon0": CHINA_BBOX[0],
                "lon1": CHINA_BBOX[2],
                "lat0": CHINA_BBOX[1],
                "lat1": CHINA_BBOX[3],
                "x0": bounds[0],
                "x1": bounds[2],
                "y0": bounds[1],
                "y1": bounds[3],
                "hint": hint,
            },
        )
    return None


_LOCATION = re.compile(r"\[\s*(-?[\d.eE+-]+)\s+(-?[\d.eE+-]+)\s*\]")


def _validity(check: BoundaryCheck, geom: BaseGeometry, tol: float) -> BaseGeometry | None:
    """A valid polygonal geometry, repaired when unambiguous; None (with an error) otherwise."""
    if isinstance(geom, MultiPolygon) and not geom.is_valid and all(p.is_valid for p in geom.geoms):
        merged = polygonal(shapely.union_all(list(geom.geoms)))
        if merged.is_valid and not merged.is_empty:
            check.warn("parts_merged", _("边界的几个部分相互重叠或相接，已合并为一个整体"))
            return merged
    if geom.is_valid:
        return geom
    reason = shapely.is_valid_reason(geom)
    where = ""
    if match := _LOCATION.search(reason):
        where = _("（约在经度 %(x)s、纬度 %(y)s 处）") % {"x": match.group(1), "y": match.group(2)}
    proj = LocalProjection.around(geom)
    drawn = proj.to_metres(geom).area  # shoelace area as drawn: crossing loops cancel out
    fixed_m = drop_slivers(polygonal(shapely.make_valid(proj.to_metres(geom))), tol)
    parts = len(shapely.get_parts(fixed_m))
    change = abs(fixed_m.area - drawn) / drawn if drawn > 0 else math.inf
    if parts == 1 and change <= REPAIR_MAX_AREA_CHANGE:
        check.repaired = True
        check.warn(
            "repaired",
            _("边界有自相交%(where)s，已自动修复为一个面（修复前后面积相差 %(diff)s）。请核对后再使用")
            % {"where": where, "diff": _fmt_m2(abs(fixed_m.area - drawn))},
        )
        return shapely.set_precision(proj.to_lonlat(fixed_m), 10**-COORD_DECIMALS, mode="pointwise")
    if "Self-intersection" in reason or "Ring Self-intersection" in reason:
        detail = (
            _("自动修复会得到 %(n)d 块") % {"n": parts}
            if parts != 1
            else _("自动修复会使面积变化 %(pct).0f%%") % {"pct": min(change, 9.99) * 100}
        )
        check.error(
            "self_intersection",
            _("边界自相交%(where)s，边线不能交叉（%(detail)s，不够明确，未自动修复）。请移动顶点后重新保存")
            % {"where": where, "detail": detail},
        )
    else:
        kind = reason.split("[")[0].strip()
        explained = _GEOS_REASONS.get(kind)
        check.error(
            "invalid_geometry",
            _("边界几何无效%(where)s：%(reason)s")
            % {"where": where, "reason": str(explained) if explained else _("GEOS 报告 %(r)s") % {"r": kind}},
        )
    return None


_GEOS_REASONS = {
    "Hole lies outside shell": gettext_lazy("内环（空洞）在外环之外"),
    "Nested holes": gettext_lazy("空洞套在另一个空洞里"),
    "Interior is disconnected": gettext_lazy("空洞把区域分成了互不相连的几块"),
    "Nested shells": gettext_lazy("多面的一个部分套在另一个部分里"),
    "Duplicate Rings": gettext_lazy("有重复的环"),
    "Too few points": gettext_lazy("顶点太少"),
    "Invalid Coordinate": gettext_lazy("坐标不是有效数字"),
    "Ring is not closed": gettext_lazy("环没有闭合"),
}


@dataclass(frozen=True)
class _Neighbour:
    pk: int
    code: str
    name: str
    geom: BaseGeometry | None


class TreeSnapshot:
    """Areas and their boundaries read once, with `overrides` (area id → geometry, GeoJSON or None)
    laid over what is stored. A single save reads the neighbourhood of one area (one query); an
    import reads the whole table once instead of three queries per feature. Geometries are parsed
    at most once."""

    def __init__(self, rows: Iterable[tuple], overrides: dict[int, Any] | None = None) -> None:
        self.overrides = overrides or {}
        self.nodes: dict[int, tuple[str, str, int | None, bool, dict | None]] = {}
        self.children: dict[int | None, list[int]] = {}
        for pk, code, name, parent_id, is_active, boundary in sorted(rows, key=lambda r: r[1]):
            self.nodes[pk] = (code, name, parent_id, is_active, boundary)
            if is_active:
                self.children.setdefault(parent_id, []).append(pk)
        self._geoms: dict[int, BaseGeometry | None] = {}

    FIELDS = ("pk", "code", "name", "parent_id", "is_active", "boundary")

    @classmethod
    def around(cls, area: Area, overrides: dict[int, Any] | None = None) -> TreeSnapshot:
        """The area's parent, siblings and children."""
        q = Q(parent_id=area.pk) if area.pk else Q(pk__in=[])
        q |= Q(parent_id=area.parent_id) if area.parent_id else Q(parent__isnull=True)
        if area.parent_id:
            q |= Q(pk=area.parent_id)
        return cls(Area.objects.filter(q).values_list(*cls.FIELDS), overrides)

    @classmethod
    def whole(cls, overrides: dict[int, Any] | None = None) -> TreeSnapshot:
        return cls(Area.objects.values_list(*cls.FIELDS), overrides)

    def geometry(self, pk: int) -> BaseGeometry | None:
        if pk not in self._geoms:
            if pk in self.overrides:
                value = self.overrides[pk]
                geom = value if isinstance(value, BaseGeometry) or value is None else from_geojson(value)
            else:
                geom = stored_geometry(self.nodes[pk][4]) if pk in self.nodes else None
            self._geoms[pk] = geom
        return self._geoms[pk]

    def _neighbour(self, pk: int) -> _Neighbour:
        code, name, *_rest = self.nodes[pk]
        return _Neighbour(pk, code, name, self.geometry(pk))

    def siblings(self, area: Area) -> list[_Neighbour]:
        return [self._neighbour(pk) for pk in self.children.get(area.parent_id, []) if pk != area.pk]

    def children_of(self, area: Area) -> list[_Neighbour]:
        return [self._neighbour(pk) for pk in self.children.get(area.pk, [])] if area.pk else []


def check_boundary(
    area: Area,
    data: Any,
    *,
    tolerance: float | None = None,
    overrides: dict[int, Any] | None = None,
    snapshot: TreeSnapshot | None = None,
) -> BoundaryCheck:
    """Validate `data` (GeoJSON or a shapely geometry) as the boundary of `area` against its
    parent, siblings and children as stored — or as given in `overrides` (area id → geometry or
    GeoJSON or None), which an import uses to check against the boundaries it is about to write.
    `snapshot` (with the overrides in it) saves the queries when many areas are checked."""
    tol = tolerance_m() if tolerance is None else tolerance
    hood = snapshot or TreeSnapshot.around(area, overrides)
    check = BoundaryCheck(area=area)
    try:
        geom = data if isinstance(data, BaseGeometry) else parse_geometry(data)
    except BoundaryError as exc:
        check.error(exc.code, exc.message)
        return check
    parent_id = area.parent_id
    if parent_id in hood.nodes:
        parent_name = hood.nodes[parent_id][1]
    else:
        parent_name = area.parent.name if parent_id else ""
    parent_geom = hood.geometry(parent_id) if parent_id else None
    if problem := _coordinate_problem(geom, parent_geom):
        check.error(*problem)
        return check
    geom = _validity(check, geom, tol)
    if geom is None:
        return check
    proj = LocalProjection.around(geom)
    g_m = proj.to_metres(geom)
    check.geometry = geom
    check.area_m2 = g_m.area
    if g_m.area < tol * tol:
        check.error("too_small", _("边界面积过小（%(a)s），请检查是否画错") % {"a": _fmt_m2(g_m.area)})
        return check

    # --- inside the parent ------------------------------------------------------------------
    if parent_id and parent_geom is None:
        check.warn(
            "parent_without_boundary",
            _("上级“%(name)s”尚无边界，未检查是否超出上级范围") % {"name": parent_name},
        )
    p_m = proj.to_metres(parent_geom) if parent_geom is not None else None
    if p_m is not None:
        outside = polygonal(g_m.difference(p_m.buffer(tol)))
        if outside.area > OUTSIDE_EPSILON_M2:
            farthest = float(shapely.distance(shapely.points(shapely.get_coordinates(outside)), p_m).max())
            check.error(
                "outside_parent",
                _("超出上级“%(name)s”的边界：超出部分约 %(a)s，最远约 %(d)s（允许误差 %(t)s）")
                % {"name": parent_name, "a": _fmt_m2(outside.area), "d": _fmt_m(farthest), "t": _fmt_m(tol)},
                proj.to_lonlat(outside),
            )

    # --- siblings -----------------------------------------------------------------------------
    siblings = hood.siblings(area)
    sibling_shapes = []
    for sib in siblings:
        if sib.geom is None:
            continue
        s_m = proj.to_metres(sib.geom)
        sibling_shapes.append(s_m)
        if not g_m.intersects(s_m):
            continue
        overlap = polygonal(g_m.intersection(s_m))
        if overlap.area <= OUTSIDE_EPSILON_M2:
            continue
        if not overlap.buffer(-tol / 2).is_empty:
            check.error(
                "overlap",
                _("与同级“%(name)s”重叠约 %(a)s（重叠宽度超过允许误差 %(t)s）")
                % {"name": sib.name, "a": _fmt_m2(overlap.area), "t": _fmt_m(tol)},
                proj.to_lonlat(overlap),
            )
        else:
            check.warn(
                "sliver_overlap",
                _("与同级“%(name)s”有约 %(a)s 的细小重叠（宽度不超过 %(t)s，已允许）")
                % {"name": sib.name, "a": _fmt_m2(overlap.area), "t": _fmt_m(tol)},
            )

    # --- children left outside ----------------------------------------------------------------
    if area.pk:
        grown = g_m.buffer(tol)
        for child in hood.children_of(area):
            if child.geom is None:
                continue
            left_out = polygonal(proj.to_metres(child.geom).difference(grown))
            if left_out.area > OUTSIDE_EPSILON_M2:
                check.warn(
                    "child_outside",
                    _("下级“%(name)s”有约 %(a)s 在新边界之外，请随后调整下级边界")
                    % {"name": child.name, "a": _fmt_m2(left_out.area)},
                    proj.to_lonlat(left_out),
                )

    # --- gaps in the parent's cover -----------------------------------------------------------
    if p_m is not None:
        gap = drop_slivers(p_m.difference(shapely.union_all([g_m, *sibling_shapes])), tol)
        missing = sum(1 for s in siblings if s.geom is None)
        if gap.area > tol * tol:
            message = _("上级“%(name)s”内还有约 %(a)s（%(n)d 处）未划入任何下级区域") % {
                "name": parent_name,
                "a": _fmt_m2(gap.area),
                "n": len(shapely.get_parts(gap)),
            }
            if missing:
                message += _("；另有 %(n)d 个同级区域尚无边界") % {"n": missing}
            check.warn("gaps", message, proj.to_lonlat(gap))
    return check


# =============================================================================================
# Permissions
# =============================================================================================


def can_edit_boundaries(user, area: Area) -> bool:
    """Superusers, and users with an admin post whose subtree holds `area`."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    from staff.choices import Role
    from staff.selectors import posts_of

    for post in posts_of(user):
        node = post.area
        if post.role == Role.ADMIN and node is not None and node.is_active:
            if node.tree_id == area.tree_id and node.lft <= area.lft and area.rght <= node.rght:
                return True
    return False


def boundary_admin_q(user) -> Q:
    """Areas whose boundaries `user` may edit, as a filter on Area."""
    if user.is_superuser:
        return Q()
    from staff.choices import Role
    from staff.selectors import posts_of

    q = Q(pk__in=[])
    for post in posts_of(user):
        node = post.area
        if post.role == Role.ADMIN and node is not None and node.is_active:
            q |= Q(tree_id=node.tree_id, lft__gte=node.lft, rght__lte=node.rght)
    return q


# =============================================================================================
# Versions
# =============================================================================================


def current_version(area: Area, on: dt.date | None = None) -> BoundaryVersion | None:
    """The version in force on `on` (default today): latest effective date not after it, then
    the highest number."""
    on = on or timezone.localdate()
    return (
        BoundaryVersion.objects.filter(area=area, effective_from__lte=on).order_by("-effective_from", "-number").first()
    )


def _sync_area(area: Area, on: dt.date | None = None) -> bool:
    """Copy the version in force into Area.boundary; True if it changed."""
    version = current_version(area, on)
    geometry = version.geometry if version else None
    if Area.objects.filter(pk=area.pk).values_list("boundary", flat=True).first() == geometry:
        return False
    Area.objects.filter(pk=area.pk).update(boundary=geometry, updated_at=timezone.now())
    area.boundary = geometry
    return True


def sync_effective_boundaries(on: dt.date | None = None) -> int:
    """Make Area.boundary follow versions whose effective date has come (run daily). Returns the
    number of areas changed."""
    on = on or timezone.localdate()
    area_ids = BoundaryVersion.objects.filter(effective_from=on).values_list("area_id", flat=True).distinct()
    changed = 0
    with tree_write_lock():
        for area in Area.objects.filter(pk__in=list(area_ids)):
            changed += _sync_area(area, on)
    return changed


def _ensure_baseline(area: Area) -> None:
    """An area with a boundary from before versioning (or entered in the Django admin) gets it
    recorded as version 1, so history starts from what was there."""
    if area.boundary and not BoundaryVersion.objects.filter(area=area).exists():
        geom = stored_geometry(area.boundary)
        BoundaryVersion.objects.create(
            area=area,
            number=1,
            geometry=area.boundary,
            area_m2=area_m2(polygonal(geom)),
            effective_from=timezone.localdate(area.created_at) if area.created_at else timezone.localdate(),
            kind=BoundaryChange.IMPORT,
            note=_("版本记录之前已有的边界"),
        )


def _write_version(
    *,
    area: Area,
    geom: BaseGeometry | None,
    kind: str,
    author,
    effective_from: dt.date | None,
    note: str,
) -> BoundaryVersion:
    _ensure_baseline(area)
    effective_from = effective_from or timezone.localdate()
    in_force = current_version(area)
    if in_force is not None and effective_from < in_force.effective_from:
        raise BoundaryError(
            "effective_too_early",
            _("生效日期不能早于当前版本（第 %(n)d 版，%(date)s 起生效）的生效日期")
            % {"n": in_force.number, "date": in_force.effective_from.isoformat()},
        )
    number = (BoundaryVersion.objects.filter(area=area).aggregate(n=Max("number"))["n"] or 0) + 1
    version = BoundaryVersion.objects.create(
        area=area,
        number=number,
        geometry=to_geojson(geom),
        area_m2=round(area_m2(geom), 1) if geom is not None else None,
        effective_from=effective_from,
        kind=kind,
        author=author,
        note=(note or "")[:200],
    )
    _sync_area(area)
    return version


def _same_geometry(a: BaseGeometry | None, b: BaseGeometry | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return bool(shapely.equals_exact(shapely.normalize(a), shapely.normalize(b), tolerance=10**-COORD_DECIMALS))


def _future_warning(check: BoundaryCheck, effective_from: dt.date | None) -> None:
    if effective_from and effective_from > timezone.localdate():
        check.warn(
            "future",
            _("新边界自 %(date)s 起生效，在此之前仍使用当前边界") % {"date": effective_from.isoformat()},
        )


@dataclass
class SaveResult:
    version: BoundaryVersion | None  # None: unchanged, nothing written
    check: BoundaryCheck


def boundary_save(
    *,
    area: Area,
    geometry: Any,
    author,
    effective_from: dt.date | None = None,
    note: str = "",
    kind: str = BoundaryChange.EDIT,
) -> SaveResult:
    """Validate and save a new boundary version of `area`. Raises BoundaryInvalid (nothing
    written) when the check has errors; an unchanged boundary writes nothing."""
    with tree_write_lock():
        area = Area.objects.select_related("parent").get(pk=area.pk)
        check = check_boundary(area, geometry)
        if not check.ok:
            raise BoundaryInvalid(check)
        if _same_geometry(check.geometry, stored_geometry(area.boundary)) and (
            effective_from is None or effective_from <= timezone.localdate()
        ):
            check.warn("unchanged", _("边界没有变化，未保存新版本"))
            return SaveResult(None, check)
        _future_warning(check, effective_from)
        version = _write_version(
            area=area, geom=check.geometry, kind=kind, author=author, effective_from=effective_from, note=note
        )
    return SaveResult(version, check)


def boundary_remove(*, area: Area, author, effective_from: dt.date | None = None, note: str = "") -> BoundaryVersion:
    with tree_write_lock():
        area = Area.objects.get(pk=area.pk)
        return _write_version(
            area=area, geom=None, kind=BoundaryChange.REMOVE, author=author, effective_from=effective_from, note=note
        )


# --- split and merge ------------------------------------------------------------------------


@dataclass
class SplitResult:
    area: Area
    target: Area
    area_version: BoundaryVersion
    target_version: BoundaryVersion
    created: bool
    checks: list[BoundaryCheck]


def _create_sibling(area: Area, code: str, name: str) -> Area:
    new = Area(code=(code or "").strip(), name=(name or "").strip(), level=area.level, parent=area.parent)
    try:
        new.full_clean()
    except ValidationError as exc:
        messages = [m for msgs in exc.message_dict.values() for m in msgs]
        raise BoundaryError("bad_new_area", _("新区域无法创建：%(reason)s") % {"reason": "；".join(messages)}) from None
    new.save()
    return new


def boundary_split(
    *,
    area: Area,
    remaining: Any,
    author,
    target: Area | None = None,
    new_code: str = "",
    new_name: str = "",
    effective_from: dt.date | None = None,
    note: str = "",
) -> SplitResult:
    """Cut `area` in two: it keeps `remaining` (its boundary after geoman's cut), and the part cut
    off — current boundary minus `remaining` — goes to `target`, an existing sibling (added to its
    boundary) or a new sibling created here with `new_code`/`new_name` at the same level. Both
    boundaries are checked together; on any error nothing is written (not even the new area)."""
    tol = tolerance_m()
    with tree_write_lock():
        area = Area.objects.select_related("parent").get(pk=area.pk)
        current = stored_geometry(area.boundary)
        if current is None:
            raise BoundaryError("no_boundary", _("该区域还没有边界，无法拆分；请先绘制并保存边界"))
        rest_check = BoundaryCheck(area=area)
        try:
            rest = parse_geometry(remaining)
        except BoundaryError as exc:
            raise BoundaryError(exc.code, _("拆分后的边界有误：%(m)s") % {"m": exc.message}) from None
        rest = _validity(rest_check, rest, tol)
        if rest is None:
            raise BoundaryInvalid(rest_check)
        proj = LocalProjection.around(current)
        cur_m, rest_m = proj.to_metres(current), proj.to_metres(rest)
        if polygonal(rest_m.difference(cur_m.buffer(tol))).area > OUTSIDE_EPSILON_M2:
            raise BoundaryError("split_outside", _("拆分后的边界超出了原边界：拆分只能从原边界中切出一部分"))
        piece_m = drop_slivers(cur_m.difference(rest_m), tol)
        if piece_m.is_empty:
            raise BoundaryError("split_empty", _("没有切出任何部分：请先用“切割”工具在边界上切出要分出去的一块"))
        piece = shapely.set_precision(proj.to_lonlat(piece_m), 10**-COORD_DECIMALS, mode="pointwise")
        created = False
        if target is None:
            target = _create_sibling(area, new_code, new_name)
            created = True
        else:
            target = Area.objects.get(pk=target.pk)
            if target.parent_id != area.parent_id or target.pk == area.pk:
                raise BoundaryError("not_sibling", _("拆出的部分只能归入同一上级下的其他区域"))
        target_current = stored_geometry(target.boundary)
        target_geom = piece if target_current is None else polygonal(shapely.union_all([target_current, piece]))
        checks = [
            check_boundary(area, rest, overrides={target.pk: target_geom}),
            check_boundary(target, target_geom, overrides={area.pk: rest}),
        ]
        if not all(c.ok for c in checks):
            raise BoundaryInvalid(*checks)
        note = note or _("“%(a)s”拆分，切出部分归入“%(b)s”") % {"a": area.name, "b": target.name}
        v1 = _write_version(
            area=area,
            geom=checks[0].geometry,
            kind=BoundaryChange.SPLIT,
            author=author,
            effective_from=effective_from,
            note=note,
        )
        v2 = _write_version(
            area=target,
            geom=checks[1].geometry,
            kind=BoundaryChange.SPLIT,
            author=author,
            effective_from=effective_from,
            note=note,
        )
    return SplitResult(area, target, v1, v2, created, checks)


@dataclass
class MergeResult:
    keep: Area
    absorbed: Area
    keep_version: BoundaryVersion
    absorbed_version: BoundaryVersion
    check: BoundaryCheck


def boundary_merge(
    *, keep: Area, absorb: Area, author, effective_from: dt.date | None = None, note: str = ""
) -> MergeResult:
    """Merge two sibling boundaries into `keep`; `absorb` loses its boundary (a version with no
    geometry). Gaps narrower than the tolerance between the two are closed."""
    tol = tolerance_m()
    with tree_write_lock():
        keep = Area.objects.select_related("parent").get(pk=keep.pk)
        absorb = Area.objects.get(pk=absorb.pk)
        if keep.pk == absorb.pk or keep.parent_id != absorb.parent_id:
            raise BoundaryError("not_sibling", _("只能合并同一上级下的两个不同区域"))
        other = stored_geometry(absorb.boundary)
        if other is None:
            raise BoundaryError("no_boundary", _("“%(name)s”没有边界，无需合并") % {"name": absorb.name})
        mine = stored_geometry(keep.boundary)
        merged = polygonal(shapely.union_all([g for g in (mine, other) if g is not None]))
        closed_gap = False
        if isinstance(merged, MultiPolygon):
            proj = LocalProjection.around(merged)
            m = proj.to_metres(merged)
            closed = polygonal(m.buffer(tol / 2, join_style="mitre").buffer(-tol / 2, join_style="mitre"))
            if isinstance(closed, Polygon) and abs(closed.area - m.area) <= max(tol * tol, 0.01 * m.area):
                merged = shapely.set_precision(proj.to_lonlat(closed), 10**-COORD_DECIMALS, mode="pointwise")
                closed_gap = True
        check = check_boundary(keep, merged, overrides={absorb.pk: None})
        if not check.ok:
            raise BoundaryInvalid(check)
        if closed_gap:
            check.warn("gap_closed", _("两块之间不超过 %(t)s 的缝隙已闭合") % {"t": _fmt_m(tol)})
        elif isinstance(check.geometry, MultiPolygon):
            check.warn(
                "not_contiguous",
                _("合并后的区域由 %(n)d 块不相连的部分组成") % {"n": len(check.geometry.geoms)},
            )
        note = note or _("“%(b)s”并入“%(a)s”") % {"a": keep.name, "b": absorb.name}
        v1 = _write_version(
            area=keep,
            geom=check.geometry,
            kind=BoundaryChange.MERGE,
            author=author,
            effective_from=effective_from,
            note=note,
        )
        v2 = _write_version(
            area=absorb, geom=None, kind=BoundaryChange.MERGE, author=author, effective_from=effective_from, note=note
        )
    return MergeResult(keep, absorb, v1, v2, check)


# --- comparison -----------------------------------------------------------------------------


@dataclass
class Comparison:
    a: BoundaryVersion
    b: BoundaryVersion
    area_a_m2: float
    area_b_m2: float
    added_m2: float  # inside b, not inside a
    removed_m2: float  # inside a, not inside b
    added: dict | None
    removed: dict | None

    @property
    def difference_m2(self) -> float:
        return self.area_b_m2 - self.area_a_m2


def compare_versions(a: BoundaryVersion, b: BoundaryVersion) -> Comparison:
    ga, gb = stored_geometry(a.geometry), stored_geometry(b.geometry)
    base = ga if ga is not None else gb
    if base is None:
        return Comparison(a, b, 0.0, 0.0, 0.0, 0.0, None, None)
    proj = LocalProjection.around(base)
    ma = proj.to_metres(ga) if ga is not None else MultiPolygon()
    mb = proj.to_metres(gb) if gb is not None else MultiPolygon()
    added = polygonal(mb.difference(ma)) if not mb.is_empty else MultiPolygon()
    removed = polygonal(ma.difference(mb)) if not ma.is_empty else MultiPolygon()
    return Comparison(
        a,
        b,
        ma.area,
        mb.area,
        added.area,
        removed.area,
        to_geojson(proj.to_lonlat(added)) if not added.is_empty else None,
        to_geojson(proj.to_lonlat(removed)) if not removed.is_empty else None,
    )


# =============================================================================================
# Reassigning open cases by location
# =============================================================================================


def households_note() -> str:
    return _("户没有登记经纬度，无法按位置调整所属网格；如需调整，请在户管理中逐户修改所属区域")


# Levels a case may be filed in; a located area of another level (a village outside every grid)
# is not a destination.
CASE_LEVELS = (*GRID_LEVELS, AreaLevel.GROUP)


@dataclass(frozen=True)
class CaseMove:
    case_id: int
    number: str
    title: str
    state_label: str
    from_area: Area
    to_area: Area


@dataclass
class ReassignPlan:
    root: Area
    moves: list[CaseMove]
    unplaced: list[tuple[int, str, str, str]]  # (case id, number, title, reason)
    without_coordinates: int
    checked: int

    @property
    def households_note(self) -> str:
        return households_note()


def _owner_after(case, old_area: Area, new_area: Area) -> Area | None:
    """The case's owning area after the move: an owner on the old area's own chain that is not on
    the new one moves to the new chain at the same level; anything else stays."""
    owner = case.owner_area
    if case.owner_department_id or owner is None:
        return owner
    old_chain = list(old_area.get_ancestors(include_self=True))
    if owner.pk not in {a.pk for a in old_chain}:
        return owner
    new_chain = list(new_area.get_ancestors(include_self=True))
    if owner.pk in {a.pk for a in new_chain}:
        return owner
    rank = LEVEL_RANK[owner.level]
    for node in reversed(new_chain):
        if LEVEL_RANK[node.level] <= rank:
            return node
    return owner


@transaction.atomic
def case_reassign_area(*, case_id: int, area: Area, actor, note: str = ""):
    """Move one case to `area` after a boundary change: area and path columns, the owning area when
    it was the old grid's chain, `version` bumped (stale forms see a conflict), and an event row —
    action "reassign_area" (调整所属网格) with the note 边界调整，所属网格由 X 改为 Y."""
    from cases.models import Case, CaseEvent

    case = Case.objects.select_for_update().get(pk=case_id)  # no outer joins under FOR UPDATE
    old_area = case.area
    if old_area.pk == area.pk:
        return case
    owner_before = case.owner_label
    new_owner = _owner_after(case, old_area, area)
    case.area = area
    set_path(case, area)
    case.owner_area = new_owner
    case.version += 1
    case.save(update_fields=["area", *PATH_FIELDS, "owner_area", "version", "updated_at"])
    last = case.events.order_by("-seq").values_list("seq", flat=True).first() or 0
    CaseEvent.objects.create(
        case=case,
        seq=last + 1,
        action="reassign_area",
        actor=actor,
        from_state=case.state,
        to_state=case.state,
        owner_before=owner_before[:120],
        owner_after=case.owner_label[:120],
        note=(note or _("边界调整，所属网格由 %(old)s 改为 %(new)s") % {"old": old_area.name, "new": area.name}),
        data={"reason": "boundary", "old_area_id": old_area.pk, "new_area_id": area.pk},
    )
    return case


def reassignment_plan(*, root: Area) -> ReassignPlan:
    """Open cases filed in `root`'s subtree (with coordinates) whose location now lies in another
    grid of the subtree. A case filed in a group stays when its point is in the group's grid (groups
    rarely have boundaries); a point outside every grid is listed as not placed."""
    from cases.choices import OPEN_STATES, CaseState
    from cases.models import Case

    from .locate import LocateIndex

    root = Area.objects.get(pk=root.pk)  # fresh tree fields: a split may have just added a child
    subtree = Area.objects.filter(tree_id=root.tree_id, lft__gte=root.lft, rght__lte=root.rght, is_active=True)
    index = LocateIndex.from_queryset(subtree)
    areas = {a.pk: a for a in subtree}
    cases = (
        Case.objects.filter(
            state__in=OPEN_STATES,
            area__tree_id=root.tree_id,
            area__lft__gte=root.lft,
            area__rght__lte=root.rght,
        )
        .select_related("area")
        .order_by("created_at", "pk")
    )
    plan = ReassignPlan(root=root, moves=[], unplaced=[], without_coordinates=0, checked=0)
    labels = dict(CaseState.choices)
    for case in cases.iterator():
        if case.latitude is None or case.longitude is None:
            plan.without_coordinates += 1
            continue
        plan.checked += 1
        hits = [areas[i] for i in index.candidates(float(case.longitude), float(case.latitude)) if i in areas]
        destination = next((a for a in hits if a.level in CASE_LEVELS), None)
        if destination is None:
            plan.unplaced.append((case.pk, case.number, case.title, _("位置不在任何网格的边界内")))
            continue
        current = case.area
        # Filed in the located grid, in a group of it, or in the grid of the located group: the
        # case is where it belongs.
        if destination.tree_id == current.tree_id and (
            destination.lft <= current.lft <= current.rght <= destination.rght
            or current.lft <= destination.lft <= destination.rght <= current.rght
        ):
            continue
        plan.moves.append(
            CaseMove(case.pk, case.number, case.title, labels.get(case.state, case.state), current, destination)
        )
    return plan


def reassign_cases(*, root: Area, actor, case_ids: Iterable[int] | None = None) -> list[CaseMove]:
    """Apply the plan (recomputed now, so it cannot act on a stale preview); with `case_ids`, only
    the cases the admin confirmed in the preview that still need moving. One transaction."""
    wanted = set(case_ids) if case_ids is not None else None
    done = []
    with transaction.atomic():
        for move in reassignment_plan(root=root).moves:
            if wanted is not None and move.case_id not in wanted:
                continue
            case_reassign_area(case_id=move.case_id, area=move.to_area, actor=actor)
            done.append(move)
    return done


# =============================================================================================
# Export
# =============================================================================================


def subtree_feature_collection(root: Area, *, user=None, include_empty: bool = False) -> dict:
    """The boundaries of `root` and its descendants (limited to `user`'s scope when given) as a
    FeatureCollection, in tree order; properties name the area and the version in force."""
    today = timezone.localdate()
    root = Area.objects.get(pk=root.pk)
    qs = Area.objects.filter(tree_id=root.tree_id, lft__gte=root.lft, rght__lte=root.rght)
    if user is not None:
        qs = qs.visible_to(user)
    if not include_empty:
        qs = qs.filter(boundary__isnull=False)
    in_force = BoundaryVersion.objects.filter(area=OuterRef("pk"), effective_from__lte=today).order_by(
        "-effective_from", "-number"
    )
    qs = qs.annotate(
        version_number=Subquery(in_force.values("number")[:1]),
        version_effective=Subquery(in_force.values("effective_from")[:1]),
    ).select_related("parent")
    features = []
    for a in qs.order_by("tree_id", "lft"):
        if a.boundary is None and not include_empty:
            continue
        features.append(
            {
                "type": "Feature",
                "id": a.code,
                "geometry": a.boundary,
                "properties": {
                    "code": a.code,
                    "name": a.name,
                    "level": a.level,
                    "parent_code": a.parent.code if a.parent_id else None,
                    "version": a.version_number,
                    "effective_from": a.version_effective.isoformat() if a.version_effective else None,
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def export_boundaries(root_code: str | None = None) -> dict:
    """Every tree (or the subtree of `root_code`) as one FeatureCollection."""
    if root_code:
        root = Area.objects.filter(code=root_code).first()
        if root is None:
            raise BoundaryError("unknown_root", _("编码 %(code)s 不存在") % {"code": root_code})
        return subtree_feature_collection(root)
    features = []
    for root in Area.objects.root_nodes().order_by("code"):
        features.extend(subtree_feature_collection(root)["features"])
    return {"type": "FeatureCollection", "features": features}


# =============================================================================================
# Import
# =============================================================================================

CODE_KEYS = ("code", "编码", "区域编码")
NAME_KEYS = ("name", "名称", "区域名称")


class BoundaryFileError(Exception):
    """The file cannot be read as GeoJSON at all."""


@dataclass
class FeatureResult:
    index: int  # 1-based position in the file
    code: str
    name: str
    status: str = "matched"  # matched | unchanged | unmatched | invalid
    area: Area | None = None
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    area_m2: float | None = None
    geometry: BaseGeometry | None = None

    STATUS_LABELS = {
        "matched": gettext_lazy("匹配"),
        "unchanged": gettext_lazy("未变"),
        "unmatched": gettext_lazy("未匹配"),
        "invalid": gettext_lazy("无效"),
    }

    @property
    def status_label(self) -> str:
        return str(self.STATUS_LABELS[self.status])

    @property
    def label(self) -> str:
        return self.code or self.name or _("（无编码和名称）")

    def __str__(self) -> str:
        text = _("第 %(n)d 个要素（%(label)s）：%(status)s") % {
            "n": self.index,
            "label": self.label,
            "status": self.status_label,
        }
        if self.reasons:
            text += " — " + "；".join(self.reasons)
        return text


@dataclass
class BoundaryImportReport:
    features: list[FeatureResult] = field(default_factory=list)
    dry_run: bool = False
    applied: bool = False
    versions: int = 0

    def _with(self, status: str) -> list[FeatureResult]:
        return [f for f in self.features if f.status == status]

    @property
    def matched(self) -> list[FeatureResult]:
        return self._with("matched")

    @property
    def unchanged(self) -> list[FeatureResult]:
        return self._with("unchanged")

    @property
    def unmatched(self) -> list[FeatureResult]:
        return self._with("unmatched")

    @property
    def invalid(self) -> list[FeatureResult]:
        return self._with("invalid")

    @property
    def ok(self) -> bool:
        return bool(self.features) and not self.unmatched and not self.invalid

    def summary(self) -> str:
        return _("共 %(total)d 个要素：匹配 %(m)d，未变 %(u)d，未匹配 %(x)d，无效 %(i)d") % {
            "total": len(self.features),
            "m": len(self.matched),
            "u": len(self.unchanged),
            "x": len(self.unmatched),
            "i": len(self.invalid),
        }

    def failure_message(self) -> str:
        if not self.features:
            return _("文件中没有任何要素，未写入任何数据")
        return _("导入失败：%(x)d 个要素未匹配，%(i)d 个无效，未写入任何数据") % {
            "x": len(self.unmatched),
            "i": len(self.invalid),
        }


def read_feature_collection(source: str | Path | bytes | dict) -> list[dict]:
    """Features from a GeoJSON file (path), its bytes, or a parsed dict. A single Feature counts as
    a collection of one. Raises BoundaryFileError when the file cannot be used at all."""
    if isinstance(source, dict):
        data = source
    else:
        if isinstance(source, bytes):
            raw = source
        else:
            path = Path(source)
            if not path.is_file():
                raise BoundaryFileError(_("文件不存在：%(path)s") % {"path": path})
            raw = path.read_bytes()
        try:
            data = json.loads(raw.decode("utf-8-sig"))
        except UnicodeDecodeError:
            raise BoundaryFileError(_("文件编码应为 UTF-8")) from None
        except ValueError as exc:
            raise BoundaryFileError(_("不是有效的 JSON：%(error)s") % {"error": exc}) from None
    if not isinstance(data, dict):
        raise BoundaryFileError(_("GeoJSON 顶层应为 FeatureCollection"))
    if data.get("type") == "Feature":
        return [data]
    if data.get("type") != "FeatureCollection" or not isinstance(data.get("features"), list):
        raise BoundaryFileError(_("GeoJSON 顶层应为 FeatureCollection"))
    return data["features"]


def _prop(properties: dict, keys: tuple[str, ...]) -> str:
    for key in keys:
        value = properties.get(key)
        if value is not None and str(value).strip():
            value = value if not isinstance(value, float) or not value.is_integer() else int(value)
            return str(value).strip()
    return ""


class _AreaLookup:
    """The areas a file names, read in two queries (by code, by name) instead of one per feature."""

    def __init__(self, results: list[FeatureResult], editable: Q | None) -> None:
        codes = {r.code for r in results if r.code}
        names = {r.name for r in results if not r.code and r.name}
        self.by_code = {a.code: a for a in Area.objects.filter(code__in=codes)}
        self.by_name: dict[str, list[Area]] = {}
        for a in Area.objects.filter(name__in=names).order_by("code"):
            self.by_name.setdefault(a.name, []).append(a)
        found = [*self.by_code.values(), *(a for group in self.by_name.values() for a in group)]
        if editable is None:
            self.editable = {a.pk for a in found}
        else:
            self.editable = set(
                Area.objects.filter(editable, pk__in=[a.pk for a in found]).values_list("pk", flat=True)
            )

    def match(self, result: FeatureResult) -> None:
        if result.code:
            area = self.by_code.get(result.code)
            if area is None:
                result.status = "unmatched"
                result.reasons.append(_("编码 %(code)s 不存在") % {"code": result.code})
                return
        elif result.name:
            found = self.by_name.get(result.name, [])
            if not found:
                result.status = "unmatched"
                result.reasons.append(_("名称“%(name)s”不存在") % {"name": result.name})
                return
            if len(found) > 1:
                result.status = "unmatched"
                result.reasons.append(
                    _("名称“%(name)s”对应多个区域，请在 properties.code 中给出编码") % {"name": result.name}
                )
                return
            area = found[0]
        else:
            result.status = "unmatched"
            result.reasons.append(_("要素没有 properties.code 或 properties.name，无法对应到区域"))
            return
        if area.pk not in self.editable:
            result.status = "unmatched"
            result.reasons.append(_("区域 %(code)s 不在您的管理范围内") % {"code": area.code})
            return
        result.area = area


def import_boundaries(
    source: str | Path | bytes | dict,
    *,
    dry_run: bool = False,
    effective_from: dt.date | None = None,
    author=None,
    user=None,
    note: str = "",
) -> BoundaryImportReport:
    """Match every feature to an area (properties.code; else properties.name when it names exactly
    one area), validate every geometry against the tree as it will be after the import, and — only
    if every feature matched and is valid — write a version per changed boundary, all in one
    transaction. With `user`, only areas whose boundaries that user may edit are matched. Raises
    BoundaryFileError only when the file cannot be read."""
    report = BoundaryImportReport(dry_run=dry_run)
    features = read_feature_collection(source)
    editable = boundary_admin_q(user) if user is not None and not user.is_superuser else None
    tol = tolerance_m()
    with tree_write_lock():
        for index, feature in enumerate(features, start=1):
            properties = (feature.get("properties") if isinstance(feature, dict) else None) or {}
            if not isinstance(properties, dict):
                properties = {}
            report.features.append(
                FeatureResult(index=index, code=_prop(properties, CODE_KEYS), name=_prop(properties, NAME_KEYS))
            )
        lookup = _AreaLookup(report.features, editable)
        seen: dict[int, int] = {}
        for result, feature in zip(report.features, features, strict=True):
            if not isinstance(feature, dict) or feature.get("type") != "Feature":
                result.status = "invalid"
                result.reasons.append(_("不是 GeoJSON 要素（Feature）"))
                continue
            lookup.match(result)
            if result.area is None:
                continue
            if result.area.pk in seen:
                result.status = "invalid"
                result.reasons.append(_("与第 %(n)d 个要素对应同一区域") % {"n": seen[result.area.pk]})
                continue
            seen[result.area.pk] = result.index
            _read_feature_geometry(result, feature.get("geometry"), tol)
        _check_effective_dates(report.matched, effective_from)
        # Every feature is checked against its parent and siblings as they will be after the import.
        snapshot = TreeSnapshot.whole({r.area.pk: r.geometry for r in report.matched})
        for result in report.matched:
            check = check_boundary(result.area, result.geometry, tolerance=tol, snapshot=snapshot)
            result.warnings = [i.message for i in check.warnings]
            result.area_m2 = check.area_m2
            if not check.ok:
                result.status = "invalid"
                result.reasons.extend(i.message for i in check.errors)
                continue
            result.geometry = check.geometry
            if _same_geometry(check.geometry, stored_geometry(result.area.boundary)):
                result.status = "unchanged"
        if not report.ok or dry_run:
            return report
        report.versions = _write_versions_bulk(
            [(r.area, r.geometry) for r in report.matched],
            kind=BoundaryChange.IMPORT,
            author=author,
            effective_from=effective_from,
            note=note or _("GeoJSON 导入"),
        )
        report.applied = True
    return report


def _read_feature_geometry(result: FeatureResult, data: Any, tol: float) -> None:
    """Parse and clean one feature's geometry (the tree checks come later, with every feature
    known); a problem marks the feature invalid."""
    try:
        geom = parse_geometry(data)
    except BoundaryError as exc:
        result.status = "invalid"
        result.reasons.append(exc.message)
        return
    probe = BoundaryCheck(area=result.area)
    if problem := _coordinate_problem(geom, None):
        probe.error(*problem)
    else:
        geom = _validity(probe, geom, tol)
    if probe.errors:
        result.status = "invalid"
        result.reasons.extend(i.message for i in probe.errors)
        return
    result.geometry = geom


def _check_effective_dates(results: list[FeatureResult], effective_from: dt.date | None) -> None:
    """A new version may not take effect before the one in force (one query for all areas)."""
    today = timezone.localdate()
    start = effective_from or today
    in_force = dict(
        BoundaryVersion.objects.filter(area_id__in=[r.area.pk for r in results], effective_from__lte=today)
        .values("area_id")
        .annotate(latest=Max("effective_from"))
        .values_list("area_id", "latest")
    )
    for result in results:
        latest = in_force.get(result.area.pk)
        if latest is not None and start < latest:
            result.status = "invalid"
            result.reasons.append(_("生效日期早于当前版本的生效日期（%(date)s）") % {"date": latest.isoformat()})


def _write_versions_bulk(
    items: list[tuple[Area, BaseGeometry]], *, kind: str, author, effective_from: dt.date | None, note: str
) -> int:
    """Many new versions at once (an import): a handful of queries instead of several per area.
    The caller has checked the effective dates. Returns the number of versions written."""
    from .locate import invalidate

    if not items:
        return 0
    today = timezone.localdate()
    start = effective_from or today
    ids = [a.pk for a, _g in items]
    numbers = dict(
        BoundaryVersion.objects.filter(area_id__in=ids)
        .values("area_id")
        .annotate(n=Max("number"))
        .values_list("area_id", "n")
    )
    baseline = [a for a, _g in items if a.boundary and a.pk not in numbers]
    for a in baseline:
        _ensure_baseline(a)
        numbers[a.pk] = 1
    versions = []
    changed = []
    now = timezone.now()
    for area, geom in items:
        geometry = to_geojson(geom)
        versions.append(
            BoundaryVersion(
                area=area,
                number=numbers.get(area.pk, 0) + 1,
                geometry=geometry,
                area_m2=round(area_m2(geom), 1) if geom is not None else None,
                effective_from=start,
                kind=kind,
                author=author,
                note=(note or "")[:200],
            )
        )
        if start <= today:
            area.boundary = geometry
            area.updated_at = now
            changed.append(area)
    BoundaryVersion.objects.bulk_create(versions, batch_size=500)
    Area.objects.bulk_update(changed, ["boundary", "updated_at"], batch_size=500)
    invalidate()  # bulk writes send no signals; other processes see the new version ids
    return len(versions)


def require_editor(user, area: Area) -> None:
    if not can_edit_boundaries(user, area):
        raise PermissionDenied(_("只有管理员可以修改区域边界"))
