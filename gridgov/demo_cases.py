"""Demo case history: `seed_demo --cases N` files N believable cases over the last 90 days into an
existing place (areas, staff posts and departments as built by `gridgov.demo.DemoBuilder`, or any
tree with grid workers), in every state and along every path of the case engine.

How it works
------------
Cases are generated day by day, oldest first (weekends and holidays quieter, created_at mostly in
working hours, Asia/Shanghai), so ids, numbers (`YYYYMMDD` + 5-digit daily sequence) and created_at
grow together. Each case picks a category (小类), a grid with a grid worker (the reporter) and the
grid or one of its groups, then a *scenario*: a list of moves (accept, dispatch to a department or
a lower level, self-resolve, feedback, verify, rework, return and re-dispatch, escalation, extension,
reject, merge into an earlier case of the same grid, 回访 rating …). Which scenarios are likely
depends on the case's age, so recent cases are mostly open and old ones closed.

The moves are replayed by a small simulation that mirrors `cases.services` field by field (owner,
dispatcher, assignee, counters, accepted_at/accepted_on_time, feedback_at, handle_due_at,
closed_at/closed_on_time, step, step_started_at, …) and writes one CaseEvent per action with the
actor from the right post (centre staff of the town, zone chiefs, grid chiefs, department staff,
the reporter; None for the sweep). Before every move the deadline sweep is replayed up to the move's
time, exactly as `cases.sweep` would have acted: a `remind` event and automatic Reminder at 80% of
the step, an `overdue` event and automatic Supervision at the deadline (escalate_at = deadline +
grace). A move that would come after the automatic escalation is pulled in just before it, except
in the scenario that shows the automatic escalation itself. A move that would lie in the future is
dropped: the case then stays open in the state it reached.

Deadlines — the fast approximation
----------------------------------
`cases.calendar.WorkingCalendar` is exact but costs tens of microseconds per call, too slow for a
million histories. So:

* history (every step that is over): natural-time arithmetic. Working days count as 7/5 natural
  days (rounded, the clock position kept); working hours/minutes are counted on an 08:30–17:30 day,
  nights skipped (lunch breaks, weekends and holidays ignored); natural units are exact. The
  reminder of a past step is at 80% of its natural span.
* the current step of an open case: exact. `due_at` comes from `WorkingCalendar.due` (the county's
  calendar) for the category's limit (`services._limit_of`, urgent matters in natural time),
  `remind_at` from `services._remind_time`, `step_budget_minutes` from `elapsed_minutes`, and an
  approved extension in the current step from `WorkingCalendar.due` as in the engine. The sweep is
  then replayed up to now with these values, so `is_overdue` ⇔ `due_at < now` and an open case
  past its deadline carries its overdue event and open automatic Supervision. A case whose
  escalate_at has passed is escalated by the system, as the sweep would have done.

Counters follow the engine except `version`, which is set to the number of events (the live engine
does not bump `version` for the sweep's remind/overdue events).

A handful of "current workload" cases are filed in the last (working) hours before now, so the
short-lived states (reported, escalated, awaiting the check) exist in a small history too.

Writing: rows are built in memory per batch (ids of cases and extension requests reserved up
front, so merges and extension decisions can point at rows not written yet) and written in one
transaction per batch: with COPY on PostgreSQL (from a background thread with its own connection
when the caller is not inside a transaction, so the database works while the next batch is
generated), with bulk_create elsewhere (SQLite). Order: cases, extension requests, reminders,
supervisions, events. auto_now/auto_now_add are switched off for the duration so historical
timestamps are kept, and chinesecalendar's pure `is_workday` is memoised (it costs ~20 µs a call).
CaseNumber rows are raised to the highest sequence used per day at the end, so later filings
continue the daily sequence.

Speed (2-core machine, PostgreSQL 15, county scale): about 2,800 cases/s on a quiet machine
(1M in about 6 minutes, ~5.7 events a case), 1,300 cases/s with the machine shared; 600 cases on
SQLite in about half a second.

Deterministic for a given seed, `now` and database content.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import functools
import io
import json
import math
import queue
import random
import threading
import time
from collections import Counter, defaultdict, deque
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import chinese_calendar
from django.conf import settings
from django.db import connection, reset_queries, transaction
from django.db.models import Max
from django.db.models.functions import Substr
from django.utils import timezone
from faker import Faker

from cases import calendar as workcal
from cases.choices import (
    OPEN_STATES,
    WORKING_UNITS,
    Action,
    CaseKind,
    CaseState,
    ExtensionStatus,
    HandlingLevel,
    LimitUnit,
    Rating,
    Source,
    Urgency,
)
from cases.models import Case, CaseEvent, CaseNumber, Category, ExtensionRequest, Reminder, Supervision
from cases.services import _limit_of, _remind_time
from cases.sweep import grace
from grids.choices import GRID_LEVELS, LEVEL_RANK, AreaLevel
from grids.models import Area
from grids.paths import PathCache
from staff.choices import DepartmentKind, Role
from staff.models import Department, Post

S = CaseState
A = Action
BATCH = 5000
MINUTE = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
ESCALATING = (S.REPORTED, S.ESCALATED, S.HANDLING)
# Mostly the grid workers' own patrols, some hotline (12345) and residents' reports.
SOURCES = (Source.PATROL, Source.HOTLINE, Source.RESIDENT, Source.SURVEILLANCE)
SOURCE_CUM = (0.78, 0.88, 0.97)
LEVEL_OF_HANDLING = {
    HandlingLevel.GRID: LEVEL_RANK[AreaLevel.GRID],
    HandlingLevel.VILLAGE: LEVEL_RANK[AreaLevel.VILLAGE],
    HandlingLevel.ZONE: LEVEL_RANK[AreaLevel.ZONE],
    HandlingLevel.TOWN: LEVEL_RANK[AreaLevel.TOWN],
    HandlingLevel.COUNTY: LEVEL_RANK[AreaLevel.COUNTY],
}
VILLAGE_LEVELS = (AreaLevel.VILLAGE, AreaLevel.COMMUNITY)

# --- texts ----------------------------------------------------------------------------------------
# Placeholders: {村} village/community (the town for special grids), {地} a spot in the grid (a
# group name or a landmark of the village), {路} a road, {人} a person, {店} a shop, {企} a company,
# {河} a stream, {n} a small number.
TEMPLATES: dict[str, list[tuple[str, str]]] = {
    "0101": [
        ("群众反映{村}村干部办事推诿", "{人}反映到村委会开具证明多次被推诿，要求核实村干部工作作风。"),
        ("{村}村务公开栏长期未更新", "{地}村务公开栏内容停留在数月前，群众反映财务公开不及时。"),
    ],
    "0201": [
        ("{人}反映征地补偿款未到位", "{人}称{村}征地补偿款至今未足额发放，情绪较激动，要求尽快答复。"),
        ("{人}反映宅基地审批迟迟未办", "{人}申请宅基地已半年，多次询问无结果，要求说明审批进度。"),
        ("{人}对低保评定结果有异议", "{人}认为家庭困难未纳入低保，对{村}评议结果不满，要求复核。"),
    ],
    "0202": [
        ("{地}夜间有人聚集饮酒滋事", "近期{地}夜间常有{n}名青年聚集饮酒喧哗，影响周边群众休息，存在治安隐患。"),
        ("{路}路灯损坏存在治安隐患", "{路}一段路灯损坏多日，夜间照明不足，群众反映出行不安全。"),
        ("{店}门口多次发生电动车被盗", "{店}店主反映门口近一周被盗电动车{n}辆，请求加强巡逻。"),
    ],
    "0203": [
        ("重点人员{人}近期外出务工", "登记重点人员动态：{人}已于近日外出务工，已掌握其联系方式。"),
        ("重点人员{人}返乡", "{人}已返回{地}居住，网格员已上门走访，情况稳定。"),
    ],
    "0301": [
        ("{企}车间消防通道堆放杂物", "巡查发现{企}车间消防通道堆放纸箱等杂物，堵塞通道。"),
        ("{企}灭火器过期未更换", "{企}配备的灭火器已过有效期，未及时更换。"),
        ("{地}小作坊无安全防护", "{地}一家庭小作坊使用切割设备，未设任何安全防护。"),
    ],
    "0302": [
        ("{地}一农户家中液化气瓶漏气", "{人}家中液化气瓶阀门漏气，已疏散家人，请求紧急处置。"),
        ("{路}餐饮店燃气管道老化", "{路}一餐饮店燃气软管老化开裂，有明显气味，存在险情。"),
    ],
    "0303": [
        ("{路}交叉口缺少减速带", "{路}与村道交叉口车速较快，缺少减速带和警示标志，近期发生过剐蹭。"),
        ("{地}山路护栏缺失", "{地}通往山上的道路临崖一侧护栏缺失约{n}米，存在安全隐患。"),
    ],
    "0401": [
        ("{人}咨询生育登记办理", "{人}咨询二孩生育登记所需材料及办理地点。"),
        ("{人}反映计生奖励金未发放", "{人}称独生子女父母奖励金本年度尚未到账。"),
    ],
    "0501": [
        ("{地}新增流动人口{n}人", "{地}出租房新入住外来务工人员{n}人，已登记身份信息。"),
        ("{地}流动人口{人}迁出", "流动人口{人}已搬离{地}，已更新登记信息。"),
    ],
    "0502": [
        ("流动人口{人}子女入学咨询", "{人}咨询随迁子女在本地入学所需材料。"),
        ("流动人口{人}办理居住证", "{人}需办理居住证，询问办理流程。"),
    ],
    "0601": [
        ("{地}出租房楼道私拉电线", "{地}一出租房楼道私拉电线为租户供电，线路裸露，存在火灾隐患。"),
        ("{地}出租房未配备灭火器", "{地}出租房住有{n}户租客，未按要求配备灭火器和应急照明。"),
    ],
    "0602": [
        ("{地}电动车楼道内充电", "{地}居民将电动车推入楼道充电，堵塞疏散通道。"),
        ("{路}居民楼下飞线充电", "{路}一居民楼从窗口拉线至楼下为电动车充电。"),
    ],
    "0701": [
        ("{店}销售过期食品", "群众反映{店}货架上有过期饮料和零食在售。"),
        ("{路}流动摊贩无证售卖熟食", "{路}有流动摊贩售卖卤味熟食，无任何证照，卫生条件差。"),
    ],
    "0801": [
        ("{企}拖欠{n}名工人工资", "{企}拖欠{n}名工人近两个月工资，工人情绪激动，聚集讨薪。"),
        ("{人}反映工地拖欠工资", "{人}称在{地}附近工地务工，包工头拖欠工资未结。"),
    ],
    "0802": [
        ("{人}咨询灵活就业社保缴纳", "{人}咨询灵活就业人员养老保险缴费标准，已当场解答。"),
        ("{人}咨询失业登记", "{人}咨询失业登记办理地点，已告知镇便民服务中心。"),
    ],
    "0901": [
        ("{地}墙面乱涂乱画", "{地}沿路墙面有大量小广告和涂鸦，影响村容村貌。"),
        ("{村}公共区域乱搭晾衣架", "{地}公共绿地被乱搭晾衣架，影响文明创建。"),
    ],
    "1001": [
        ("{路}沿街店铺占道经营", "{路}多家沿街店铺将货物摆到人行道，影响通行。"),
        ("{路}早市摊贩占用车道", "{路}早市摊贩占用机动车道，早高峰拥堵。"),
    ],
    "1002": [
        ("{路}{店}广告牌破损松动", "{店}门头广告牌一角松动，大风天气有坠落危险。"),
        ("{路}违规设置落地广告牌", "{路}人行道上设置多块落地广告牌，影响通行。"),
    ],
    "1101": [
        ("{地}农户未批先建", "{地}一农户未经审批在自家宅基地上加盖第三层。"),
        ("{地}违规搭建彩钢棚", "{地}有人在房屋旁搭建彩钢棚约{n}平方米，疑似未经审批。"),
    ],
    "1102": [
        ("{地}有人占用耕地堆放建材", "{地}一块耕地被用来堆放砂石建材，面积约{n}平方米。"),
        ("{地}林地被违规开挖", "{地}山脚林地被挖掘机开挖，疑似违规占地。"),
    ],
    "1201": [
        ("{人}申请代办老年证", "{人}年满七十周岁，行动不便，申请代办老年优待证。"),
        ("{人}需代办医保报销", "{人}住院后需办理医保报销，子女在外，申请网格代办。"),
    ],
    "1202": [
        ("{地}停水超过一天", "{地}一带自昨日起停水，居民生活不便，未收到停水通知。"),
        ("{路}一带停电", "{路}一带居民家中停电已{n}小时，请求协调抢修。"),
    ],
    "1203": [
        ("{路}路面塌陷", "{路}路面出现塌陷约{n}平方米，车辆通行有危险。"),
        ("{地}路灯不亮", "{地}有{n}盏路灯不亮，夜间行走不便。"),
        ("{地}公共健身器材损坏", "{地}健身广场单杠和漫步机损坏，存在安全隐患。"),
    ],
    "1301": [
        ("{地}两户因排水沟发生争执", "{地}两户村民因排水沟走向发生争执，双方互不相让。"),
        ("{地}邻里因犬只扰民产生纠纷", "{人}反映邻居家犬只夜间吠叫扰民，多次沟通无果。"),
    ],
    "1302": [
        ("{地}一家庭因赡养老人发生矛盾", "{人}家兄弟三人因老人赡养费分摊发生争吵。"),
        ("{人}夫妻矛盾请求调解", "{人}与配偶因家庭琐事多次争吵，请求村里调解。"),
    ],
    "1303": [
        ("{地}两户因山林界址发生纠纷", "{地}两户村民对自留山界址认定不一，发生争执。"),
        ("{地}承包地边界纠纷", "{人}与邻户因承包地边界发生纠纷，要求重新丈量。"),
    ],
    "1401": [
        ("{地}路口垃圾堆放多日未清运", "{地}路口垃圾堆放多日未清运，气味较大，群众反映强烈。"),
        ("{地}垃圾桶满溢无人清理", "{地}垃圾桶满溢，周边散落生活垃圾。"),
        ("{路}建筑垃圾随意倾倒", "{路}路边被倾倒建筑垃圾约{n}车，影响环境和通行。"),
    ],
    "1402": [
        ("{地}生活污水直排入溪", "{地}有农户生活污水管道直接排入{河}。"),
        ("{企}疑似偷排废水", "群众反映{企}夜间偷排废水，{河}下游水面发黑。"),
    ],
    "1403": [
        ("{河}河面漂浮垃圾较多", "{河}{地}段河面漂浮塑料瓶等垃圾较多，需清理。"),
        ("{河}河道内有人倾倒杂物", "{河}{地}段有人向河道倾倒杂物，影响行洪。"),
    ],
}
GENERIC_TEMPLATES = [("{地}{类}问题", "巡查发现{地}存在{类}问题，请相关单位处理。")]
FEEDBACK_NOTES: dict[str, list[str]] = {
    "02": ["已上门做好解释疏导工作，当事人表示理解", "已加强夜间巡逻，现场已无聚集", "已约谈相关人员并登记备案"],
    "03": ["已督促企业整改，隐患已消除", "已现场关阀并更换软管，险情排除", "已设置警示标志，安排专人值守"],
    "06": ["已督促房东整改，私拉电线已拆除", "已配齐灭火器和应急照明", "已清理楼道电动车并张贴告知书"],
    "07": ["已下架过期食品并立案调查", "已劝离流动摊贩并告知办证渠道"],
    "08": ["已协调企业结清拖欠工资", "已当场解答并告知办理流程"],
    "10": ["已劝导店主将物品收回店内", "已责令拆除违规广告牌"],
    "11": ["已下达责令停止违法行为通知书", "已拆除违建部分，恢复原状"],
    "12": ["已协调供水部门抢修，现已恢复供水", "已修复路面", "已代办完成并送达本人"],
    "13": ["经调解双方达成一致意见", "已组织双方协商，签订调解协议"],
    "14": ["已清理完毕，现场恢复整洁", "已联系保洁员清运", "已督促整改，污水已接入管网"],
}
GENERIC_FEEDBACK = ["已处理完毕", "已现场处置，问题已解决", "已按要求整改到位"]
VERIFY_NOTES = ["现场核实已处理", "已回访核实，问题解决", "经核查属实，同意结案", ""]
REWORK_NOTES = ["现场核查问题仍存在，请继续处理", "整改不到位，群众仍有意见", "只处理了一部分，请彻底整改"]
RETURN_NOTES = ["不属于本单位职责，请重新派遣", "该事项属于其他部门管辖", "事发地不在本单位辖区"]
REJECT_NOTES = ["经核实不属于受理范围", "信息不实，现场未发现问题", "属于民事纠纷，已引导通过诉讼解决"]
EXTENSION_REASONS = ["需协调多个部门联合处置", "需等待鉴定结果", "涉及人员较多，调解需要时间", "需走审批程序"]
EXTENSION_DECISIONS = ["同意延期", "同意，请抓紧办理", ""]
URGE_NOTES = ["请加快办理进度", "群众多次来电催问，请抓紧", "请于今日内反馈进展"]
SUPERVISE_NOTES = ["超期未办结，列入督办", "请说明超期原因并限期办结", "镇领导督办，请优先处理"]
LANDMARKS = ["村口", "文化礼堂旁", "祠堂边", "老街", "桥头", "小学附近", "菜市场", "停车场", "溪边", "村委会旁"]
RIVER_SUFFIX = ["溪", "江", "河", "港"]
SHOP_KINDS = ["小吃店", "便利店", "五金店", "理发店", "农家乐", "快餐店", "超市", "水果店", "早餐店"]


# --- the place --------------------------------------------------------------------------------------


class _Node:
    __slots__ = ("id", "level", "name", "parent_id")

    def __init__(self, id, parent_id, level, name):
        self.id, self.parent_id, self.level, self.name = id, parent_id, level, name


class _Cat:
    __slots__ = (
        "code",
        "hint",
        "id",
        "kind",
        "level",
        "limits",
        "name",
        "parent_code",
        "parent_name",
        "templates",
        "urgent",
    )


class _Grid:
    __slots__ = ("areas", "county", "grid", "landmarks", "river", "roads", "town", "village_name", "workers")


class _Case:
    """One case under simulation: the fields of cases.models.Case, the events and the side rows."""

    __slots__ = (
        "accepted_at",
        "accepted_on_time",
        "area",
        "assignee",
        "auto_reminded",
        "auto_supervised",
        "cat",
        "clock",
        "closed_at",
        "closed_on_time",
        "contact_name",
        "contact_phone",
        "created_at",
        "description",
        "dispatch_count",
        "dispatcher",
        "due_at",
        "escalate_at",
        "events",
        "exact",
        "extension_count",
        "extensions",
        "feedback_at",
        "grid",
        "handle_due_at",
        "handle_due_step",
        "id",
        "is_overdue",
        "is_supervised",
        "merged_into",
        "number",
        "owner_area",
        "owner_dept",
        "rated_at",
        "rating",
        "remind_at",
        "reminder_count",
        "reminders",
        "reporter",
        "return_count",
        "rework_count",
        "self_resolved",
        "sign_due_at",
        "signed_at",
        "signed_on_time",
        "source",
        "state",
        "step",
        "step_budget",
        "step_started_at",
        "supervisions",
        "title",
        "urgency",
    )


class CaseHistoryBuilder:
    """Generate `count` demo cases (see the module docstring). `build()` returns statistics."""

    def __init__(
        self,
        count: int,
        seed: int = 1,
        now: dt.datetime | None = None,
        days: int = 90,
        log=print,
        batch: int = BATCH,
    ) -> None:
        self.count = count
        self.seed = seed
        self.rng = random.Random(seed * 7919 + 17)
        self.tz = ZoneInfo(settings.TIME_ZONE)
        self.now = (now or timezone.now()).astimezone(self.tz)
        self.days = days
        self.log = log
        self.batch = batch
        self.grace = grace()
        self.remind_share = float(getattr(settings, "GRIDGOV_REMIND_SHARE", "0.8"))
        self.stats: Counter = Counter()
        self.states: Counter = Counter()
        self.scenarios: Counter = Counter()
        self.recent: dict[int, deque] = {}
        self._ids: deque = deque()
        self._ext_ids: deque = deque()
        self._paths: dict[int, dict[str, int | None]] = {}

    # --- public -------------------------------------------------------------------------------------
    def build(self) -> dict:
        started = time.monotonic()
        before = Case.objects.count()
        self._load()
        if not self.grids:
            raise ValueError("no grid with a grid worker post: build the place first (seed_demo)")
        self._pools()
        self._numbers_in_use()
        pending: list[_Case] = []
        with _historical_timestamps():
            self.writer = _Writer(threaded=connection.vendor == "postgresql" and not connection.in_atomic_block)
            try:
                for _day, times in self._days():
                    for created_at, forced in times:
                        pending.append(self._one(created_at, forced))
                        if len(pending) >= self.batch:
                            self._flush(pending)
                            pending = []
                if pending:
                    self._flush(pending)
            finally:
                self.writer.close()
        self._update_case_numbers()
        folded = self._fold_rollup(before)
        took = time.monotonic() - started
        result = {
            "cases": self.stats["cases"],
            "events": self.stats["events"],
            "reminders": self.stats["reminders"],
            "supervisions": self.stats["supervisions"],
            "extensions": self.stats["extensions"],
            "seconds": round(took, 1),
            "rollup_fold_seconds": folded,
            "states": {str(state): n for state, n in sorted(self.states.items())},
        }
        self.scenario_stats = dict(self.scenarios.most_common())
        return result

    def _fold_rollup(self, before: int) -> float | None:
        """Bring the dashboard rollup to its steady state after the load. The triggers appended
        ~3 delta rows per case, and pages read every one of them until they are folded: a load that
        at least grows the table by half is recounted (`rollup.install(force=True)`: TRUNCATE and
        one ordered insert, cases held still meanwhile; faster than folding and leaves no dead
        rows), a smaller one folded as beat's compact_rollup would. Seconds taken; None outside
        PostgreSQL (no rollup there)."""
        from cases.dashboard import rollup

        if connection.vendor != "postgresql":
            return None
        start = time.monotonic()
        if self.stats["cases"] * 2 >= before:
            rollup.install(force=True)
        else:
            rollup.compact()
        return round(time.monotonic() - start, 1)

    # --- loading ------------------------------------------------------------------------------------
    def _load(self) -> None:
        self.paths = PathCache()
        self.nodes: dict[int, _Node] = {}
        children: dict[int, list[int]] = defaultdict(list)
        active: set[int] = set()
        for a in Area.objects.order_by("tree_id", "lft").values("id", "parent_id", "level", "name", "is_active"):
            self.nodes[a["id"]] = _Node(a["id"], a["parent_id"], a["level"], a["name"])
            if a["parent_id"]:
                children[a["parent_id"]].append(a["id"])
            if a["is_active"]:
                active.add(a["id"])
        self.holders: dict[tuple[str, int], list[int]] = defaultdict(list)
        self.dept_staff: dict[int, list[int]] = defaultdict(list)
        for user_id, role, area_id, dept_id in (
            Post.objects.filter(is_active=True, user__is_active=True)
            .order_by("id")
            .values_list("user_id", "role", "area_id", "department_id")
        ):
            if dept_id:
                self.dept_staff[dept_id].append(user_id)
            elif area_id:
                self.holders[(role, area_id)].append(user_id)
        self.depts_at: dict[int, list[tuple[int, str, str]]] = defaultdict(list)
        self.dept_area: dict[int, int] = {}
        self.dept_name: dict[int, str] = {}
        for d in Department.objects.filter(is_active=True).order_by("code").values("id", "name", "kind", "area_id"):
            if not self.dept_staff.get(d["id"]):
                continue  # nobody could give feedback
            self.depts_at[d["area_id"]].append((d["id"], d["name"], d["kind"]))
            self.dept_area[d["id"]] = d["area_id"]
            self.dept_name[d["id"]] = d["name"]

        self.cats: list[_Cat] = []
        for c in (
            Category.objects.filter(is_active=True, parent__isnull=False).select_related("parent").order_by("code")
        ):
            cat = _Cat()
            cat.id, cat.code, cat.name, cat.kind = c.pk, c.code, c.name, c.kind
            cat.parent_code, cat.parent_name = c.parent.code, c.parent.name
            cat.level, cat.urgent, cat.hint = c.default_level, c.urgent, c.default_department_name
            cat.templates = TEMPLATES.get(c.code) or GENERIC_TEMPLATES
            cat.limits = {}
            for urgency in (Urgency.NORMAL, Urgency.URGENT):
                probe = SimpleNamespace(category=c, urgency=urgency)
                for state in OPEN_STATES:
                    limit = _limit_of(probe, state)
                    cat.limits[(urgency, state)] = (float(limit[0]), limit[1]) if limit else None
            self.cats.append(cat)
        if not self.cats:
            raise ValueError("no active 小类 in the catalogue")
        # Information items ≈ 8% of filings, the rest spread with a few busy categories.
        busy = {"1401": 5, "1203": 3, "0202": 3, "1001": 3, "1301": 3, "0602": 2, "0601": 2, "1202": 2, "0201": 2}
        self.cat_weights = [
            (busy.get(c.code, 1.0) * (0.8 if c.kind == CaseKind.INFORMATION else 1.0)) for c in self.cats
        ]
        self.cat_cum = _cumulative(self.cat_weights)

        self.grids: list[_Grid] = []
        for node_id in sorted(active, key=lambda i: self.nodes[i].id):
            node = self.nodes[node_id]
            if node.level not in GRID_LEVELS:
                continue
            workers = self.holders.get((Role.GRID_WORKER, node_id))
            if not workers:
                continue
            g = _Grid()
            g.grid, g.workers = node, workers
            groups = [
                self.nodes[i]
                for i in children.get(node_id, ())
                if i in active and self.nodes[i].level in (AreaLevel.GROUP, AreaLevel.SUB_GRID)
            ]
            g.areas = groups
            path = self.paths(node_id)
            g.town, g.county = path["town"], path["county"]
            village = path["village"]
            g.village_name = self.nodes[village].name if village else (self.nodes[g.town].name if g.town else node.name)
            self.grids.append(g)
        self.calendars: dict[int | None, workcal.WorkingCalendar] = {}
        counties = {a.pk: a for a in Area.objects.filter(pk__in={g.county for g in self.grids if g.county})}
        for county_id in {g.county for g in self.grids}:
            self.calendars[county_id] = workcal.WorkingCalendar.for_area(counties.get(county_id))
        self._owner_cache: dict[tuple[int, str], int] = {}
        self._actors_cache: dict[int, list[int]] = {}
        self._sup_cache: dict[tuple, list[int]] = {}
        self._dept_cache: dict[tuple, list[int]] = {}

    def _pools(self) -> None:
        fake = Faker("zh_CN")
        fake.seed_instance(self.seed)
        rng = self.rng
        self.people = [fake.name() for _ in range(600)]
        self.phones = [fake.phone_number() for _ in range(300)]
        self.companies = [fake.company() for _ in range(200)]
        self.shops = [fake.last_name() + "记" + rng.choice(SHOP_KINDS) for _ in range(200)]
        streets = [fake.street_name() for _ in range(300)]
        for g in self.grids:
            g.roads = [rng.choice(streets) for _ in range(3)]
            g.landmarks = [g.village_name + rng.choice(LANDMARKS) for _ in range(3)]
            g.river = g.village_name[:2] + rng.choice(RIVER_SUFFIX)

    def _numbers_in_use(self) -> None:
        first = (self.now - dt.timedelta(days=self.days)).date()
        last = self.now.date()
        self.next_seq: dict[dt.date, int] = {}
        for row in CaseNumber.objects.filter(day__gte=first, day__lte=last):
            self.next_seq[row.day] = row.last
        lo, hi = f"{first:%Y%m%d}", f"{last:%Y%m%d}99999"
        rows = (
            Case.objects.filter(number__gte=lo, number__lte=hi)
            .annotate(day=Substr("number", 1, 8))
            .values("day")
            .annotate(m=Max("number"))
        )
        for row in rows:
            try:
                day = dt.datetime.strptime(row["day"], "%Y%m%d").date()
                used = int(row["m"][8:])
            except ValueError:
                continue
            self.next_seq[day] = max(self.next_seq.get(day, 0), used)
        self.used_days: dict[dt.date, int] = {}

    # --- days and times -------------------------------------------------------------------------------
    # The current workload: a few cases filed in the last hours, in the short-lived open states that a
    # spread over 90 days would rarely catch. Filed (natural or working) minutes before now.
    CURRENT = (
        ("open_reported", "natural", 5, 40),  # not yet due
        ("open_reported", "working", 70, 400),  # past the 1-hour accept limit (or escalated since)
        ("open_escalated", "working", 60, 400),
        ("open_self_resolved", "working", 60, 400),
        ("open_handling", "working", 120, 1500),
        ("open_returned", "working", 240, 1200),
    )

    def _days(self):
        """(day, sorted [(created_at, forced scenario or None)]) oldest first; today only up to now."""
        forced: dict[dt.date, list] = defaultdict(list)
        current = self.CURRENT[: min(len(self.CURRENT), self.count // 20)] if self.count >= 20 else ()
        for name, unit, low, high in current:
            minutes = self.rng.uniform(low, high)
            at = self.now - dt.timedelta(minutes=minutes) if unit == "natural" else self._working_before(minutes)
            forced[at.date()].append((at, name))
        regular = self.count - len(current)
        for day, times in self._regular_days(regular):
            items = [(t, None) for t in times] + forced.pop(day, [])
            yield day, sorted(items, key=lambda item: item[0])
        for day in sorted(forced):
            yield day, sorted(forced[day], key=lambda item: item[0])

    def _working_before(self, minutes: float) -> dt.datetime:
        """The instant `minutes` of working time (default working hours) before now."""
        remaining = minutes
        day = self.now.date()
        for _ in range(400):
            if workcal.is_workday(day):
                limit = self.now if day == self.now.date() else None
                for start, end in reversed(workcal.DEFAULT_PERIODS):
                    low = dt.datetime.combine(day, start, tzinfo=self.tz)
                    high = dt.datetime.combine(day, end, tzinfo=self.tz)
                    if limit is not None:
                        high = min(high, limit)
                    span = (high - low).total_seconds() / 60
                    if span <= 0:
                        continue
                    if remaining <= span:
                        return high - dt.timedelta(minutes=remaining)
                    remaining -= span
            day -= dt.timedelta(days=1)
        return self.now - dt.timedelta(minutes=minutes)

    def _regular_days(self, count: int):
        today = self.now.date()
        days = [today - dt.timedelta(days=i) for i in range(self.days, -1, -1)]
        weights = []
        for d in days:
            w = 1.0 if workcal.is_workday(d) else 0.45
            if d == today:
                midnight = dt.datetime.combine(d, dt.time(), tzinfo=self.tz)
                w *= self._day_share(midnight, self.now)
            weights.append(w)
        total = sum(weights) or 1.0
        raw = [count * w / total for w in weights]
        counts = [int(r) for r in raw]
        for i in sorted(range(len(days)), key=lambda i: raw[i] - counts[i], reverse=True)[: count - sum(counts)]:
            counts[i] += 1
        for d, n in zip(days, counts, strict=True):
            if n:
                yield d, sorted(self._time_on(d) for _ in range(n))

    def _day_share(self, midnight: dt.datetime, until: dt.datetime) -> float:
        """Roughly the share of a day's filings made before `until`."""
        hours = (until - midnight).total_seconds() / 3600
        working = min(max(hours - 8.5, 0), 3.5) + min(max(hours - 14, 0), 3.5)
        return max(0.02, 0.85 * working / 7 + 0.15 * min(max(hours - 7, 0), 14) / 14)

    def _time_on(self, day: dt.date) -> dt.datetime:
        rng = self.rng
        midnight = dt.datetime.combine(day, dt.time(), tzinfo=self.tz)
        for _ in range(20):
            if rng.random() < 0.85:
                m = rng.random() * 420
                minutes = 510 + m if m < 210 else 840 + (m - 210)
            else:
                minutes = 420 + rng.random() * 840
            t = midnight + dt.timedelta(minutes=minutes)
            if t <= self.now:
                return t
        return midnight + (self.now - midnight) * rng.random()

    # --- one case ---------------------------------------------------------------------------------------
    def _one(self, created_at: dt.datetime, forced: str | None = None) -> _Case:
        rng = self.rng
        age = (self.now - created_at).total_seconds() / 86400
        c = _Case()
        dup_of = None
        grid = self.grids[rng.randrange(len(self.grids))]
        cat = self.cats[bisect.bisect(self.cat_cum, rng.random() * self.cat_cum[-1])]
        if forced:
            # Town-level non-urgent matters (grid-level for a self-resolved one awaiting its check).
            wanted = HandlingLevel.GRID if forced == "open_self_resolved" else HandlingLevel.TOWN
            fits = [k for k in self.cats if k.kind == CaseKind.PROBLEM and not k.urgent and k.level == wanted]
            fits = fits or [k for k in self.cats if k.kind == CaseKind.PROBLEM]
            if fits:
                cat = rng.choice(fits)
            centred = [g for g in self.grids if g.town and self.holders.get((Role.CENTRE_STAFF, g.town))]
            if centred:
                grid = rng.choice(centred)
        elif cat.kind != CaseKind.INFORMATION and rng.random() < 0.02:
            dup_of = self._recent_in(grid, created_at)
            if dup_of is not None:
                cat = dup_of.cat
        c.grid, c.cat = grid, cat
        c.area = grid.areas[rng.randrange(len(grid.areas))] if grid.areas and rng.random() < 0.7 else grid.grid
        c.reporter = grid.workers[rng.randrange(len(grid.workers))]
        c.created_at = created_at
        c.id = self._next_id()
        c.number = self._number(created_at)
        r = rng.random()
        c.source = SOURCES[bisect.bisect(SOURCE_CUM, r)]
        if c.source in (Source.HOTLINE, Source.RESIDENT):
            c.contact_name, c.contact_phone = rng.choice(self.people), rng.choice(self.phones)
        else:
            c.contact_name = c.contact_phone = ""
        urgent = cat.urgent or (cat.parent_code in ("02", "03") and rng.random() < 0.03)
        c.urgency = Urgency.URGENT if urgent else Urgency.NORMAL
        if dup_of is not None:
            c.title = dup_of.title[:96] + ("（重复）" if rng.random() < 0.3 else "")
            c.description = dup_of.description
        else:
            c.title, c.description = self._text(c)
        # engine fields
        c.state = S.REPORTED
        c.owner_area = c.owner_dept = c.dispatcher = c.assignee = c.merged_into = None
        c.self_resolved = False
        c.step = 0
        c.step_started_at = c.due_at = c.remind_at = c.escalate_at = None
        c.step_budget = None
        c.is_overdue = c.is_supervised = False
        c.rework_count = c.return_count = c.dispatch_count = c.reminder_count = c.extension_count = 0
        c.accepted_at = c.accepted_on_time = c.feedback_at = c.closed_at = c.handle_due_at = None
        c.closed_on_time = None
        c.handle_due_step = -1
        c.sign_due_at = c.signed_at = c.signed_on_time = None
        c.clock = None
        c.rating, c.rated_at = "", None
        c.events, c.reminders, c.supervisions, c.extensions = [], [], [], []
        c.auto_reminded = c.auto_supervised = -1
        c.exact = False

        if cat.kind == CaseKind.INFORMATION:
            self._report(c, created_at)
            self.scenarios["information"] += 1
        else:
            self._report(c, created_at)
            name = forced or ("merged" if dup_of is not None else self._pick_scenario(c, age))
            self.scenarios[name] += 1
            self._play(c, name, dup_of)
        self.states[c.state] += 1
        if c.state != S.REJECTED and not c.merged_into and cat.kind != CaseKind.INFORMATION:
            recent = self.recent.setdefault(grid.grid.id, deque(maxlen=3))
            recent.append(c)
        return c

    def _recent_in(self, grid: _Grid, created_at: dt.datetime) -> _Case | None:
        queue = self.recent.get(grid.grid.id)
        if not queue:
            return None
        target = queue[-1]
        if created_at - target.created_at > 7 * DAY or target.state == S.REJECTED:
            return None
        return target

    def _text(self, c: _Case) -> tuple[str, str]:
        rng = self.rng
        g = c.grid
        title, desc = c.cat.templates[rng.randrange(len(c.cat.templates))]
        spot = c.area.name if c.area.level == AreaLevel.GROUP else rng.choice(g.landmarks)
        values = {
            "村": g.village_name,
            "地": spot,
            "路": rng.choice(g.roads),
            "人": rng.choice(self.people),
            "店": rng.choice(self.shops),
            "企": rng.choice(self.companies),
            "河": g.river,
            "n": rng.randint(2, 12),
            "类": c.cat.name,
        }
        return title.format_map(values)[:100], desc.format_map(values)

    def _next_id(self) -> int:
        if not self._ids:
            self._ids = deque(_reserve_ids(Case, self.batch))
        return self._ids.popleft()

    def _next_extension_id(self) -> int:
        if not self._ext_ids:
            self._ext_ids = deque(_reserve_ids(ExtensionRequest, 500))
        return self._ext_ids.popleft()

    def _number(self, created_at: dt.datetime) -> str:
        day = created_at.date()
        seq = self.next_seq.get(day, 0) + 1
        if seq > 99999:
            raise ValueError(f"more than 99,999 cases on {day}: the number has 5 digits for the daily sequence")
        self.next_seq[day] = seq
        self.used_days[day] = seq
        return f"{day:%Y%m%d}{seq:05d}"

    # --- scenarios ----------------------------------------------------------------------------------------
    def _pick_scenario(self, c: _Case, age: float) -> str:
        """Scenario weights by age (days). Open scenarios only where the engine would still hold the
        case in that state (a handling step within its limit plus the escalation grace, …)."""
        span = self._natural_days(c, S.HANDLING)
        grid_level = c.cat.level == HandlingLevel.GRID
        w: dict[str, float] = {
            "closed": 40,
            "closed_dispatched_area": 4,
            "self_resolved": 14 if grid_level else 0,
            "rework": 5,
            "returned": 4,
            "late": 6,
            "late_escalated": 2,
            "escalated": 3,
            "extension": 4,
            "rejected": 4,
        }
        grace_days = self.grace.total_seconds() / 86400
        if age < 0.3:
            w["open_reported"] = 30
        elif age < 1.2:
            w["open_reported"] = 4
        if age < 2:
            w["open_escalated"] = 5
            w["open_returned"] = 4
        if age < 1:
            w["open_feedback"] = 12
        if age < span * 0.8:
            w["open_handling"] = 30 if age < 3 else 8
            w["open_rework"] = 4
        elif age < span + 0.8 * grace_days:
            w["open_handling"] = 6
            w["open_supervised"] = 6
        if span * 0.6 < age < 45:
            w["open_extension"] = 2.5
        names = list(w)
        return self.rng.choices(names, weights=[w[n] for n in names])[0]

    def _natural_days(self, c: _Case, state: str) -> float:
        limit = c.cat.limits.get((c.urgency, state))
        if not limit:
            return 0.0
        amount, unit = limit
        return (self._approx_due(c.created_at, amount, unit) - c.created_at).total_seconds() / 86400

    def _play(self, c: _Case, name: str, dup_of: _Case | None) -> None:
        rng = self.rng
        rate = rng.random() < 0.55
        moves: list[str]
        if name == "closed":
            moves = ["handle", "feedback", "verify"]
        elif name == "closed_dispatched_area":
            moves = ["dispatch_area", "feedback", "verify"]
        elif name == "self_resolved":
            moves = ["self_resolve", "verify"]
        elif name == "rework":
            moves = ["handle", "feedback", "rework", "feedback", "verify"]
        elif name == "returned":
            moves = ["dispatch", "return", "handle", "feedback", "verify"]
        elif name == "late":
            moves = ["handle", "feedback_late", "verify"]
        elif name == "late_escalated":
            moves = ["dispatch", "wait_escalate", "handle", "feedback", "verify"]
        elif name == "escalated":
            moves = ["escalate", "handle", "feedback", "verify"]
        elif name == "extension":
            moves = ["handle", "extension", "feedback", "verify"]
        elif name == "rejected":
            moves, rate = ["reject"], False
        elif name == "merged":
            moves, rate = ["merge"], False
        elif name == "open_reported":
            moves = []
        elif name == "open_escalated":
            moves = ["escalate"]
        elif name == "open_returned":
            moves = ["dispatch", "return"]
        elif name == "open_self_resolved":
            moves = ["self_resolve"]
        elif name == "open_feedback":
            grid_level = c.cat.level == HandlingLevel.GRID
            moves = ["self_resolve"] if grid_level and rng.random() < 0.6 else ["handle", "feedback"]
        elif name == "open_rework":
            moves = ["handle", "feedback", "rework"]
        else:  # open_handling, open_supervised, open_extension
            moves = ["handle"]
        if rate and moves and moves[-1] == "verify":
            moves.append("rate")
        extras = {
            "open_supervised": ("supervise", "urge"),
            "open_extension": ("extension",),
            "open_handling": ("urge",) if rng.random() < 0.15 else (),
        }.get(name, ())
        t = c.created_at
        for i, move in enumerate(moves):
            if c.state not in OPEN_STATES and move != "rate":
                break
            dispatched = c.dispatch_count
            t = self._move(c, move, t, dup_of)
            if t is None:
                break
            following = moves[i + 1] if i + 1 < len(moves) else None
            if c.dispatch_count > dispatched and following != "return" and rng.random() < 0.93:
                t = self._move(c, "sign", t, dup_of)
                if t is None:
                    break
        if c.state in OPEN_STATES:
            self._finish_open(c, extras)

    # --- moves ----------------------------------------------------------------------------------------
    def _office(self, t: dt.datetime) -> dt.datetime:
        """Staff act mostly in office hours: a time at night moves to the next morning."""
        if 8 <= t.hour < 19 or (7 <= t.hour < 22 and self.rng.random() < 0.3):
            return t
        rng = self.rng
        day = t.date() if t.hour < 8 else t.date() + dt.timedelta(days=1)
        return dt.datetime.combine(day, dt.time(8, rng.randrange(0, 60), rng.randrange(60)), tzinfo=self.tz)

    def _quick(self) -> dt.timedelta:
        rng = self.rng
        if rng.random() < 0.88:
            return dt.timedelta(minutes=rng.uniform(3, 40))
        return dt.timedelta(minutes=rng.uniform(60, 300))

    def _move(self, c: _Case, move: str, t: dt.datetime, dup_of: _Case | None) -> dt.datetime | None:
        """Plan the move's time after `t`, replay the sweep up to it and do it. None when the move
        would lie in the future (the case stays where it is)."""
        rng = self.rng
        allow_escalate = False
        if move in ("handle", "dispatch", "dispatch_area", "reject", "merge"):
            at = self._office(t + self._quick())
        elif move == "escalate":
            at = self._office(t + dt.timedelta(minutes=rng.uniform(20, 300)))
        elif move == "sign":
            if c.dispatcher is None or c.signed_at is not None or c.state != S.HANDLING:
                return t
            at = self._office(t + self._quick())
        elif move in ("feedback", "feedback_late"):
            start = c.step_started_at
            span = (c.due_at - start) if c.due_at else DAY
            if move == "feedback":
                at = start + span * rng.uniform(0.08, 0.85)
                at = self._office(max(at, t + MINUTE))
            else:
                at = c.due_at + self.grace * rng.uniform(0.02, 0.8)
        elif move == "verify":
            at = t + dt.timedelta(minutes=rng.uniform(10, 80) if rng.random() < 0.85 else rng.uniform(80, 300))
        elif move == "rework":
            at = t + dt.timedelta(minutes=rng.uniform(20, 110))
        elif move == "return":
            at = self._office(t + dt.timedelta(hours=rng.uniform(1, 10)))
        elif move == "self_resolve":
            at = t + dt.timedelta(minutes=rng.uniform(10, 45) if rng.random() < 0.85 else rng.uniform(45, 150))
        elif move == "rate":
            at = self._office(t + dt.timedelta(hours=rng.uniform(2, 96)))
        elif move == "extension":
            start = c.step_started_at
            at = start + (c.due_at - start) * rng.uniform(0.4, 0.75)
            at = max(at, t + MINUTE)
        elif move == "wait_escalate":
            if c.due_at is None:
                return t
            at = c.due_at + self.grace + dt.timedelta(seconds=rng.uniform(1, 59))
            allow_escalate = True
        else:  # pragma: no cover - a typo in a scenario
            raise ValueError(move)
        if at <= t:  # whatever the plan, after the previous move
            at = t + dt.timedelta(minutes=rng.uniform(1, 30))
        if move != "wait_escalate" and c.state in OPEN_STATES:
            at = self._clamp(c, at, t)
        if at > self.now:
            return None
        self._sweep_to(c, at, allow_escalate)
        if move == "wait_escalate":
            return c.events[-1][8]
        if c.state not in OPEN_STATES and move != "rate":
            return None
        getattr(self, "_do_" + move)(c, at, dup_of)
        return max(at, c.events[-1][8])

    def _clamp(self, c: _Case, at: dt.datetime, after: dt.datetime) -> dt.datetime:
        """A move planned after the automatic escalation of the step happens just before it."""
        if c.due_at is None or c.state not in ESCALATING or not self._can_go_up(c):
            return at
        limit = c.due_at + self.grace
        if at >= limit - MINUTE:
            at = max(after, limit - dt.timedelta(minutes=self.rng.uniform(2, 60)))
        return at

    # --- engine mirror ----------------------------------------------------------------------------------
    def _label(self, c: _Case) -> str:
        if c.owner_dept:
            return self.dept_name[c.owner_dept]
        if c.owner_area:
            return self.nodes[c.owner_area].name
        return ""

    def _event(self, c, action, actor, before_state, before_owner, note="", data=None, at=None) -> None:
        c.events.append((action, actor, before_state, c.state, before_owner, self._label(c), note, data or {}, at))

    def _limit(self, c: _Case, state: str):
        return c.cat.limits.get((c.urgency, state))

    def _start_step(self, c: _Case, at: dt.datetime) -> None:
        c.step += 1
        c.clock = None
        c.step_started_at = at
        c.is_overdue = False
        c.escalate_at = None
        c.step_budget = None
        if c.state not in OPEN_STATES:
            c.due_at = c.remind_at = None
            return
        limit = self._limit(c, c.state)
        if limit is None:
            c.due_at = c.remind_at = None
            return
        c.due_at = self._approx_due(at, *limit)
        c.remind_at = at + (c.due_at - at) * self.remind_share if c.due_at > at else None

    def _enter(self, c: _Case, state: str, at: dt.datetime) -> None:
        c.state = state
        self._start_step(c, at)
        if state == S.HANDLING and c.handle_due_at is None:
            c.handle_due_at = c.due_at
            c.handle_due_step = c.step
        self._close_supervisions(c, at)

    def _close_supervisions(self, c: _Case, at: dt.datetime) -> None:
        if c.is_supervised:
            for s in c.supervisions:
                if s[5]:
                    s[5] = False
                    s[7] = at
            c.is_supervised = False

    def _report(self, c: _Case, at: dt.datetime) -> None:
        note = ""
        if c.cat.kind == CaseKind.INFORMATION:
            c.state = S.CLOSED
            c.closed_at = at
            note = "信息类事项，登记备案"
        else:
            c.state = S.REPORTED
            c.owner_area = self._initial_owner(c.area.id, c.cat.level)
        self._start_step(c, at)
        self._event(c, A.REPORT, c.reporter, "", "", note, None, at)

    def _accept(self, c: _Case, at: dt.datetime) -> None:
        actor = self._owner_actor(c)
        bs, bo = c.state, self._label(c)
        if c.accepted_at is None:
            c.accepted_at = at
            c.accepted_on_time = c.due_at is None or at <= c.due_at
        c.assignee = actor
        self._enter(c, S.HANDLING, at)
        self._event(c, A.ACCEPT, actor, bs, bo, "", None, at)

    def _dispatch(self, c: _Case, at: dt.datetime, target: tuple[str, int]) -> None:
        actor = self._owner_actor(c)
        bs, bo = c.state, self._label(c)
        if c.accepted_at is None:
            c.accepted_at = at
            c.accepted_on_time = c.due_at is None or at <= c.due_at
        c.dispatcher = c.owner_area
        if target[0] == "department":
            c.owner_dept, c.owner_area = target[1], None
            name = self.dept_name[target[1]]
        else:
            c.owner_area, c.owner_dept = target[1], None
            name = self.nodes[target[1]].name
        c.assignee = None
        c.dispatch_count += 1
        self._enter(c, S.HANDLING, at)
        c.handle_due_at = c.due_at
        c.handle_due_step = c.step
        accept = self._limit(c, S.REPORTED)
        c.sign_due_at = self._approx_due(at, *accept) if accept else None
        c.signed_at = c.signed_on_time = None
        data = {"target": name, "due_at": c.due_at.isoformat() if c.due_at else None}
        self._event(c, A.DISPATCH, actor, bs, bo, "", data, at)

    def _do_handle(self, c: _Case, at: dt.datetime, dup_of=None) -> None:
        """Accept or dispatch, as the owner at its level usually does."""
        if c.state not in (S.REPORTED, S.ESCALATED):
            return
        rng = self.rng
        level = self.nodes[c.owner_area].level if c.owner_area else None
        r = rng.random()
        if level in (AreaLevel.TOWN, AreaLevel.COUNTY):
            if r < 0.65:
                dept = self._pick_dept(c)
                if dept:
                    return self._dispatch(c, at, ("department", dept))
            elif r < 0.8:
                below = self._pick_below(c)
                if below:
                    return self._dispatch(c, at, ("area", below))
        elif level in (AreaLevel.ZONE, *VILLAGE_LEVELS) and r < 0.3:
            below = self._pick_below(c)
            if below:
                return self._dispatch(c, at, ("area", below))
        self._accept(c, at)

    def _do_dispatch(self, c: _Case, at: dt.datetime, dup_of=None) -> None:
        if c.state not in ESCALATING:
            return
        dept = self._pick_dept(c) if c.owner_area else None
        if dept:
            self._dispatch(c, at, ("department", dept))
        else:
            self._do_handle(c, at)

    def _do_dispatch_area(self, c: _Case, at: dt.datetime, dup_of=None) -> None:
        if c.state not in ESCALATING:
            return
        below = self._pick_below(c) if c.owner_area else None
        if below:
            self._dispatch(c, at, ("area", below))
        else:
            self._do_handle(c, at)

    def _do_sign(self, c: _Case, at: dt.datetime, dup_of=None) -> None:
        """签收 by the receiving unit of a dispatched case."""
        if c.state != S.HANDLING or c.dispatcher is None or c.signed_at is not None:
            return
        actor = self._owner_actor(c)
        c.signed_at = at
        c.signed_on_time = c.sign_due_at is None or at <= c.sign_due_at
        c.assignee = actor
        self._event(c, A.SIGN, actor, c.state, self._label(c), "", {"on_time": c.signed_on_time}, at)

    def _do_return(self, c: _Case, at: dt.datetime, dup_of=None) -> None:
        if c.state != S.HANDLING or c.dispatcher is None:
            return
        actor = self._owner_actor(c)
        bs, bo = c.state, self._label(c)
        c.owner_area, c.owner_dept = c.dispatcher, None
        c.dispatcher = None
        c.assignee = None
        c.return_count += 1
        self._enter(c, S.REPORTED, at)
        self._event(c, A.RETURN, actor, bs, bo, self.rng.choice(RETURN_NOTES), None, at)

    def _do_escalate(self, c: _Case, at: dt.datetime, dup_of=None, actor="owner") -> None:
        if c.state not in ESCALATING:
            return
        if not self._can_go_up(c):
            return self._do_handle(c, at)
        if actor == "owner":
            actor = self._owner_actor(c)
        bs, bo = c.state, self._label(c)
        target = self.dept_area[c.owner_dept] if c.owner_dept else self.nodes[c.owner_area].parent_id
        c.owner_area, c.owner_dept = target, None
        c.dispatcher = None
        c.assignee = None
        self._enter(c, S.ESCALATED, at)
        note = "超时未办结，系统自动上报" if actor is None else ""
        self._event(c, A.ESCALATE, actor, bs, bo, note, {"automatic": actor is None}, at)

    def _do_feedback(self, c: _Case, at: dt.datetime, dup_of=None) -> None:
        if c.state != S.HANDLING:
            return
        actor = self._owner_actor(c)
        bs, bo = c.state, self._label(c)
        c.feedback_at = at
        c.assignee = actor
        self._enter(c, S.FEEDBACK, at)
        notes = FEEDBACK_NOTES.get(c.cat.parent_code, GENERIC_FEEDBACK)
        self._event(c, A.SUBMIT_FEEDBACK, actor, bs, bo, self.rng.choice(notes), None, at)

    _do_feedback_late = _do_feedback

    def _do_self_resolve(self, c: _Case, at: dt.datetime, dup_of=None) -> None:
        if c.state != S.REPORTED:
            return
        actor = c.reporter
        bs, bo = c.state, self._label(c)
        c.self_resolved = True
        c.assignee = actor
        c.feedback_at = at
        c.owner_area, c.owner_dept = c.grid.grid.id, None
        self._enter(c, S.FEEDBACK, at)
        notes = FEEDBACK_NOTES.get(c.cat.parent_code, GENERIC_FEEDBACK)
        self._event(c, A.SELF_RESOLVE, actor, bs, bo, self.rng.choice(notes), {"self_resolved_by": actor}, at)

    def _checker(self, c: _Case) -> int | None:
        chiefs = self.holders.get((Role.GRID_CHIEF, c.grid.grid.id)) or []
        if c.self_resolved:
            others = [u for u in chiefs if u != c.assignee]
            return self.rng.choice(others) if others else None
        if chiefs and self.rng.random() < 0.2:
            return self.rng.choice(chiefs)
        return c.reporter

    def _do_verify(self, c: _Case, at: dt.datetime, dup_of=None) -> None:
        if c.state != S.FEEDBACK:
            return
        actor = self._checker(c)
        bs, bo = c.state, self._label(c)
        c.state = S.CLOSED
        c.closed_at = at
        c.closed_on_time = c.handle_due_at is None or (c.feedback_at or at) <= c.handle_due_at
        self._start_step(c, at)
        self._close_supervisions(c, at)
        self._event(c, A.VERIFY, actor, bs, bo, self.rng.choice(VERIFY_NOTES), None, at)

    def _do_rework(self, c: _Case, at: dt.datetime, dup_of=None) -> None:
        if c.state != S.FEEDBACK:
            return
        actor = self._checker(c)
        bs, bo = c.state, self._label(c)
        c.rework_count += 1
        self._enter(c, S.HANDLING, at)
        self._event(c, A.REWORK, actor, bs, bo, self.rng.choice(REWORK_NOTES), None, at)

    def _do_reject(self, c: _Case, at: dt.datetime, dup_of=None) -> None:
        if c.state not in (S.REPORTED, S.ESCALATED):
            return
        actor = self._owner_actor(c)
        bs, bo = c.state, self._label(c)
        c.state = S.REJECTED
        self._start_step(c, at)
        self._close_supervisions(c, at)
        self._event(c, A.REJECT, actor, bs, bo, self.rng.choice(REJECT_NOTES), None, at)

    def _do_merge(self, c: _Case, at: dt.datetime, dup_of=None) -> None:
        if dup_of is None or c.state not in ESCALATING:
            return self._do_reject(c, at)
        actor = self._owner_actor(c)
        bs, bo = c.state, self._label(c)
        c.merged_into = dup_of.id
        c.state = S.CLOSED
        c.closed_at = at
        self._start_step(c, at)
        self._close_supervisions(c, at)
        data = {"into": dup_of.id, "into_number": dup_of.number}
        self._event(c, A.MERGE, actor, bs, bo, f"与 {dup_of.number} 为同一事项", data, at)

    def _do_rate(self, c: _Case, at: dt.datetime, dup_of=None) -> None:
        if c.state != S.CLOSED or c.rating:
            return
        rng = self.rng
        centre = self._centre(c)
        actor = rng.choice(centre) if centre and rng.random() < 0.8 else c.reporter
        r = rng.random()
        rating = Rating.SATISFIED if r < 0.7 else Rating.BASICALLY if r < 0.92 else Rating.UNSATISFIED
        bs, bo = c.state, self._label(c)
        c.rating, c.rated_at = rating, at
        self._event(c, A.RATE, actor, bs, bo, "电话回访" if actor != c.reporter else "", {"rating": rating}, at)

    def _do_extension(self, c: _Case, at: dt.datetime, dup_of=None, amount: int | None = None) -> None:
        """Request and approval (a few hours later) of an extension of the handling step."""
        if c.state != S.HANDLING or c.due_at is None:
            return
        rng = self.rng
        actor = self._owner_actor(c)
        if actor is None:
            return  # nobody holds the owning post (an incomplete tree): no request
        amount = amount or rng.randint(3, 10)
        unit = LimitUnit.WORKING_DAYS
        bo = self._label(c)
        reason = rng.choice(EXTENSION_REASONS)
        ext_id = self._next_extension_id()
        ext = {
            "id": ext_id,
            "step": c.step,
            "requested_by": actor,
            "amount": amount,
            "unit": unit,
            "reason": reason,
            "created_at": at,
        }
        self._event(c, A.REQUEST_EXTENSION, actor, c.state, bo, reason, {"amount": str(amount), "unit": unit}, at)
        decided = self._office(at + dt.timedelta(hours=rng.uniform(0.5, 8)))
        decided = self._clamp(c, decided, at)
        decided = min(decided, self.now)
        self._sweep_to(c, decided)
        approver = self._supervisor(c)
        base = max(c.due_at, decided) if c.is_overdue else c.due_at
        ext.update(decided_by=approver, decided_at=decided, decision_note=rng.choice(EXTENSION_DECISIONS))
        ext.update(old_due_at=c.due_at, new_due_at=None)
        c.extensions.append(ext)
        c.extension_count += 1
        # As services._decide_extension: a new clock (a new step for the automatic reminder and
        # supervision) from the old deadline; the step's start stays.
        c.step += 1
        c.is_overdue = False
        c.escalate_at = None
        self._close_supervisions(c, decided)
        data = {"request": ext_id, "new_due_at": None}
        self._event(c, A.APPROVE_EXTENSION, approver, c.state, bo, ext["decision_note"], data, decided)
        limit = self._limit(c, S.HANDLING)
        c.clock = (base, amount, unit, decided, ext, data, bool(limit and limit[1] in WORKING_UNITS))
        if c.exact:
            self._extension_clock(c)
        else:
            new_due = self._approx_due(base, amount, unit)
            c.remind_at = decided + (new_due - decided) * self.remind_share if new_due > decided else None
            c.step_budget = None
            self._set_extended_due(c, new_due)

    def _set_extended_due(self, c: _Case, new_due: dt.datetime) -> None:
        ext, data = c.clock[4], c.clock[5]
        ext["new_due_at"] = new_due
        data["new_due_at"] = new_due.isoformat()
        c.handle_due_at = new_due
        c.due_at = new_due

    def _extension_clock(self, c: _Case) -> None:
        """The exact deadline of an extended step (services._decide_extension)."""
        base, amount, unit, decided, _ext, _data, had_budget = c.clock
        cal = self._calendar(c)
        new_due = cal.due(base, amount, unit)
        if had_budget and unit in WORKING_UNITS:
            c.step_budget = cal.elapsed_minutes(c.step_started_at, new_due)
        else:
            c.step_budget = None
        c.remind_at = _remind_time(cal, decided, new_due, natural=c.step_budget is None)
        self._set_extended_due(c, new_due)

    def _urge(self, c: _Case, at: dt.datetime) -> None:
        actor = self._supervisor(c)
        note = self.rng.choice(URGE_NOTES)
        c.reminders.append((c.step, False, actor, note, c.due_at, at))
        c.reminder_count += 1
        self._event(c, A.URGE, actor, c.state, self._label(c), note, None, at)

    def _supervise(self, c: _Case, at: dt.datetime) -> None:
        actor = self._supervisor(c)
        note = self.rng.choice(SUPERVISE_NOTES)
        c.supervisions.append([c.step, False, actor, self._supervising_area(c), note, True, at, None])
        c.is_supervised = True
        self._event(c, A.SUPERVISE, actor, c.state, self._label(c), note, None, at)

    # --- the sweep, replayed ------------------------------------------------------------------------------
    def _sweep_to(self, c: _Case, until: dt.datetime, allow_escalate: bool = False) -> None:
        """What cases.sweep would have done to the case up to `until` (passes every minute)."""
        rng = self.rng
        for _ in range(8):
            if c.state not in OPEN_STATES:
                return
            last = c.events[-1][8]
            if c.remind_at is not None and c.remind_at <= until:
                at = min(max(c.remind_at + dt.timedelta(seconds=rng.uniform(1, 59)), last), until)
                if c.auto_reminded != c.step:
                    c.reminders.append((c.step, True, None, "即将到期", c.due_at, at))
                    c.auto_reminded = c.step
                c.reminder_count += 1
                c.remind_at = None
                data = {"due_at": c.due_at.isoformat() if c.due_at else None}
                self._event(c, A.REMIND, None, c.state, self._label(c), "即将到期，请抓紧办理", data, at)
                last = at
            if c.due_at is not None and c.due_at < until and not c.is_overdue:
                at = min(max(c.due_at + dt.timedelta(seconds=rng.uniform(1, 59)), last), until)
                c.is_overdue = True
                c.is_supervised = True
                c.remind_at = None
                can_go_up = c.state in ESCALATING and self._can_go_up(c)
                c.escalate_at = (c.due_at + self.grace) if can_go_up else None
                if c.auto_supervised != c.step:
                    c.supervisions.append(
                        [c.step, True, None, self._supervising_area(c), "超时自动督办", True, at, None]
                    )
                    c.auto_supervised = c.step
                self._event(c, A.OVERDUE, None, c.state, self._label(c), "已超过办理期限，列入督办", None, at)
                last = at
            if allow_escalate and c.escalate_at is not None and c.escalate_at <= until:
                at = min(max(c.escalate_at + dt.timedelta(seconds=rng.uniform(1, 59)), last), until)
                self._do_escalate(c, at, actor=None)
                if c.exact:
                    self._exact_step(c)
                continue
            return

    def _finish_open(self, c: _Case, extras: tuple) -> None:
        """The current step of an open case, exactly: calendar deadline, then the sweep up to now."""
        rng = self.rng
        c.exact = True
        self._exact_step(c)
        s = c.step_started_at
        if "extension" in extras and c.state == S.HANDLING and c.due_at is not None:
            request = s + (min(c.due_at, self.now) - s) * rng.uniform(0.45, 0.8)
            request = self._clamp(c, request, s)
            if request <= self.now:
                self._sweep_to(c, request)
                if c.state == S.HANDLING:
                    base = max(c.due_at, request)
                    want = (self.now - base).total_seconds() / 86400
                    amount = max(2, min(60, math.ceil(max(want, 0) / 1.4) + rng.randint(1, 6)))
                    self._do_extension(c, request, amount=amount)
        if "urge" in extras and c.state in OPEN_STATES and self.now - s > 6 * HOUR:
            last = c.events[-1][8]
            at = last + (self.now - last) * rng.uniform(0.3, 0.9)
            at = self._clamp(c, at, last)
            self._sweep_to(c, at)
            if c.state in OPEN_STATES:
                self._urge(c, max(at, c.events[-1][8]))
        self._sweep_to(c, self.now, allow_escalate=True)
        if "supervise" in extras and c.is_overdue and c.state in OPEN_STATES:
            last = c.events[-1][8]
            at = min(last + dt.timedelta(minutes=rng.uniform(10, 360)), self.now)
            self._supervise(c, at)

    def _exact_step(self, c: _Case) -> None:
        """Recompute the current step's clock with the working calendar (as services.start_step)."""
        s = c.step_started_at
        limit = self._limit(c, c.state)
        c.step_budget = None
        if limit is None or c.state not in OPEN_STATES:
            c.due_at = c.remind_at = None
            return
        cal = self._calendar(c)
        if c.clock is not None:
            # Extended: the category clock of the step was history, the extension is exact.
            self._extension_clock(c)
            return
        amount, unit = limit
        due = cal.due(s, Decimal(str(amount)), unit)
        if unit in WORKING_UNITS:
            c.step_budget = cal.elapsed_minutes(s, due)
        c.due_at = due
        c.remind_at = _remind_time(cal, s, due, natural=c.step_budget is None)
        if c.handle_due_step == c.step:
            c.handle_due_at = due
        for event in reversed(c.events):
            if event[8] < s:
                break
            if event[0] == A.DISPATCH and event[8] == s:
                event[7]["due_at"] = due.isoformat()
                accept = self._limit(c, S.REPORTED)
                c.sign_due_at = cal.due(s, Decimal(str(accept[0])), accept[1]) if accept else None
                if c.signed_at is not None:
                    c.signed_on_time = c.sign_due_at is None or c.signed_at <= c.sign_due_at
                    for e in c.events:
                        if e[0] == A.SIGN and e[8] == c.signed_at:
                            e[7]["on_time"] = c.signed_on_time

    # --- people and places -------------------------------------------------------------------------------
    def _calendar(self, c: _Case) -> workcal.WorkingCalendar:
        return self.calendars[c.grid.county]

    def _initial_owner(self, area_id: int, level: str) -> int:
        key = (area_id, level)
        owner = self._owner_cache.get(key)
        if owner is None:
            target = LEVEL_OF_HANDLING[level]
            node = self.nodes[area_id]
            owner = None
            while node is not None:
                if LEVEL_RANK[node.level] <= target:
                    owner = node.id
                    break
                if node.parent_id is None:
                    owner = node.id  # the root
                    break
                node = self.nodes[node.parent_id]
            self._owner_cache[key] = owner
        return owner

    def _can_go_up(self, c: _Case) -> bool:
        return c.owner_dept is not None or (c.owner_area is not None and self.nodes[c.owner_area].parent_id is not None)

    def _area_actors(self, area_id: int) -> list[int]:
        """Users holding the OWNER capacity for an area (transitions.OWNER_ROLES)."""
        actors = self._actors_cache.get(area_id)
        if actors is None:
            node = self.nodes[area_id]
            h = self.holders
            if node.level in (*GRID_LEVELS, AreaLevel.GROUP):
                actors = h.get((Role.GRID_CHIEF, area_id), [])
            elif node.level in VILLAGE_LEVELS:
                actors = list(h.get((Role.ZONE_CHIEF, area_id), []))
                up = node.parent_id
                while up is not None and not actors:
                    if self.nodes[up].level == AreaLevel.ZONE:
                        actors = list(h.get((Role.ZONE_CHIEF, up), []))
                    up = self.nodes[up].parent_id
            elif node.level == AreaLevel.ZONE:
                actors = h.get((Role.ZONE_CHIEF, area_id), [])
            elif node.level == AreaLevel.TOWN:
                actors = h.get((Role.CENTRE_STAFF, area_id)) or h.get((Role.TOWN_LEADER, area_id), [])
            else:
                actors = h.get((Role.COUNTY_OFFICIAL, area_id), [])
            self._actors_cache[area_id] = actors
        return actors

    def _owner_actor(self, c: _Case) -> int | None:
        if c.owner_dept:
            staff = self.dept_staff.get(c.owner_dept)
        else:
            staff = self._area_actors(c.owner_area) if c.owner_area else None
        return self.rng.choice(staff) if staff else None

    def _centre(self, c: _Case) -> list[int]:
        town = c.grid.town
        if town is None:
            return []
        return self.holders.get((Role.CENTRE_STAFF, town)) or self.holders.get((Role.TOWN_LEADER, town), [])

    def _supervisor(self, c: _Case) -> int | None:
        """A user with the SUPERVISOR capacity: the centre of the town above the owner, or the county."""
        key = ("d", c.owner_dept) if c.owner_dept else ("a", c.owner_area)
        sups = self._sup_cache.get(key)
        if sups is None:
            start = self.dept_area[c.owner_dept] if c.owner_dept else self.nodes[c.owner_area].parent_id
            sups, fallback = [], []
            node_id = start
            while node_id is not None and not sups:
                node = self.nodes[node_id]
                if node.level == AreaLevel.TOWN:
                    sups = self.holders.get((Role.CENTRE_STAFF, node_id)) or self.holders.get(
                        (Role.TOWN_LEADER, node_id), []
                    )
                elif node.level == AreaLevel.COUNTY:
                    sups = self.holders.get((Role.COUNTY_OFFICIAL, node_id), [])
                elif node.level == AreaLevel.ZONE and not fallback:
                    fallback = self.holders.get((Role.ZONE_CHIEF, node_id), [])
                node_id = node.parent_id
            sups = sups or fallback
            self._sup_cache[key] = sups
        return self.rng.choice(sups) if sups else None

    def _supervising_area(self, c: _Case) -> int | None:
        if c.owner_dept:
            return c.dispatcher or self.dept_area[c.owner_dept]
        if c.owner_area:
            return self.nodes[c.owner_area].parent_id or c.owner_area
        return c.grid.town

    def _pick_dept(self, c: _Case) -> int | None:
        """A department serving the case's area (town units, county departments), by the
        category's hint; another unit than the current one after a return."""
        owner_level = self.nodes[c.owner_area].level if c.owner_area else None
        key = (c.grid.town, c.grid.county, c.cat.code, owner_level)
        cands = self._dept_cache.get(key)
        if cands is None:
            town = self.depts_at.get(c.grid.town, []) if owner_level != AreaLevel.COUNTY else []
            county = self.depts_at.get(c.grid.county, [])
            hint = c.cat.hint
            matched = [d[0] for d in town + county if hint and hint in d[1]]
            if not matched:
                matched = [d[0] for d in town if d[2] == DepartmentKind.SERVICE_TEAM] or [d[0] for d in town + county]
            cands = matched
            self._dept_cache[key] = cands
        if not cands:
            return None
        used = {e[7].get("target") for e in c.events if e[0] == A.DISPATCH}
        fresh = [d for d in cands if self.dept_name[d] not in used]
        if not fresh:
            pool = self.depts_at.get(c.grid.town, []) + self.depts_at.get(c.grid.county, [])
            fresh = [d[0] for d in pool if d[1] not in used]
        return self.rng.choice(fresh) if fresh else None

    def _pick_below(self, c: _Case) -> int | None:
        """A unit strictly below the owner that contains the case's area (village or grid)."""
        owner = c.owner_area
        chain = []
        node = self.nodes[c.area.id]
        while node is not None and node.id != owner:
            if node.level in (*VILLAGE_LEVELS, *GRID_LEVELS) and self._area_actors(node.id):
                chain.append(node.id)
            node = self.nodes.get(node.parent_id) if node.parent_id else None
        if node is None or not chain:
            return None
        return self.rng.choice(chain)

    # --- time ---------------------------------------------------------------------------------------------
    def _approx_due(self, start: dt.datetime, amount: float, unit: str) -> dt.datetime:
        """Natural-time approximation of WorkingCalendar.due for history (module docstring)."""
        if unit == LimitUnit.NATURAL_MINUTES:
            return start + dt.timedelta(minutes=amount)
        if unit == LimitUnit.NATURAL_HOURS:
            return start + dt.timedelta(hours=amount)
        if unit == LimitUnit.WORKING_DAYS:
            return start + dt.timedelta(days=max(1, round(amount * 7 / 5)))
        minutes = amount * 60 if unit == LimitUnit.WORKING_HOURS else amount
        local = start.astimezone(self.tz)
        opening = local.replace(hour=8, minute=30, second=0, microsecond=0)
        if local < opening:
            local = opening
        elif local.hour * 60 + local.minute >= 17 * 60 + 30:
            local = opening + DAY
        while True:
            closing = local.replace(hour=17, minute=30, second=0, microsecond=0)
            room = (closing - local).total_seconds() / 60
            if minutes <= room:
                return local + dt.timedelta(minutes=minutes)
            minutes -= room
            local = local.replace(hour=8, minute=30, second=0, microsecond=0) + DAY

    # --- writing -----------------------------------------------------------------------------------------
    def _flush(self, sims: list[_Case]) -> None:
        now = self.now
        cases, events, reminders, supervisions, extensions = [], [], [], [], []
        path_of = self._path_columns
        for c in sims:
            events_of = c.events
            row = {
                "id": c.id,
                "number": c.number,
                "source": c.source,
                "kind": c.cat.kind,
                "category_id": c.cat.id,
                "urgency": c.urgency,
                "title": c.title,
                "description": c.description,
                "reporter_id": c.reporter,
                "contact_name": c.contact_name,
                "contact_phone": c.contact_phone,
                "household_id": None,
                "latitude": None,
                "longitude": None,
                "area_id": c.area.id,
                "state": c.state,
                "owner_area_id": c.owner_area,
                "owner_department_id": c.owner_dept,
                "dispatcher_area_id": c.dispatcher,
                "assignee_id": c.assignee,
                "self_resolved": c.self_resolved,
                "merged_into_id": c.merged_into,
                "step": c.step,
                "step_started_at": c.step_started_at,
                "due_at": c.due_at,
                "step_budget_minutes": c.step_budget,
                "remind_at": c.remind_at,
                "escalate_at": c.escalate_at,
                "is_overdue": c.is_overdue,
                "is_supervised": c.is_supervised,
                "rework_count": c.rework_count,
                "return_count": c.return_count,
                "dispatch_count": c.dispatch_count,
                "reminder_count": c.reminder_count,
                "extension_count": c.extension_count,
                "accepted_at": c.accepted_at,
                "accepted_on_time": c.accepted_on_time,
                "sign_due_at": c.sign_due_at,
                "signed_at": c.signed_at,
                "signed_on_time": c.signed_on_time,
                "feedback_at": c.feedback_at,
                "closed_at": c.closed_at,
                "handle_due_at": c.handle_due_at,
                "closed_on_time": c.closed_on_time,
                "rating": c.rating,
                "rated_at": c.rated_at,
                "version": len(events_of),
                "created_at": c.created_at,
                "updated_at": min(events_of[-1][8], now),
            }
            row.update(path_of(c.area.id))
            cases.append(row)
            cid = c.id
            for seq, (action, actor, fs, ts, ob, oa, note, data, at) in enumerate(events_of, 1):
                events.append(
                    {
                        "case_id": cid,
                        "seq": seq,
                        "action": action,
                        "actor_id": actor,
                        "from_state": fs,
                        "to_state": ts,
                        "owner_before": ob[:120],
                        "owner_after": oa[:120],
                        "note": note,
                        "data": data,
                        "created_at": at,
                    }
                )
            for step, automatic, sent_by, note, due_at, at in c.reminders:
                reminders.append(
                    {
                        "case_id": cid,
                        "step": step,
                        "automatic": automatic,
                        "sent_by_id": sent_by,
                        "note": note,
                        "due_at": due_at,
                        "created_at": at,
                    }
                )
            for step, automatic, opened_by, level_area, note, is_open, at, closed_at in c.supervisions:
                supervisions.append(
                    {
                        "case_id": cid,
                        "step": step,
                        "automatic": automatic,
                        "opened_by_id": opened_by,
                        "level_area_id": level_area,
                        "note": note,
                        "is_open": is_open,
                        "created_at": at,
                        "closed_at": closed_at,
                    }
                )
            for e in c.extensions:
                extensions.append(
                    {
                        "id": e["id"],
                        "case_id": cid,
                        "step": e["step"],
                        "requested_by_id": e["requested_by"],
                        "amount": Decimal(e["amount"]),
                        "unit": e["unit"],
                        "reason": e["reason"],
                        "status": ExtensionStatus.APPROVED,
                        "decided_by_id": e["decided_by"],
                        "decided_at": e["decided_at"],
                        "decision_note": e["decision_note"],
                        "old_due_at": e["old_due_at"],
                        "new_due_at": e["new_due_at"],
                        "created_at": e["created_at"],
                    }
                )
        tables = [(Case, cases), (ExtensionRequest, extensions), (Reminder, reminders), (Supervision, supervisions)]
        tables.append((CaseEvent, events))
        self.writer.put(tables)
        self.stats["cases"] += len(cases)
        self.stats["events"] += len(events)
        self.stats["reminders"] += len(reminders)
        self.stats["supervisions"] += len(supervisions)
        self.stats["extensions"] += len(extensions)
        if self.stats["cases"] % (self.batch * 20) == 0 or self.stats["cases"] == self.count:
            self.log(f"  cases: {self.stats['cases']:,} / {self.count:,}")

    def _path_columns(self, area_id: int) -> dict[str, int | None]:
        cached = self._paths.get(area_id)
        if cached is None:
            cached = self._paths[area_id] = {f"{k}_id": v for k, v in self.paths(area_id).items()}
        return cached

    def _update_case_numbers(self) -> None:
        with transaction.atomic():
            existing = {
                row.day: row for row in CaseNumber.objects.select_for_update().filter(day__in=list(self.used_days))
            }
            new = []
            for day, last in self.used_days.items():
                row = existing.get(day)
                if row is None:
                    new.append(CaseNumber(day=day, last=last))
                elif row.last < last:
                    CaseNumber.objects.filter(day=day).update(last=last)
            CaseNumber.objects.bulk_create(new)


