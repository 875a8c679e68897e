"""Reads over cases that are more than `.get()`: queues, saved views, boards, duplicates."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from grids.models import Area
from grids.selectors import subtree_filter
from staff.selectors import posts_of

from .choices import OPEN_STATES, CaseState
from .models import Case


def near_due_window() -> dt.timedelta:
    """'即将超时': open steps due within this window (natural time)."""
    return dt.timedelta(hours=float(getattr(settings, "GRIDGOV_NEAR_DUE_HOURS", 4)))


@dataclass(frozen=True)
class SavedView:
    key: str
    label: str

    def q(self, now: dt.datetime) -> Q:
        return SAVED_VIEW_FILTERS[self.key](now)


SAVED_VIEW_FILTERS = {
    "intake": lambda now: Q(state__in=(CaseState.REPORTED, CaseState.ESCALATED)),
    "handling": lambda now: Q(state=CaseState.HANDLING),
    "near_due": lambda now: Q(state__in=OPEN_STATES, is_overdue=False, due_at__lte=now + near_due_window()),
    "overdue": lambda now: Q(state__in=OPEN_STATES, is_overdue=True),
    "feedback": lambda now: Q(state=CaseState.FEEDBACK),
    "rework": lambda now: Q(state__in=OPEN_STATES, rework_count__gt=0),
    "supervised": lambda now: Q(state__in=OPEN_STATES, is_supervised=True),
    "closed": lambda now: Q(state=CaseState.CLOSED),
    "all": lambda now: Q(),
}
SAVED_VIEWS = [
    SavedView("intake", _("待受理")),
    SavedView("handling", _("处置中")),
    SavedView("near_due", _("即将超时")),
    SavedView("overdue", _("已超时")),
    SavedView("feedback", _("待核查")),
    SavedView("rework", _("返工")),
    SavedView("supervised", _("督办")),
    SavedView("closed", _("已结案")),
    SavedView("all", _("全部")),
]
SORTS = {
    "due": ("due_at", "id"),
    "-due": ("-due_at", "-id"),
    "new": ("-created_at", "-id"),
    "old": ("created_at", "id"),
}


def case_queue(
    *, user, view: str = "intake", filters: dict | None = None, sort: str = "due", now: dt.datetime | None = None
) -> QuerySet:
    """The cases of one saved view in the user's scope, filtered and sorted."""
    now = now or timezone.now()
    filters = filters or {}
    qs = Case.objects.visible_to(user).filter(SAVED_VIEW_FILTERS.get(view, SAVED_VIEW_FILTERS["all"])(now))
    qs = apply_filters(qs, user, filters)
    return qs.select_related("category", "area", "reporter", "owner_area", "owner_department").order_by(
        *SORTS.get(sort, SORTS["due"])
    )


def apply_filters(qs: QuerySet, user, filters: dict) -> QuerySet:
    if filters.get("category"):
        qs = qs.filter(category__code__startswith=filters["category"])
    if filters.get("source"):
        qs = qs.filter(source=filters["source"])
    for key in ("zone", "grid", "town", "within"):
        if filters.get(key):
            node = Area.objects.visible_to(user).filter(pk=filters[key]).first()
            qs = qs.filter(subtree_filter(node)) if node else qs.none()
    if filters.get("date_from"):
        qs = qs.filter(created_at__date__gte=filters["date_from"])
    if filters.get("date_to"):
        qs = qs.filter(created_at__date__lte=filters["date_to"])
    if filters.get("q"):
        term = filters["q"]
        qs = qs.filter(Q(number__startswith=term) | Q(title__icontains=term))
    if filters.get("department"):
        qs = qs.filter(owner_department_id=filters["department"])
    return qs


def view_counts(*, user, filters: dict | None = None, now: dt.datetime | None = None) -> dict[str, int]:
    """The number of cases in each saved view, in one query."""
    now = now or timezone.now()
    qs = apply_filters(Case.objects.visible_to(user), user, filters or {})
    agg = qs.aggregate(**{v.key: Count("id", filter=v.q(now)) for v in SAVED_VIEWS})
    return agg


def department_queue(*, user, view: str = "open", now: dt.datetime | None = None) -> QuerySet:
    """Cases held by the user's departments, in every town they serve."""
    now = now or timezone.now()
    dept_ids = [p.department_id for p in posts_of(user) if p.department_id]
    qs = Case.objects.filter(owner_department_id__in=dept_ids)
    if view == "unsigned":
        qs = qs.filter(state=CaseState.HANDLING, signed_at__isnull=True, dispatcher_area__isnull=False)
    elif view == "overdue":
        qs = qs.filter(state__in=OPEN_STATES, is_overdue=True)
    elif view == "feedback":
        qs = qs.filter(state=CaseState.FEEDBACK)
    elif view == "closed":
        qs = qs.filter(state=CaseState.CLOSED)
    else:
        qs = qs.filter(state=CaseState.HANDLING)
    return qs.select_related("category", "area", "town", "owner_department").order_by("due_at", "id")


