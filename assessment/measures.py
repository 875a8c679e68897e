"""The registry of measurable facts that rules count. docs/assessment.md describes each precisely.

A measure is one grouped query over the whole county for a month that returns `Fact`s: one per
occurrence, each naming the record that proves it (model label + id, and the case when there is
one), a Chinese explanation, the place where it happened and, depending on the measure, the
person responsible and the level or department that held the case.

How a fact finds its subjects is declared by the measure, separately for persons and units:
- PLACE  — the place where it happened: persons posted at that area or above it (the grid's
           workers, the zone's chief), units whose area contains it;
- HOLDER — who held the case: grid chiefs for grid-level holders, zone chiefs for zone/village
           holders, the staff of a holding department; units whose area contains the holder
           (a department counts where it is attached), the holding department as a unit;
- PERSON — the person responsible (reporter, handler), in the post of theirs that covers the
           place (or the holding department for department staff).
Rules choose a measure and a subject kind; the engine does the matching in memory.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

from django.apps import apps
from django.db.models import OuterRef, Q, Subquery
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases import calendar as workcal
from cases.choices import Action, CaseKind, CaseState, Rating
from grids.choices import GRID_LEVELS, AreaLevel

from .choices import SubjectKind
from .periods import Period

K = SubjectKind


class Match(StrEnum):
    PLACE = "place"
    HOLDER = "holder"
    PERSON = "person"


@dataclass(slots=True)
class Fact:
    occurred_on: dt.date
    source_model: str
    source_id: int
    explanation: str
    place_id: int | None
    case_id: int | None = None
    user_id: int | None = None
    holder_area_id: int | None = None
    holder_department_id: int | None = None

    @property
    def ref(self) -> str:
        return f"{self.source_model}:{self.source_id}"


# --- the area tree and departments, read once per computation ---------------------------------


class Tree:
    """The whole area tree in memory (a county has a few thousand areas): ancestors by walking
    parent ids, cached per area."""

    def __init__(self) -> None:
        from grids.models import Area

        self.nodes: dict[int, tuple[int | None, str, str, bool]] = {
            pk: (parent, level, name, active)
            for pk, parent, level, name, active in Area.objects.values_list(
                "id", "parent_id", "level", "name", "is_active"
            )
        }
        self._ancestors: dict[int, tuple[int, ...]] = {}

    def ancestors(self, area_id: int | None) -> tuple[int, ...]:
        """The area itself and every area above it, nearest first."""
        if area_id is None:
            return ()
        cached = self._ancestors.get(area_id)
        if cached is None:
            chain = []
            current = area_id
            while current is not None and current in self.nodes:
                chain.append(current)
                current = self.nodes[current][0]
            cached = self._ancestors[area_id] = tuple(chain)
        return cached

    def level(self, area_id: int) -> str | None:
        node = self.nodes.get(area_id)
        return node[1] if node else None

    def name(self, area_id: int) -> str:
        node = self.nodes.get(area_id)
        return node[2] if node else ""

    def is_active(self, area_id: int) -> bool:
        node = self.nodes.get(area_id)
        return bool(node and node[3])


class Departments:
    def __init__(self) -> None:
        from staff.models import Department

        self.rows = {
            pk: (name, area_id, active)
            for pk, name, area_id, active in Department.objects.values_list("id", "name", "area_id", "is_active")
        }
        self.by_name: dict[str, list[int]] = {}
        for pk, (name, _area, _active) in sorted(self.rows.items()):
            self.by_name.setdefault(name, []).append(pk)

    def area_of(self, department_id: int | None) -> int | None:
        row = self.rows.get(department_id)
        return row[1] if row else None


@dataclass
class Context:
    period: Period
    tree: Tree = field(default_factory=Tree)
    departments: Departments = field(default_factory=Departments)

    @cached_property
    def workdays(self) -> frozenset[dt.date]:
        return frozenset(d for d in self.period.days() if workcal.is_workday(d))

    def local_date(self, moment: dt.datetime) -> dt.date:
        return moment.astimezone(self.period.tz).date()

    def holder(self, label: str, place_id: int | None, data: dict | None = None) -> tuple[int | None, int | None]:
        """(area id, department id) of the holder named by an event's owner label.

        Events record the holder as a label (`CaseEvent.owner_before`: the department's or the
        area's name). Ids in the event's data win when present (`owner_area_id` /
        `owner_department_id`); otherwise the label is matched against the areas on the case's own
        path (a case is only ever held by an area that contains it), then against departments
        attached to an area on that path, then against a department name that is unique."""
        data = data or {}
        if data.get("owner_department_id"):
            return None, int(data["owner_department_id"])
        if data.get("owner_area_id"):
            return int(data["owner_area_id"]), None
        if not label:
            return None, None
        path = self.tree.ancestors(place_id)
        for area_id in path:
            if self.tree.name(area_id) == label:
                return area_id, None
        candidates = self.departments.by_name.get(label, [])
        for department_id in candidates:
            if self.departments.area_of(department_id) in path:
                return None, department_id
        if len(candidates) == 1:
            return None, candidates[0]
        return None, None


# --- the registry -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    code: str
    label: str
    description: str
    person_match: Match
    unit_match: Match
    kinds: frozenset
    collect: Callable[[Context], list[Fact]]


REGISTRY: dict[str, Measure] = {}

PEOPLE_ON_GROUND = frozenset({K.GRID_WORKER, K.GRID_CHIEF, K.ZONE_CHIEF})
AREA_UNITS = frozenset({K.GRID, K.ZONE, K.TOWN})
HOLDERS = frozenset({K.GRID_CHIEF, K.ZONE_CHIEF, K.DEPARTMENT_STAFF})


def measure(code, label, description, *, person, unit, kinds):
    def register(fn):
        REGISTRY[code] = Measure(code, label, description, person, unit, frozenset(kinds), fn)
        return fn

    return register


def measure_choices() -> list[tuple[str, str]]:
    """Choices of Rule.measure (a callable, so adding a measure needs no migration)."""
    return [(m.code, m.label) for m in REGISTRY.values()]


def _fmt(day: dt.date) -> str:
    return f"{day:%Y-%m-%d}"


def _case_events(ctx: Context, action: str):
    from cases.models import CaseEvent

    return CaseEvent.objects.filter(action=action, created_at__gte=ctx.period.start, created_at__lt=ctx.period.end)


def _event_fact(ctx: Context, pk, case_id, created_at, area_id, explain, *, holder=None, user_id=None) -> Fact:
    """A fact caused by one case event: its day, the case and its place, the holder at the time
    when `holder` = (owner label, event data) is given, and `explain(day)` as the Chinese line."""
    day = ctx.local_date(created_at)
    holder_area, holder_department = ctx.holder(holder[0], area_id, holder[1]) if holder else (None, None)
    return Fact(
        occurred_on=day,
        source_model="cases.caseevent",
        source_id=pk,
        case_id=case_id,
        place_id=area_id,
        user_id=user_id,
        holder_area_id=holder_area,
        holder_department_id=holder_department,
        explanation=explain(_fmt(day)),
    )


@measure(
    "grid_day_short",
    gettext_lazy("网格日报不足（每网格每工作日）"),
    gettext_lazy("工作日网格上报不足 2 条（按每晚记录的网格日报达标表）"),
    person=Match.PLACE,
    unit=Match.PLACE,
    kinds=PEOPLE_ON_GROUND | AREA_UNITS,
)
def grid_day_short(ctx: Context) -> list[Fact]:
    from cases.models import GridDayCompliance
    from cases.periodic import DAILY_MINIMUM

    rows = (
        GridDayCompliance.objects.filter(day__gte=ctx.period.first_day, day__lte=ctx.period.last_day, compliant=False)
        .order_by()
        .values_list("id", "grid_id", "day", "reports")
    )
    workdays = ctx.workdays
    return [
        Fact(
            occurred_on=day,
            source_model="cases.griddaycompliance",
            source_id=pk,
            place_id=grid_id,
            explanation=_("%(day)s 网格日报不足 %(min)d 条（实报 %(n)d 条）")
            % {"day": _fmt(day), "min": DAILY_MINIMUM, "n": reports},
        )
        for pk, grid_id, day, reports in rows
        if day in workdays
    ]


@measure(
    "late_verification",
    gettext_lazy("核查超时"),
    gettext_lazy("事件在“待核查”状态超过核查时限（超时记录，from_state=待核查）"),
    person=Match.PLACE,
    unit=Match.PLACE,
    kinds=PEOPLE_ON_GROUND | AREA_UNITS,
)
def late_verification(ctx: Context) -> list[Fact]:
    rows = (
        _case_events(ctx, Action.OVERDUE)
        .filter(from_state=CaseState.FEEDBACK)
        .order_by()
        .values_list("id", "case_id", "created_at", "case__number", "case__area_id")
    )
    return [
        _event_fact(
            ctx,
            pk,
            case_id,
            created_at,
            area_id,
            lambda day, number=number: _("%(day)s 事件 %(number)s 核查超时") % {"day": day, "number": number},
        )
        for pk, case_id, created_at, number, area_id in rows
    ]


@measure(
    "overdue_held",
    gettext_lazy("办理超时（承办层级/部门）"),
    gettext_lazy("事件在受理、处置或上报环节超过时限时由谁承办（超时记录，待核查环节除外）"),
    person=Match.HOLDER,
    unit=Match.HOLDER,
    kinds=HOLDERS | AREA_UNITS | {K.DEPARTMENT},
)
def overdue_held(ctx: Context) -> list[Fact]:
    rows = (
        _case_events(ctx, Action.OVERDUE)
        .exclude(from_state=CaseState.FEEDBACK)
        .order_by()
        .values_list("id", "case_id", "created_at", "owner_before", "data", "case__number", "case__area_id")
    )
    return [
        _event_fact(
            ctx,
            pk,
            case_id,
            created_at,
            area_id,
            lambda day, number=number, owner=owner: (
                _("%(day)s 事件 %(number)s 在“%(holder)s”办理超时")
                % {"day": day, "number": number, "holder": owner or "—"}
            ),
            holder=(owner, data),
        )
        for pk, case_id, created_at, owner, data, number, area_id in rows
    ]


@measure(
    "rework",
    gettext_lazy("返工"),
    gettext_lazy("核查不通过退回返工（返工记录）；处置人为此前最近一次反馈/自行处置的操作人"),
    person=Match.PERSON,
    unit=Match.HOLDER,
    kinds=PEOPLE_ON_GROUND | {K.DEPARTMENT_STAFF} | AREA_UNITS | {K.DEPARTMENT},
)
def rework(ctx: Context) -> list[Fact]:
    from cases.models import CaseEvent

    handler = (
        CaseEvent.objects.filter(
            case_id=OuterRef("case_id"),
            seq__lt=OuterRef("seq"),
            action__in=(Action.SUBMIT_FEEDBACK, Action.SELF_RESOLVE),
        )
        .order_by("-seq")
        .values("actor_id")[:1]
    )
    rows = (
        _case_events(ctx, Action.REWORK)
        .annotate(handler=Subquery(handler))
        .order_by()
        .values_list("id", "case_id", "created_at", "owner_before", "data", "case__number", "case__area_id", "handler")
    )
    return [
        _event_fact(
            ctx,
            pk,
            case_id,
            created_at,
            area_id,
            lambda day, number=number, owner=owner: (
                _("%(day)s 事件 %(number)s 核查不通过，返工（承办：%(holder)s）")
                % {"day": day, "number": number, "holder": owner or "—"}
            ),
            holder=(owner, data),
            user_id=handler_id,
        )
        for pk, case_id, created_at, owner, data, number, area_id, handler_id in rows
    ]


@measure(
    "unsatisfied",
    gettext_lazy("回访不满意"),
    gettext_lazy("本月回访评价为“不满意”的事件（合并件除外）；处置人为事件的最后经办人"),
    person=Match.PERSON,
    unit=Match.HOLDER,
    kinds=PEOPLE_ON_GROUND | {K.DEPARTMENT_STAFF} | AREA_UNITS | {K.DEPARTMENT},
)
def unsatisfied(ctx: Context) -> list[Fact]:
    from cases.models import Case

    rows = (
        Case.objects.filter(
            rating=Rating.UNSATISFIED,
            rated_at__gte=ctx.period.start,
            rated_at__lt=ctx.period.end,
            merged_into__isnull=True,
        )
        .order_by()
        .values_list("id", "number", "area_id", "assignee_id", "owner_area_id", "owner_department_id", "rated_at")
    )
    facts = []
    for pk, number, area_id, assignee_id, owner_area_id, owner_department_id, rated_at in rows:
        day = ctx.local_date(rated_at)
        facts.append(
            Fact(
                occurred_on=day,
                source_model="cases.case",
                source_id=pk,
                case_id=pk,
                place_id=area_id,
                user_id=assignee_id,
                holder_area_id=None if owner_department_id else owner_area_id,
                holder_department_id=owner_department_id,
                explanation=_("%(day)s 事件 %(number)s 回访不满意") % {"day": _fmt(day), "number": number},
            )
        )
    return facts


@measure(
    "missed_visit",
    gettext_lazy("重点户未走访"),
    gettext_lazy("本月没有任何走访记录的重点户（户或其居民带有“重点走访”标签）"),
    person=Match.PLACE,
    unit=Match.PLACE,
    kinds=PEOPLE_ON_GROUND | AREA_UNITS,
)
def missed_visit(ctx: Context) -> list[Fact]:
    from grids.models import Household, Resident

    try:
        visit_model = apps.get_model("grids", "Visit")
    except LookupError:  # the visits feature is not installed: nothing can be missed
        return []
    household_tags = Household.tags.through.objects.filter(tag__key_visit=True).values("household_id")
    resident_tags = Resident.tags.through.objects.filter(tag__key_visit=True, resident__is_active=True).values(
        "resident__household_id"
    )
    visited = visit_model.objects.filter(date__gte=ctx.period.first_day, date__lte=ctx.period.last_day).values(
        "household_id"
    )
    rows = (
        Household.objects.filter(is_active=True, created_at__lt=ctx.period.end)
        .filter(Q(pk__in=household_tags) | Q(pk__in=resident_tags))
        .exclude(pk__in=visited)
        .order_by()
        .values_list("id", "code", "address", "area_id")
    )
    last = ctx.period.last_day
    return [
        Fact(
            occurred_on=last,
            source_model="grids.household",
            source_id=pk,
            place_id=area_id,
            explanation=_("%(month)s 重点户 %(code)s（%(address)s）本月未走访")
            % {"month": ctx.period.label, "code": code, "address": address},
        )
        for pk, code, address, area_id in rows
    ]


@measure(
    "valid_report",
    gettext_lazy("有效上报"),
    gettext_lazy("本月上报的问题类事件，未被不予立案、未被合并为重复件；记给上报人"),
    person=Match.PERSON,
    unit=Match.PLACE,
    kinds=PEOPLE_ON_GROUND | AREA_UNITS,
)
def valid_report(ctx: Context) -> list[Fact]:
    from cases.models import Case

    rows = (
        Case.objects.filter(
            created_at__gte=ctx.period.start,
            created_at__lt=ctx.period.end,
            kind=CaseKind.PROBLEM,
            merged_into__isnull=True,
        )
        .exclude(state=CaseState.REJECTED)
        .order_by()
        .values_list("id", "number", "area_id", "reporter_id", "created_at")
    )
    facts = []
    for pk, number, area_id, reporter_id, created_at in rows:
        day = ctx.local_date(created_at)
        facts.append(
            Fact(
                occurred_on=day,
                source_model="cases.case",
                source_id=pk,
                case_id=pk,
                place_id=area_id,
                user_id=reporter_id,
                explanation=_("%(day)s 有效上报：事件 %(number)s") % {"day": _fmt(day), "number": number},
            )
        )
    return facts


@measure(
    "solved_in_grid",
    gettext_lazy("网格内解决"),
    gettext_lazy("本月结案的网格内自行处置事件（合并件除外）；记给处置人"),
    person=Match.PERSON,
    unit=Match.PLACE,
    kinds=PEOPLE_ON_GROUND | AREA_UNITS,
)
def solved_in_grid(ctx: Context) -> list[Fact]:
    from cases.models import Case

    rows = (
        Case.objects.filter(
            self_resolved=True,
            state=CaseState.CLOSED,
            closed_at__gte=ctx.period.start,
            closed_at__lt=ctx.period.end,
            merged_into__isnull=True,
        )
        .order_by()
        .values_list("id", "number", "area_id", "assignee_id", "closed_at")
    )
    facts = []
    for pk, number, area_id, assignee_id, closed_at in rows:
        day = ctx.local_date(closed_at)
        facts.append(
            Fact(
                occurred_on=day,
                source_model="cases.case",
                source_id=pk,
                case_id=pk,
                place_id=area_id,
                user_id=assignee_id,
                explanation=_("%(day)s 事件 %(number)s 网格内自行处置并结案") % {"day": _fmt(day), "number": number},
            )
        )
    return facts


# Which holder levels belong to which person kind under HOLDER matching.
HOLDER_LEVELS = {
    K.GRID_CHIEF: frozenset({*GRID_LEVELS, AreaLevel.GROUP}),
    K.ZONE_CHIEF: frozenset({AreaLevel.ZONE, AreaLevel.VILLAGE, AreaLevel.COMMUNITY}),
}