class _Writer:
    """Writes batches of rows, one transaction each. On PostgreSQL (outside a transaction of the
    caller) a background thread with its own connection does it, so the database works on one
    batch while the next is generated (psycopg2 releases the GIL during COPY and commit); one
    batch at most waits in between. Elsewhere the batch is written at once."""

    def __init__(self, threaded: bool) -> None:
        self.threaded = threaded
        self.error: BaseException | None = None
        if threaded:
            self.queue: queue.Queue = queue.Queue(maxsize=1)
            self.thread = threading.Thread(target=self._run, name="demo-cases-writer", daemon=True)
            self.thread.start()

    def put(self, tables: list[tuple]) -> None:
        if not self.threaded:
            _write_batch(tables)
            return
        if self.error is not None:
            raise self.error
        self.queue.put(tables)

    def close(self) -> None:
        if not self.threaded:
            return
        self.queue.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        try:
            while (tables := self.queue.get()) is not None:
                _write_batch(tables)
        except BaseException as exc:
            self.error = exc
            while self.queue.get() is not None:  # let the producer finish; it raises on its next put
                pass
        finally:
            connection.close()  # this thread's connection


def _write_batch(tables: list[tuple]) -> None:
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                # Demo rows: a crash may lose the last batch, never corrupt anything.
                cur.execute("SET LOCAL synchronous_commit = off")
        for model, rows in tables:
            _write(model, rows)
    reset_queries()  # under DEBUG, Django would keep every (huge) INSERT in memory


