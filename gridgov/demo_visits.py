"""Demo household visits (入户走访): `seed_demo` records the last 90 days of visits into a seeded
place, so that 走访覆盖率 on the dashboards, the worker's 五必访 list and the assessment's
missed-visit line have something to show, and the benchmarks measure them at a real volume.

What is generated. Every grid with a grid worker post is walked by its workers on working days
(`cases.calendar.is_workday`: the admin's days, chinesecalendar, then Monday–Friday): a few
households a day (`per_day`), any household of the grid or of its groups. Key households (五必访:
a key_visit tag on the household or on one of its active residents) are visited once in each
calendar month of the range with probability `key_share`, so most are covered and a few show up
as missed. Each visit carries the household's path (AreaPath), a grid worker of its grid as the
visitor and a sentence of what was discussed. The same seed gives the same visits.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections import defaultdict

from django.db.models import Q
from django.utils import timezone

from cases import calendar as workcal
from grids.choices import GRID_LEVELS
from grids.models import AreaPath, Household, Resident
from grids.visits import Visit
from staff.choices import Role
from staff.models import Post

BATCH = 5000

TOPICS = (
    "了解家庭近况，生活正常，无特殊诉求。",
    "宣传防范电信网络诈骗知识，发放宣传单。",
    "提醒冬季用火用电安全，检查燃气软管。",
    "询问老人身体状况，协助预约家庭医生随访。",
    "核实家庭成员变动情况，更新户内人员信息。",
    "宣传医保缴费政策，提醒按时参保。",
    "了解邻里关系，未发现矛盾纠纷。",
    "查看出租房屋登记情况，提醒租客信息报备。",
    "走访困难家庭，了解救助需求并登记。",
    "宣传垃圾分类，指导正确投放。",
    "了解子女就学情况，宣传教育资助政策。",
    "检查房屋安全情况，未发现隐患。",
)
KEY_TOPICS = (
    "重点户月度走访：身体状况良好，生活物资充足。",
    "重点户月度走访：协助申领临时救助，已登记上报。",
    "重点户月度走访：独居老人，已联系亲属并留存电话。",
    "重点户月度走访：了解低保政策落实情况，无异常。",
)
_PATH = tuple(f"{name}_id" for name in AreaPath.PATH_FIELDS)


class VisitHistoryBuilder:
    """Generate the visits of the last `days` days up to yesterday. `build()` returns statistics."""

    def __init__(
        self,
        days: int = 90,
        per_day: tuple[int, int] = (2, 5),
        key_share: float = 0.9,
        seed: int = 1,
        today: dt.date | None = None,
        log=print,
    ) -> None:
        self.days = days
        self.per_day = per_day
        self.key_share = key_share
        self.rng = random.Random(seed * 104729 + 3)
        self.today = today or timezone.localdate()
        self.log = log

    def build(self) -> dict:
        started = time.monotonic()
        workers = self._workers()
        households = self._households(set(workers))
        key = self._key_households()
        first = self.today - dt.timedelta(days=self.days)
        working = [d for d in (first + dt.timedelta(days=n) for n in range(self.days)) if workcal.is_workday(d)]
        by_month: dict[tuple[int, int], list[dt.date]] = defaultdict(list)
        for day in working:
            by_month[(day.year, day.month)].append(day)
        pending: list[Visit] = []
        made = key_made = 0
        for grid_id in sorted(households):
            rows, people = households[grid_id], workers[grid_id]
            if not rows:
                continue
            for day in working:
                low, high = self.per_day
                for row in self.rng.sample(rows, min(len(rows), self.rng.randint(low, high))):
                    pending.append(self._visit(row, self.rng.choice(people), day, self.rng.choice(TOPICS)))
            for days in by_month.values():
                for row in rows:
                    if row["id"] in key and self.rng.random() < self.key_share:
                        day, topic = self.rng.choice(days), self.rng.choice(KEY_TOPICS)
                        pending.append(self._visit(row, self.rng.choice(people), day, topic))
                        key_made += 1
            if len(pending) >= BATCH:
                made += self._flush(pending)
                pending = []
        if pending:
            made += self._flush(pending)
        took = time.monotonic() - started
        self.log(f"  visits: {made:,} 次（重点户 {key_made:,} 次），{len(working)} 个工作日")
        return {"visits": made, "key_visits": key_made, "working_days": len(working), "seconds": round(took, 1)}

    def _workers(self) -> dict[int, list[int]]:
        """Grid → its grid workers (active posts of active users)."""
        workers: dict[int, list[int]] = defaultdict(list)
        posts = Post.objects.filter(
            role=Role.GRID_WORKER, is_active=True, user__is_active=True, area__level__in=GRID_LEVELS
        ).order_by("id")
        for user_id, area_id in posts.values_list("user_id", "area_id"):
            workers[area_id].append(user_id)
        return workers

    def _households(self, grids: set[int]) -> dict[int, list[dict]]:
        by_grid: dict[int, list[dict]] = defaultdict(list)
        for row in (
            Household.objects.filter(is_active=True, grid_id__in=grids).order_by("id").values("id", "area_id", *_PATH)
        ):
            by_grid[row["grid_id"]].append(row)
        return by_grid

    def _key_households(self) -> set[int]:
        own = Household.tags.through.objects.filter(tag__key_visit=True).values_list("household_id", flat=True)
        residents = Resident.objects.filter(Q(is_active=True), tags__key_visit=True).values_list(
            "household_id", flat=True
        )
        return set(own) | set(residents)

    @staticmethod
    def _visit(row: dict, visitor: int, day: dt.date, topic: str) -> Visit:
        return Visit(
            household_id=row["id"],
            area_id=row["area_id"],
            visitor_id=visitor,
            date=day,
            discussed=topic,
            **{f: row[f] for f in _PATH},
        )

    @staticmethod
    def _flush(rows: list[Visit]) -> int:
        return len(Visit.objects.bulk_create(rows, batch_size=BATCH))
