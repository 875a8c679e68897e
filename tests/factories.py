"""factory_boy factories and a small two-town tree used across the suite."""

import itertools
from dataclasses import dataclass, field

import factory
from django.contrib.auth import get_user_model

from gridgov.pii import id_check_char
from grids.choices import AreaLevel
from grids.models import Area, Household, Resident
from grids.paths import set_path
from staff.choices import DepartmentKind, Role
from staff.models import Department, Post

User = get_user_model()
_seq = itertools.count(1)


def make_id_number(region: str = "330127", birth: str = "19800101", seq: int | None = None) -> str:
    """A valid 18-character ID number (correct check character)."""
    seq = next(_seq) % 1000 if seq is None else seq
    first17 = f"{region}{birth}{seq:03d}"
    return first17 + id_check_char(first17)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw-123456")


def area(code: str, name: str, level: str, parent: Area | None = None) -> Area:
    return Area.objects.create(code=code, name=name, level=level, parent=parent)


class HouseholdFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Household

    code = factory.Sequence(lambda n: f"H{n:08d}")
    address = factory.Sequence(lambda n: f"幸福路 {n} 号")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        obj = model_class(*args, **kwargs)
        set_path(obj)
        obj.save()
        return obj


class ResidentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Resident

    name = factory.Sequence(lambda n: f"居民{n}")
    id_number = factory.LazyFunction(make_id_number)
    phone = factory.Sequence(lambda n: f"138{n:08d}")


@dataclass
class Tree:
    """County 330127 with two towns. Town A: zone → village → grid (+ group) and a special grid;
    town B: one zone, one grid. One household with one resident in every grid/group; a user per
    role in town A, a grid worker in town B."""

    areas: dict[str, Area] = field(default_factory=dict)
    households: dict[str, Household] = field(default_factory=dict)
    residents: dict[str, Resident] = field(default_factory=dict)
    users: dict[str, object] = field(default_factory=dict)
    departments: dict[str, Department] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Area:
        return self.areas[key]


def build_tree() -> Tree:
    t = Tree()
    a = t.areas
    a["county"] = area("330127", "淳安县", AreaLevel.COUNTY)
    a["town_a"] = area("330127100", "千岛湖镇", AreaLevel.TOWN, a["county"])
    a["town_b"] = area("330127101", "文昌镇", AreaLevel.TOWN, a["county"])
    a["zone_a"] = area("330127100001", "城中片区", AreaLevel.ZONE, a["town_a"])
    a["village_a"] = area("330127100201", "梦姑塘村", AreaLevel.VILLAGE, a["zone_a"])
    a["grid_a"] = area("330127100201001", "梦姑塘第一网格", AreaLevel.GRID, a["village_a"])
    a["group_a"] = area("330127100201001001", "上村组", AreaLevel.GROUP, a["grid_a"])
    a["special_a"] = area("330127100002", "工业园专属网格", AreaLevel.SPECIAL_GRID, a["town_a"])
    a["zone_b"] = area("330127101001", "文昌片区", AreaLevel.ZONE, a["town_b"])
    a["grid_b"] = area("330127101001001", "文昌第一网格", AreaLevel.GRID, a["zone_b"])
    for key in ("grid_a", "group_a", "special_a", "grid_b"):
        hh = HouseholdFactory(area=a[key])
        t.households[key] = hh
        t.residents[key] = ResidentFactory(household=hh)
    t.departments["dept_a"] = Department.objects.create(
        code="D100", name="千岛湖镇综合执法队", kind=DepartmentKind.STATION, area=a["town_a"]
    )
    posts = {
        Role.GRID_WORKER: ("grid_a", None),
        Role.GRID_CHIEF: ("grid_a", None),
        Role.ZONE_CHIEF: ("zone_a", None),
        Role.CENTRE_STAFF: ("town_a", None),
        Role.TOWN_LEADER: ("town_a", None),
        Role.DEPARTMENT: (None, "dept_a"),
        Role.COUNTY_OFFICIAL: ("county", None),
        Role.ADMIN: ("county", None),
    }
    for role, (area_key, dept_key) in posts.items():
        user = UserFactory(username=f"a_{role}")
        Post.objects.create(
            user=user,
            role=role,
            area=a[area_key] if area_key else None,
            department=t.departments[dept_key] if dept_key else None,
        )
        t.users[role] = user
    worker_b = UserFactory(username="b_grid_worker")
    Post.objects.create(user=worker_b, role=Role.GRID_WORKER, area=a["grid_b"])
    t.users["worker_b"] = worker_b
    t.users["nobody"] = UserFactory(username="no_post")
    return t