def _write(model, rows: list[dict]) -> None:
    """Insert rows (dicts by attname; fields left out take their model default): COPY on
    PostgreSQL, bulk_create elsewhere."""
    if not rows:
        return
    given = rows[0].keys()
    missing = {
        f.attname: f.get_default()
        for f in model._meta.concrete_fields
        if f.attname not in given and not (f.primary_key and f.attname == "id")
    }
    if connection.vendor != "postgresql":
        model.objects.bulk_create([model(**missing, **row) for row in rows], batch_size=1000)
        return
    names = list(given) + list(missing)
    columns = ", ".join(connection.ops.quote_name(model._meta.get_field(n).column) for n in names)
    tail = "\t".join(_copy_value(v) for v in missing.values())
    buf = io.StringIO()
    write = buf.write
    for row in rows:
        line = "\t".join([_copy_value(v) for v in row.values()])
        write(line + ("\t" + tail if missing else "") + "\n")
    buf.seek(0)
    with connection.cursor() as cur:
        cur.copy_expert(f"COPY {connection.ops.quote_name(model._meta.db_table)} ({columns}) FROM STDIN", buf)


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_value(v) -> str:
    """One value in PostgreSQL's COPY text format."""
    if v is None:
        return "\\N"
    if isinstance(v, str):
        return v.translate(_COPY_ESCAPES)
    if isinstance(v, dt.datetime):
        return v.isoformat()
    if v is True:
        return "t"
    if v is False:
        return "f"
    if isinstance(v, int | Decimal):
        return str(v)
    if isinstance(v, dict | list):
        return json.dumps(v, ensure_ascii=False).translate(_COPY_ESCAPES)
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v).translate(_COPY_ESCAPES)