def county_queue(*, user, view: str = "escalated", town: int | None = None) -> QuerySet:
    """The county command centre: cases escalated to the county (乡呼县应) and those it dispatched."""
    counties = [p.area for p in posts_of(user) if p.area_id and p.area.level == "county"]
    if user.is_superuser and not counties:
        counties = list(Area.objects.filter(level="county"))
    ids = [c.pk for c in counties]
    qs = Case.objects.visible_to(user)
    if view == "dispatched":
        qs = qs.filter(dispatcher_area_id__in=ids, state__in=OPEN_STATES)
    elif view == "overdue":
        qs = qs.filter(state__in=OPEN_STATES, is_overdue=True)
    else:
        qs = qs.filter(owner_area_id__in=ids, state__in=(CaseState.ESCALATED, CaseState.REPORTED))
    if town:
        qs = qs.filter(town_id=town)
    return qs.select_related("category", "area", "town", "owner_area", "owner_department").order_by("due_at", "id")


def supervision_board(*, user, now: dt.datetime | None = None) -> dict:
    """Overdue and near-due open cases grouped by holder (department or level) and by zone, with
    reminder counts. Two grouped queries."""
    now = now or timezone.now()
    base = Case.objects.visible_to(user).filter(state__in=OPEN_STATES)
    near = Q(is_overdue=False, due_at__lte=now + near_due_window())
    metrics = {
        "overdue": Count("id", filter=Q(is_overdue=True)),
        "near_due": Count("id", filter=near),
        "supervised": Count("id", filter=Q(is_supervised=True)),
        "reminders": Sum("reminder_count"),
    }
    hot = base.filter(Q(is_overdue=True) | near)
    by_holder = list(
        hot.values("owner_department__name", "owner_area__name").annotate(**metrics).order_by("-overdue", "-near_due")
    )
    by_zone = list(hot.values("zone__name", "town__name").annotate(**metrics).order_by("-overdue", "-near_due"))
    return {"by_holder": by_holder, "by_zone": by_zone}


def duplicate_candidates(case: Case, *, user, limit: int = 10) -> list[Case]:
    """Likely duplicates: same category within a distance and a number of days, or the same
    household. A bounding box narrows the SQL; the exact distance is checked here."""
    days = int(getattr(settings, "GRIDGOV_DUPLICATE_DAYS", 7))
    meters = float(getattr(settings, "GRIDGOV_DUPLICATE_DISTANCE_M", 200))
    since = case.created_at - dt.timedelta(days=days)
    until = case.created_at + dt.timedelta(days=days)
    qs = (
        Case.objects.visible_to(user)
        .exclude(pk=case.pk)
        .exclude(state=CaseState.REJECTED)
        .filter(merged_into__isnull=True, created_at__gte=since, created_at__lte=until)
    )
    near = Q(pk__in=[])
    if case.household_id:
        near |= Q(household_id=case.household_id)
    if case.latitude is not None and case.longitude is not None:
        lat, lon = float(case.latitude), float(case.longitude)
        dlat = meters / 111_320
        dlon = meters / (111_320 * max(math.cos(math.radians(lat)), 0.01))
        near |= Q(
            category_id=case.category_id,
            latitude__gte=lat - dlat,
            latitude__lte=lat + dlat,
            longitude__gte=lon - dlon,
            longitude__lte=lon + dlon,
        )
    else:
        # Without coordinates: the same category in the same grid.
        near |= Q(category_id=case.category_id, area_id=case.area_id)
    found = []
    for other in qs.filter(near).select_related("category", "area").order_by("-created_at")[: limit * 3]:
        if other.household_id and other.household_id == case.household_id:
            other.duplicate_reason = _("同一户")
        elif case.latitude is not None and other.latitude is not None:
            d = distance_m(case, other)
            if d > meters:
                continue
            other.duplicate_reason = _("同类事件，相距约 %(m)d 米") % {"m": round(d)}
        else:
            other.duplicate_reason = _("同一网格的同类事件")
        found.append(other)
        if len(found) >= limit:
            break
    return found


def distance_m(a: Case, b: Case) -> float:
    """Great-circle distance in metres (haversine)."""
    lat1, lon1, lat2, lon2 = map(math.radians, map(float, (a.latitude, a.longitude, b.latitude, b.longitude)))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(h))
