"""A believable demo place: counties, towns, zones, villages/communities, grids, groups,
households, residents, departments and staff posts.

Everything is derived from one random seed, so `seed_demo --seed 7` builds the same place twice.
Rows are written with bulk_create level by level (MPTT fields rebuilt once at the end), so the
county scale (≈150k households) is minutes on PostgreSQL, and the demo scale seconds on SQLite.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from faker import Faker

from grids.choices import AreaLevel, Relation
from grids.models import Area, Household, Resident, Tag
from grids.paths import PathCache
from grids.tree import tree_write_lock
from staff.choices import DepartmentKind, Role
from staff.models import Department, Post

from .pii import id_check_char

User = get_user_model()

DEMO_PASSWORD = "gridgov-demo"  # printed by the command; refused under production settings
BATCH = 2000


@dataclass(frozen=True)
class Scale:
    counties: int
    towns: int  # per county
    zones_per_town: tuple[int, int]
    villages_per_zone: tuple[int, int]
    grids_per_village: tuple[int, int]
    special_grids_per_town: tuple[int, int]
    groups_per_grid: tuple[int, int]
    households_per_grid: tuple[int, int]
    staff_per_department: tuple[int, int]


SCALES: dict[str, Scale] = {
    # One county, two towns, every level: ≈40 grids, ≈3,000 households.
    "demo": Scale(1, 2, (3, 3), (2, 3), (2, 3), (1, 1), (2, 3), (60, 90), (1, 2)),
    # The seeds' real sizes (001: 14 towns → 111 zones → 949 grids): ≈950 grids, ≈3,000 groups,
    # ≈150k households, ≈2,500 staff posts.
    "county": Scale(1, 15, (7, 8), (3, 4), (2, 3), (1, 2), (3, 3), (130, 160), (6, 10)),
    # Several counties at county scale, for load tests of the multi-tree paths.
    "province": Scale(6, 15, (7, 8), (3, 4), (2, 3), (1, 2), (3, 3), (130, 160), (6, 10)),
}

# Real county and town names of 淳安县 (seed 000) and neighbours, as public place names.
COUNTIES = [
    ("330127", "淳安县"),
    ("330122", "桐庐县"),
    ("330182", "建德市"),
    ("330111", "富阳区"),
    ("330112", "临安区"),
    ("330110", "余杭区"),
]
TOWN_NAMES = [
    "千岛湖镇",
    "文昌镇",
    "石林镇",
    "临岐镇",
    "威坪镇",
    "姜家镇",
    "梓桐镇",
    "汾口镇",
    "中洲镇",
    "大墅镇",
    "枫树岭镇",
    "里商乡",
    "金峰乡",
    "富文乡",
    "左口乡",
    "屏门乡",
    "瑶山乡",
    "王阜乡",
    "宋村乡",
    "鸠坑乡",
    "浪川乡",
    "界首乡",
    "安阳乡",
]
PLACE_CHARS = "青石龙溪桥山源岭塘湾坑坪坞田家上下东西南北新桂梓枫竹梅松柏云桃李金银宝安和富"
VILLAGE_SUFFIX = ["村", "村", "村", "社区"]
GROUP_SUFFIX = ["坞", "坪", "源", "坑", "塘", "湾", "岭", "口", "头", "里"]
STREET_SUFFIX = ["路", "街", "弄", "巷"]
COUNTY_DEPARTMENTS = [
    "县公安局",
    "县住房和城乡建设局",
    "县自然资源和规划局",
    "县市场监督管理局",
    "县生态环境分局",
    "县卫生健康局",
    "县人力资源和社会保障局",
    "县应急管理局",
    "县综合行政执法局",
    "县民政局",
    "县信访局",
    "县水利局",
    "县交通运输局",
    "县农业农村局",
]
TOWN_UNITS = [
    ("派出所", DepartmentKind.STATION),
    ("市场监管所", DepartmentKind.STATION),
    ("综合行政执法队", DepartmentKind.STATION),
    ("司法所", DepartmentKind.STATION),
    ("纠纷调解队", DepartmentKind.SERVICE_TEAM),
    ("为民服务队", DepartmentKind.SERVICE_TEAM),
]
DEMO_LOGINS = [
    ("wanggeyuan", Role.GRID_WORKER, "网格员"),
    ("wanggezhang", Role.GRID_CHIEF, "网格长"),
    ("pianzhang", Role.ZONE_CHIEF, "片长"),
    ("shezhong", Role.CENTRE_STAFF, "社管中心"),
    ("zhenlingdao", Role.TOWN_LEADER, "镇街领导"),
    ("bumen", Role.DEPARTMENT, "部门"),
    ("xianji", Role.COUNTY_OFFICIAL, "县级"),
    ("admin", Role.ADMIN, "管理员"),
]
HOUSEHOLD_TAG_RATES = {"dibao": 0.03, "kunnan": 0.02, "chuzufang": 0.04}
RESIDENT_TAG_RATES = {"canji": 0.02, "liudong": 0.03, "dangyuan": 0.06, "tuiyi-junren": 0.01}


class DemoRefused(Exception):
    pass


class DemoBuilder:
    def __init__(self, scale: str = "demo", seed: int = 1, log=print) -> None:
        self.scale_name = scale
        self.scale = SCALES[scale]
        self.rng = random.Random(seed)
        self.fake = Faker("zh_CN")
        self.fake.seed_instance(seed)
        self.log = log
        self.used_codes: set[str] = set()
        self.used_ids: set[str] = set()
        self.stats: dict[str, int] = {}
        self.logins: list[tuple[str, str, str]] = []
        self.password_hash = make_password(DEMO_PASSWORD)

    # --- helpers ------------------------------------------------------------------------------
    def _between(self, bounds: tuple[int, int]) -> int:
        return self.rng.randint(*bounds)

    def _place(self, n: int = 2) -> str:
        return "".join(self.rng.choice(PLACE_CHARS) for _ in range(n))

    def _unique_name(self, make, taken: set[str]) -> str:
        for _ in range(50):
            name = make()
            if name not in taken:
                taken.add(name)
                return name
        name = make() + str(len(taken))
        taken.add(name)
        return name

    def _id_number(self, region: str, birth: dt.date, male: bool) -> str:
        while True:
            seq = self.rng.randrange(0, 1000)
            if seq % 2 != int(male):
                seq = (seq + 1) % 1000
            first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
            value = first17 + id_check_char(first17)
            if value not in self.used_ids:
                self.used_ids.add(value)
                return value

    def _birth(self, age_low: int, age_high: int) -> dt.date:
        today = dt.date(2026, 1, 1)
        days = self.rng.randint(age_low * 365, age_high * 365)
        return today - dt.timedelta(days=days)

    def _areas(self, rows: list[Area]) -> list[Area]:
        created = Area.objects.bulk_create(rows, batch_size=BATCH)
        for a in created:
            self.paths.add(a)
        return created

    @staticmethod
    def _area(code: str, name: str, level: str, parent: Area | None) -> Area:
        # Tree fields are placeholders; the tree is rebuilt once all levels are written.
        return Area(code=code, name=name, level=level, parent=parent, lft=0, rght=0, tree_id=0, depth=0)

    # --- build --------------------------------------------------------------------------------
    def build(self) -> dict[str, Any]:
        if not getattr(settings, "GRIDGOV_ALLOW_DEMO_USERS", False):
            raise DemoRefused("demo data (with printed passwords) is refused under production settings")
        with tree_write_lock():
            if Area.objects.exists():
                raise DemoRefused("the area table is not empty: demo data goes into an empty database")
            self.paths = PathCache()
            counties = self._build_tree()
            Area.objects.rebuild()  # one pass sets lft/rght/tree_id/depth for every level
            self._build_households()
            self._build_staff(counties)
        return self.stats

    def _build_tree(self) -> list[Area]:
        s = self.scale
        counties = self._areas(
            [self._area(code, name, AreaLevel.COUNTY, None) for code, name in COUNTIES[: s.counties]]
        )
        towns = []
        for county in counties:
            for ti in range(s.towns):
                name = TOWN_NAMES[ti % len(TOWN_NAMES)]
                towns.append(self._area(f"{county.code}{100 + ti:03d}", name, AreaLevel.TOWN, county))
        towns = self._areas(towns)

        zones, specials = [], []
        for town in towns:
            taken: set[str] = set()
            for zi in range(self._between(s.zones_per_town)):
                zname = self._unique_name(lambda: self._place() + "片区", taken)
                zones.append(self._area(f"{town.code}{900 + zi:03d}", zname, AreaLevel.ZONE, town))
            for si in range(self._between(s.special_grids_per_town)):
                kind = self.rng.choice(["工业园区", "景区", "学校", "医院"])
                specials.append(
                    self._area(f"{town.code}{800 + si:03d}", f"{town.name}{kind}专属网格", AreaLevel.SPECIAL_GRID, town)
                )
        zones = self._areas(zones)
        specials = self._areas(specials)

        villages = []
        for town in towns:
            taken = set()
            village_no = {"village": 200, "community": 1}
            for zone in (z for z in zones if z.parent_id == town.pk):
                for _ in range(self._between(s.villages_per_zone)):
                    suffix = self.rng.choice(VILLAGE_SUFFIX)
                    level = AreaLevel.COMMUNITY if suffix == "社区" else AreaLevel.VILLAGE
                    key = "community" if level == AreaLevel.COMMUNITY else "village"
                    code = f"{town.code}{village_no[key]:03d}"
                    village_no[key] += 1
                    vname = self._unique_name(lambda suffix=suffix: self._place() + suffix, taken)
                    villages.append(self._area(code, vname, level, zone))
        villages = self._areas(villages)

        grids = []
        for village in villages:
            for gi in range(self._between(s.grids_per_village)):
                grids.append(
                    self._area(f"{village.code}{gi + 1:03d}", f"{village.name}第{gi + 1}网格", AreaLevel.GRID, village)
                )
        grids = self._areas(grids)

        groups = []
        for grid in grids:
            taken = set()
            for gi in range(self._between(s.groups_per_grid)):
                gname = self._unique_name(lambda: self.fake.last_name() + self.rng.choice(GROUP_SUFFIX) + "组", taken)
                groups.append(self._area(f"{grid.code}{gi + 1:03d}", gname, AreaLevel.GROUP, grid))
        groups = self._areas(groups)

        self.grids = grids + specials
        self.groups_by_grid: dict[int, list[Area]] = {}
        for group in groups:
            self.groups_by_grid.setdefault(group.parent_id, []).append(group)
        self.towns, self.zones, self.villages = towns, zones, villages
        self.county_of = {t.pk: t.parent for t in towns}
        self.stats.update(
            counties=len(counties),
            towns=len(towns),
            zones=len(zones),
            villages=len(villages),
            grids=len(self.grids),
            groups=len(groups),
        )
        self.log(
            f"  tree: {len(counties)} 县, {len(towns)} 镇, {len(zones)} 片区, {len(villages)} 村/社区, "
            f"{len(self.grids)} 网格, {len(groups)} 组"
        )
        return counties

    def _build_households(self) -> None:
        tags = {t.code: t for t in Tag.objects.all()}
        old_tags = [tags[c] for c in ("lao-dangyuan", "duju-laoren") if c in tags]
        area_by_id = {a.pk: a for a in self.grids}
        for groups in self.groups_by_grid.values():
            for g in groups:
                area_by_id[g.pk] = g
        households: list[Household] = []
        hh_tags: list[tuple[int, Tag]] = []
        residents: list[tuple[int, Resident, list[Tag]]] = []
        county_code_of_grid = {}
        for grid in self.grids:
            town_id = self.paths(grid.pk)["town"]
            county_code_of_grid[grid.pk] = next(c.code for t, c in self.county_of.items() if t == town_id)

        total_h = total_r = 0

        def flush() -> None:
            nonlocal households, hh_tags, residents, total_h, total_r
            created = Household.objects.bulk_create(households, batch_size=BATCH)
            through = Household.tags.through
            through.objects.bulk_create(
                [through(household_id=created[i].pk, tag_id=t.pk) for i, t in hh_tags], batch_size=BATCH
            )
            rows = []
            for i, r, _ in residents:
                h = created[i]
                r.household_id = h.pk
                r.area_id = h.area_id
                for f in ("county", "town", "zone", "village", "grid"):
                    setattr(r, f"{f}_id", getattr(h, f"{f}_id"))
                rows.append(r)
            made = Resident.objects.bulk_create(rows, batch_size=BATCH)
            rthrough = Resident.tags.through
            rthrough.objects.bulk_create(
                [
                    rthrough(resident_id=r.pk, tag_id=t.pk)
                    for r, (_, _, ts) in zip(made, residents, strict=True)
                    for t in ts
                ],
                batch_size=BATCH,
            )
            total_h += len(created)
            total_r += len(made)
            households, hh_tags, residents = [], [], []

        for grid in self.grids:
            region = county_code_of_grid[grid.pk]
            targets = self.groups_by_grid.get(grid.pk) or [grid]
            street = self._place() + self.rng.choice(STREET_SUFFIX)
            for n in range(self._between(self.scale.households_per_grid)):
                area = targets[n % len(targets)]
                place = area.name if area.level == AreaLevel.GROUP else street
                h = Household(
                    code=f"{area.code}{n + 1:04d}",
                    area_id=area.pk,
                    address=f"{grid.name.split('第')[0]}{place}{n + 1}号",
                )
                self.paths.apply(h)
                index = len(households)
                households.append(h)
                for code, rate in HOUSEHOLD_TAG_RATES.items():
                    if code in tags and self.rng.random() < rate:
                        hh_tags.append((index, tags[code]))
                residents.extend((index, r, ts) for r, ts in self._family(region, tags, old_tags))
                if len(households) >= BATCH:
                    flush()
        if households:
            flush()
        self.stats.update(households=total_h, residents=total_r)
        self.log(f"  households: {total_h} 户, {total_r} 人")

    def _family(self, region: str, tags: dict[str, Tag], old_tags: list[Tag]):
        surname = self.fake.last_name()
        size = self.rng.choices([1, 2, 3, 4, 5], weights=[12, 25, 28, 22, 13])[0]
        head_male = self.rng.random() < 0.8
        head_age = (25, 85) if size > 1 else (60, 92)
        members = [(Relation.HEAD, head_male, head_age)]
        if size >= 2:
            members.append((Relation.SPOUSE, not head_male, (25, 85)))
        for _ in range(max(0, size - 2)):
            members.append((Relation.CHILD, self.rng.random() < 0.5, (1, 30)))
        for relation, male, ages in members:
            birth = self._birth(*ages)
            given = self.fake.first_name_male() if male else self.fake.first_name_female()
            r = Resident(
                name=(surname if relation != Relation.SPOUSE else self.fake.last_name()) + given,
                id_number=self._id_number(region, birth, male),
                gender="M" if male else "F",
                birth_date=birth,
                phone=self.fake.phone_number() if relation != Relation.CHILD or self.rng.random() < 0.5 else "",
                relation=relation,
            )
            ts = [tags[c] for c, rate in RESIDENT_TAG_RATES.items() if c in tags and self.rng.random() < rate]
            age = (dt.date(2026, 1, 1) - birth).days // 365
            if size == 1 and age >= 70 and len(old_tags) > 1:
                ts.append(old_tags[1])  # 独居老人
            if age >= 70 and old_tags and self.rng.random() < 0.08:
                ts.append(old_tags[0])  # 老党员
            yield r, ts

    def _build_staff(self, counties: list[Area]) -> None:
        s = self.scale
        users: list = []
        posts: list[tuple[int, str, Area | None, Department | None, str]] = []
        departments: list[Department] = []
        for county in counties:
            for i, name in enumerate(COUNTY_DEPARTMENTS):
                departments.append(
                    Department(
                        code=f"{county.code}D{i + 1:02d}", name=name, kind=DepartmentKind.COUNTY_DEPARTMENT, area=county
                    )
                )
        for town in self.towns:
            for i, (name, kind) in enumerate(TOWN_UNITS):
                departments.append(
                    Department(code=f"{town.code}D{i + 1:02d}", name=f"{town.name}{name}", kind=kind, area=town)
                )
        departments = Department.objects.bulk_create(departments, batch_size=BATCH)

        def person(username: str) -> int:
            male = self.rng.random() < 0.6
            users.append(
                User(
                    username=username,
                    last_name=self.fake.last_name(),
                    first_name=self.fake.first_name_male() if male else self.fake.first_name_female(),
                    password=self.password_hash,
                )
            )
            return len(users) - 1

        # Demo logins: one per role, placed in the first town (or its first zone/grid).
        first_town = self.towns[0]
        first_zone = next(z for z in self.zones if z.parent_id == first_town.pk)
        first_grid = next(
            g for g in self.grids if self.paths(g.pk)["town"] == first_town.pk and g.level == AreaLevel.GRID
        )
        first_dept = next(d for d in departments if d.area_id == first_town.pk)
        place = {
            Role.GRID_WORKER: first_grid,
            Role.GRID_CHIEF: first_grid,
            Role.ZONE_CHIEF: first_zone,
            Role.CENTRE_STAFF: first_town,
            Role.TOWN_LEADER: first_town,
            Role.COUNTY_OFFICIAL: counties[0],
            Role.ADMIN: counties[0],
        }
        for username, role, label in DEMO_LOGINS:
            i = person(username)
            where = first_dept.name if role == Role.DEPARTMENT else place[role].name
            posts.append((i, role, place.get(role), first_dept if role == Role.DEPARTMENT else None, label))
            self.logins.append((username, label, where))

        n = 0
        for grid in self.grids:
            for role in (Role.GRID_WORKER, Role.GRID_CHIEF):
                n += 1
                posts.append((person(f"staff{n:05d}"), role, grid, None, ""))
        for zone in self.zones:
            n += 1
            posts.append((person(f"staff{n:05d}"), Role.ZONE_CHIEF, zone, None, ""))
        for town in self.towns:
            for role, count in ((Role.CENTRE_STAFF, 4), (Role.TOWN_LEADER, 2)):
                for _ in range(count):
                    n += 1
                    posts.append((person(f"staff{n:05d}"), role, town, None, ""))
        for dept in departments:
            for _ in range(self._between(s.staff_per_department)):
                n += 1
                posts.append((person(f"staff{n:05d}"), Role.DEPARTMENT, None, dept, ""))
        for county in counties:
            for _ in range(3):
                n += 1
                posts.append((person(f"staff{n:05d}"), Role.COUNTY_OFFICIAL, county, None, ""))

        admin_index = posts[[p[1] for p in posts].index(Role.ADMIN)][0]
        users[admin_index].is_staff = True
        users[admin_index].is_superuser = True
        created = User.objects.bulk_create(users, batch_size=BATCH)
        Post.objects.bulk_create(
            [
                Post(user=created[i], role=role, area=area, department=dept, title=title)
                for i, role, area, dept, title in posts
            ],
            batch_size=BATCH,
        )
        self.stats.update(departments=len(departments), users=len(created), posts=len(posts))
        self.log(f"  staff: {len(departments)} 部门, {len(created)} 用户, {len(posts)} 岗位")