def _cumulative(weights: list[float]) -> list[float]:
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return out


def _reserve_ids(model, n: int) -> list[int]:
    """n primary keys nobody else will use: from the sequence on PostgreSQL, above the current
    maximum elsewhere (demo data is written by one process at a time)."""
    table = model._meta.db_table
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, n],
            )
            return [row[0] for row in cur.fetchall()]
        cur.execute(f"SELECT COALESCE(MAX(id), 0) FROM {connection.ops.quote_name(table)}")
        start = max(cur.fetchone()[0], _reserved_above.get(table, 0))
    _reserved_above[table] = start + n
    return list(range(start + 1, start + n + 1))


_reserved_above: dict[str, int] = {}


@contextlib.contextmanager
def _historical_timestamps():
    """Keep the generated created_at/updated_at: switch auto_now(_add) off while writing. Also
    memoise chinesecalendar's `is_workday` (a pure function of the date that costs ~20 µs a call,
    recomputing the package's year range each time) for the exact deadlines of open cases."""
    original = chinese_calendar.is_workday
    chinese_calendar.is_workday = functools.lru_cache(maxsize=4096)(original)
    fields = []
    for model in (Case, CaseEvent, Reminder, Supervision, ExtensionRequest):
        for f in model._meta.concrete_fields:
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                fields.append((f, f.auto_now, f.auto_now_add))
                f.auto_now = f.auto_now_add = False
    try:
        yield
    finally:
        chinese_calendar.is_workday = original
        for f, auto_now, auto_now_add in fields:
            f.auto_now, f.auto_now_add = auto_now, auto_now_add
        _reserved_above.clear()
