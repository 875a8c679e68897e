"""Boundaries drawn in metres around a point of 淳安县, converted to WGS 84 for the services.

    y (m)
  10000 ┌──────────── county ───────────┐
        │ special_a      │              │
   6000 ├────────┬───────┤  town_b      │
        │ grid_a │(free) │  = zone_b    │
        │        │       │  = grid_b    │
      0 └────────┴───────┴──────────────┘
        0      2500    5000          10000  x (m)

town_a = x 0–5000; zone_a = village_a = x 0–5000, y 0–6000; grid_a = x 0–2500 of the village.
"""

import pytest

from grids import locate
from grids.boundaries import LocalProjection, boundary_save
from grids.models import Area
from staff.choices import Role

ORIGIN = LocalProjection(119.0, 29.6)


def lonlat(x: float, y: float) -> tuple[float, float]:
    """(lon, lat) of the point x metres east and y metres north of the origin."""
    kx, ky = ORIGIN._k
    return (ORIGIN.lon0 + x / kx, ORIGIN.lat0 + y / ky)


def ring(*points: tuple[float, float]) -> list[list[float]]:
    coords = [list(lonlat(x, y)) for x, y in points]
    return [*coords, coords[0]]


def rect(x0: float, y0: float, x1: float, y1: float, *holes: tuple[float, float, float, float]) -> dict:
    rings = [ring((x0, y0), (x1, y0), (x1, y1), (x0, y1))]
    rings += [ring((a, b), (a, d), (c, d), (c, b)) for a, b, c, d in holes]
    return {"type": "Polygon", "coordinates": rings}


def polygon(*points: tuple[float, float]) -> dict:
    return {"type": "Polygon", "coordinates": [ring(*points)]}


LAYOUT = {
    "county": rect(0, 0, 10000, 10000),
    "town_a": rect(0, 0, 5000, 10000),
    "town_b": rect(5000, 0, 10000, 10000),
    "zone_a": rect(0, 0, 5000, 6000),
    "special_a": rect(0, 6000, 5000, 10000),
    "village_a": rect(0, 0, 5000, 6000),
    "grid_a": rect(0, 0, 2500, 6000),
    "zone_b": rect(5000, 0, 10000, 10000),
    # grid_b has a lake (a hole) in its middle.
    "grid_b": rect(5000, 0, 10000, 10000, (7000, 4000, 8000, 5000)),
}


@pytest.fixture(autouse=True)
def _fresh_locate_index():
    locate.invalidate()
    yield
    locate.invalidate()


@pytest.fixture
def admin(tree):
    return tree.users[Role.ADMIN]


@pytest.fixture
def geo(tree, admin):
    """The tree with the boundaries of LAYOUT saved through the service (parents first)."""
    for key, geometry in LAYOUT.items():
        boundary_save(area=tree[key], geometry=geometry, author=admin)
    for a in tree.areas.values():
        a.refresh_from_db()
    return tree


def add_grid(tree, code_suffix: str, name: str, parent_key: str = "village_a") -> Area:
    parent = tree[parent_key]
    return Area.objects.create(code=parent.code + code_suffix, name=name, level="grid", parent=parent)
