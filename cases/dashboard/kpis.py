"""The dashboard's figures, each defined once: the counts (`Measure`) as Q objects over cases (or
over the reporting-compliance, visit and household tables) and the rates (`Kpi`) as one count over
another. Pages, case lists behind every number, exports, the map and the API all read these
definitions; docs/kpis.md is the same list in prose (a test keeps the two in step).

The period P is a range of local days [date_from, date_to] (Asia/Shanghai), i.e. the instants
start ≤ t < end with start = date_from 00:00 and end = (date_to + 1) 00:00.

Problem cases ("problems") are cases of kind 问题类 that were not merged into another case as a
duplicate. Information items (信息类) are recorded and closed at filing; they count as reported
and nowhere else.

"Due in the period" (应结案, the set D): problems, not rejected, that
- have a handling deadline (handle_due_at, the deadline of the handling step, moved by an approved
  extension) with start ≤ handle_due_at < min(end, now) — a deadline still in the future is not
  due yet — or
- were closed in the period (closed_at in P): an early closure counts in the period it happened
  (a self-resolved case, which has no handling deadline, counts here).
"Extended" are the cases of D with at least one approved extension (extension_count > 0). They
are left out of both sides of 按期结案率 and 结案率 ("due − extended") and shown on their own.

The rates:
    按期结案率 on_time_close_rate  = due_closed_on_time / due
        due                 = D, extension_count = 0
        due_closed_on_time  = due, state closed, closed_on_time (fed back by the deadline)
    结案率 close_rate              = due_closed / due
    返工率 rework_rate             = reworked / closed
        closed    = problems closed in P (closed_at in P, state closed)
        reworked  = closed with rework_count > 0 (sent back at least once on the spot check)
    回退率 return_rate             = returned / dispatched
        dispatched = problems reported in P that were dispatched at least once (dispatch_count > 0)
        returned   = dispatched with return_count > 0 (sent back by a receiving unit at least once)
    及时签收率 timely_accept_rate  = accepted_on_time / accepted
        accepted   = problems accepted (立案, or dispatched straight away) in P (accepted_at in P)
        accepted_on_time = accepted within the category's accept limit (accepted_on_time)
    满意率 satisfaction_rate       = satisfied / rated
        rated      = cases rated on the callback (回访) in P (rated_at in P, rating set)
        satisfied  = rated 满意 or 基本满意
    日报达标率 compliance_rate     = compliant_days / grid_days
        grid_days  = GridDayCompliance rows (one per grid per day) with day in P
        compliant_days = those with ≥ 2 real patrol reports (compliant)
    走访覆盖率 visit_coverage      = visited_households / households
        visited_households = active households there now with a visit dated in P
        households = active households now

Snapshot counts (open, overdue, near_due, supervised) are the state of the open cases now and use
the console's own definitions (cases.selectors.SAVED_VIEW_FILTERS); the date range does not apply
to them. Category and source filters apply to every case count; they do not apply to reporting
compliance and visits, which are not about cases.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..choices import OPEN_STATES, CaseKind, CaseState, Rating
from ..selectors import SAVED_VIEW_FILTERS

MAX_DAYS = 731  # two years: the longest period a page or the API accepts
DEFAULT_DAYS = 30


@dataclass(frozen=True)
class Period:
    """Local days [date_from, date_to] and the moment the figures are taken (`now`)."""

    date_from: dt.date
    date_to: dt.date
    now: dt.datetime

    @classmethod
    def last_days(cls, days: int = DEFAULT_DAYS, now: dt.datetime | None = None) -> Period:
        now = now or timezone.now()
        today = timezone.localdate(now)
        return cls(today - dt.timedelta(days=days - 1), today, now)

    @staticmethod
    def _midnight(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time.min, tzinfo=ZoneInfo(settings.TIME_ZONE))

    @property
    def start(self) -> dt.datetime:
        return self._midnight(self.date_from)

    @property
    def end(self) -> dt.datetime:
        return self._midnight(self.date_to + dt.timedelta(days=1))

    @property
    def due_end(self) -> dt.datetime:
        """Deadlines count as due up to the end of the period or now, whichever is earlier."""
        return min(self.end, self.now)

    def span(self, field: str) -> Q:
        return Q(**{f"{field}__gte": self.start, f"{field}__lt": self.end})

    def days(self) -> list[dt.date]:
        return [self.date_from + dt.timedelta(days=i) for i in range((self.date_to - self.date_from).days + 1)]


# --- the building blocks ------------------------------------------------------------------------


def problems() -> Q:
    return Q(kind=CaseKind.PROBLEM, merged_into__isnull=True)


def reported(p: Period) -> Q:
    return p.span("created_at")


def closed(p: Period) -> Q:
    return problems() & Q(state=CaseState.CLOSED) & p.span("closed_at")


def due_candidates() -> Q:
    """The cases D is drawn from: problems that were not rejected."""
    return problems() & ~Q(state=CaseState.REJECTED)


def due_in_period(p: Period) -> Q:
    """The set D of the module docstring (extended cases included)."""
    deadline = Q(handle_due_at__gte=p.start, handle_due_at__lt=p.due_end)
    closed_here = Q(state=CaseState.CLOSED) & p.span("closed_at")
    return due_candidates() & (deadline | closed_here)


def relevant(p: Period) -> Q:
    """A superset of the rows every case measure counts: narrows the scan before aggregating.
    (tests/dashboard/test_kpis.py checks that every figure is the same without it.)"""
    return (
        reported(p)
        | p.span("closed_at")
        | Q(handle_due_at__gte=p.start, handle_due_at__lt=p.due_end)
        | p.span("accepted_at")
        | p.span("rated_at")
        | Q(state__in=OPEN_STATES)
    )


# --- counts -------------------------------------------------------------------------------------

CASE, COMPLIANCE, VISIT = "case", "compliance", "visit"
#: The dates a case measure can be anchored on: the case counts when that date falls in P.
ANCHORS = ("created_at", "closed_at", "accepted_at", "rated_at")
#: The anchor of the due family: D (due_in_period) joins two dates, the deadline and closure.
DUE = "due"


@dataclass(frozen=True)
class Measure:
    """A count. Case measures have `q`, the filter of the cases behind the number (the case list
    page applies exactly this filter); other sources are counted by the selectors.

    Every case measure that is not a snapshot is one date and one condition without dates: the
    case counts when `anchor` falls in P and `where()` holds (`anchor == DUE`: the case is in D and
    `where()` holds). A snapshot with `where` does not read the clock (near_due does, and has none).
    `q` is built from these, so the dashboard rollup (cases/dashboard/rollup.py), which stores the
    counts per day of the anchor (and the current snapshot), reads the same definitions."""

    key: str
    label: str
    doc: str  # the definition in the interface's words; docs/kpis.md has the precise one
    q: Callable[[Period], Q] | None = None
    source: str = CASE
    snapshot: bool = False  # the state now; the date range does not apply
    anchor: str = ""
    where: Callable[[], Q] | None = None


def _dated(key: str, label, doc, anchor: str, where: Callable[[], Q]) -> Measure:
    if anchor == DUE:
        return Measure(key, label, doc, lambda p: due_in_period(p) & where(), anchor=anchor, where=where)
    return Measure(key, label, doc, lambda p: p.span(anchor) & where(), anchor=anchor, where=where)


def _current(key: str, label, doc, where: Callable[[], Q]) -> Measure:
    """A snapshot that does not read the clock: the case counts while `where()` holds."""
    return Measure(key, label, doc, lambda p: where(), snapshot=True, where=where)


def _saved_view(key: str) -> Callable[[Period], Q]:
    return lambda p: SAVED_VIEW_FILTERS[key](p.now)


def _saved_view_now(key: str) -> Callable[[], Q]:
    """A saved view whose filter does not depend on the moment (overdue, supervised)."""
    return lambda: SAVED_VIEW_FILTERS[key](None)


def _problems_in(state: str) -> Callable[[], Q]:
    return lambda: problems() & Q(state=state)


MEASURES: dict[str, Measure] = {
    m.key: m
    for m in (
        _dated("reported", _("上报"), _("统计期内上报的全部事件（含信息类）"), "created_at", Q),
        _dated(
            "reported_problem",
            _("问题类上报"),
            _("统计期内上报的问题类事件（不含合并的重复件）"),
            "created_at",
            problems,
        ),
        _dated(
            "reported_information",
            _("信息类上报"),
            _("统计期内上报的信息类事项"),
            "created_at",
            lambda: Q(kind=CaseKind.INFORMATION),
        ),
        *(
            _dated(
                f"state_{s.value}",
                s.label,
                _("统计期内上报、当前处于该状态的事件"),
                "created_at",
                lambda s=s: Q(state=s.value),
            )
            for s in CaseState
        ),
        _dated("closed", _("结案"), _("统计期内结案的问题类事件"), "closed_at", _problems_in(CaseState.CLOSED)),
        _dated(
            "due",
            _("应结案（不含延期）"),
            _("处置期限在统计期内已到期或在统计期内结案的问题类事件，不含不予立案和延期的"),
            DUE,
            lambda: Q(extension_count=0),
        ),
        _dated(
            "due_closed",
            _("已结案（应结案中）"),
            _("应结案事件中已结案的"),
            DUE,
            lambda: Q(extension_count=0, state=CaseState.CLOSED),
        ),
        _dated(
            "due_closed_on_time",
            _("按期结案"),
            _("应结案事件中在处置期限内反馈并结案的"),
            DUE,
            lambda: Q(extension_count=0, state=CaseState.CLOSED, closed_on_time=True),
        ),
        _dated(
            "due_late",
            _("未按期结案"),
            _("应结案事件中未按期结案的：逾期结案或仍未结案"),
            DUE,
            lambda: Q(extension_count=0) & ~Q(state=CaseState.CLOSED, closed_on_time=True),
        ),
        _dated(
            "extended",
            _("延期"),
            _("应结案事件中经批准延期的（不计入按期结案率和结案率）"),
            DUE,
            lambda: Q(extension_count__gt=0),
        ),
        _dated(
            "reworked",
            _("返工"),
            _("统计期内结案、曾被核查退回返工的事件"),
            "closed_at",
            lambda: problems() & Q(state=CaseState.CLOSED, rework_count__gt=0),
        ),
        _dated(
            "dispatched",
            _("派遣"),
            _("统计期内上报、至少派遣过一次的问题类事件"),
            "created_at",
            lambda: problems() & Q(dispatch_count__gt=0),
        ),
        _dated(
            "returned",
            _("退回"),
            _("已派遣事件中至少被承办单位退回过一次的"),
            "created_at",
            lambda: problems() & Q(dispatch_count__gt=0, return_count__gt=0),
        ),
        _dated("accepted", _("立案"), _("统计期内立案（或直接派遣）的问题类事件"), "accepted_at", problems),
        _dated(
            "accepted_on_time",
            _("及时签收"),
            _("立案事件中在受理时限内立案的"),
            "accepted_at",
            lambda: problems() & Q(accepted_on_time=True),
        ),
        _dated("rated", _("已回访"), _("统计期内完成回访评价的事件"), "rated_at", lambda: ~Q(rating="")),
        _dated(
            "satisfied",
            _("满意/基本满意"),
            _("回访评价为满意或基本满意的"),
            "rated_at",
            lambda: ~Q(rating="") & Q(rating__in=(Rating.SATISFIED, Rating.BASICALLY)),
        ),
        _current("open", _("在办"), _("此刻在办的事件（不限上报日期）"), lambda: Q(state__in=OPEN_STATES)),
        _current("overdue", _("已超时"), _("此刻在办且当前环节已超时的事件"), _saved_view_now("overdue")),
        Measure(
            "near_due", _("即将超时"), _("此刻在办、未超时但即将到期的事件"), _saved_view("near_due"), snapshot=True
        ),
        _current("supervised", _("督办中"), _("此刻在办且正在督办的事件"), _saved_view_now("supervised")),
        Measure("grid_days", _("网格日数"), _("统计期内每个网格每天计一个网格日"), source=COMPLIANCE),
        Measure("compliant_days", _("达标网格日数"), _("当天有效巡查上报不少于 2 件的网格日"), source=COMPLIANCE),
        Measure("visited_households", _("已走访户数"), _("当前有效户中统计期内有走访记录的户数"), source=VISIT),
        Measure("households", _("户数"), _("当前有效户数"), source=VISIT, snapshot=True),
    )
}
CASE_MEASURES = [m for m in MEASURES.values() if m.source == CASE]
STATE_KEYS = [f"state_{s.value}" for s in CaseState]


def case_filter(key: str, p: Period) -> Q:
    """The filter of the cases behind a number; KeyError for an unknown or non-case measure."""
    measure = MEASURES[key]
    if measure.q is None:
        raise KeyError(key)
    return measure.q(p)


# --- rates --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kpi:
    key: str
    label: str
    numerator: str
    denominator: str
    higher_is_better: bool
    formula: str

    def value(self, counts: Mapping[str, int | None]) -> float | None:
        """numerator / denominator, None when there is nothing to measure (denominator 0)."""
        den = counts.get(self.denominator) or 0
        if not den:
            return None
        return (counts.get(self.numerator) or 0) / den

    @property
    def on_cases(self) -> bool:
        """Whether the numbers behind the rate are cases (and so have a case list)."""
        return MEASURES[self.numerator].source == CASE

    def worst(self, values: list[float]) -> float | None:
        if not values:
            return None
        return min(values) if self.higher_is_better else max(values)


KPIS: dict[str, Kpi] = {
    k.key: k
    for k in (
        Kpi(
            "on_time_close_rate",
            _("按期结案率"),
            "due_closed_on_time",
            "due",
            True,
            "按期结案率 = closed on time / (due − extended)",
        ),
        Kpi("close_rate", _("结案率"), "due_closed", "due", True, "结案率 = closed / (due − extended)"),
        Kpi("rework_rate", _("返工率"), "reworked", "closed", False, "返工率 = reworked / closed"),
        Kpi("return_rate", _("回退率"), "returned", "dispatched", False, "回退率 = returned / dispatched"),
        Kpi(
            "timely_accept_rate",
            _("及时签收率"),
            "accepted_on_time",
            "accepted",
            True,
            "及时签收率 = accepted within the accept limit / accepted",
        ),
        Kpi(
            "satisfaction_rate",
            _("满意率"),
            "satisfied",
            "rated",
            True,
            "满意率 = (satisfied + basically satisfied) / rated",
        ),
        Kpi(
            "compliance_rate",
            _("日报达标率"),
            "compliant_days",
            "grid_days",
            True,
            "reporting compliance = grid-days with ≥ 2 reports / grid-days",
        ),
        Kpi(
            "visit_coverage",
            _("走访覆盖率"),
            "visited_households",
            "households",
            True,
            "走访覆盖率 = households visited in the period / households",
        ),
    )
}
DEFAULT_KPI = "on_time_close_rate"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def kpi_values(counts: Mapping[str, int | None]) -> dict[str, float | None]:
    return {k.key: k.value(counts) for k in KPIS.values()}
