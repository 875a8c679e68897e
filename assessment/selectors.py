"""Reads of the assessment: who sees which scores, who may appeal and review, rankings, trends
and the subsidy sheet.

Scope goes through grids.scope: a viewer (centre staff, town leader, county official, admin)
sees the scores inside the subtrees of those posts (`Scope.path_q` on the score's denormalised
path); everybody sees their own scores and the scores of the unit they head (a grid chief their
grid, a zone chief their zone, department staff their department). A grid worker therefore sees
only their own lines."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import Case, Q, QuerySet, Value, When

from grids.scope import Scope, ScopeNode, scope_for
from staff.choices import Role
from staff.selectors import posts_of

from .choices import AREA_UNIT_KINDS, REVIEWER_ROLES, UNIT_HEAD_ROLES, VIEWER_ROLES, SubjectKind
from .periods import Period

K = SubjectKind


def bottom_n() -> int:
    return int(getattr(settings, "GRIDGOV_ASSESSMENT_BOTTOM_N", 3))


def _nodes(user, roles) -> tuple[ScopeNode, ...]:
    nodes = []
    for post in posts_of(user):
        if post.role in roles and post.area_id and post.area.is_active:
            a = post.area
            nodes.append(ScopeNode(a.pk, a.level, a.tree_id, a.lft, a.rght))
    return tuple(dict.fromkeys(nodes))


def viewer_scope(user) -> Scope:
    """The part of the user's scope that shows other people's scores."""
    if user is None or not user.is_authenticated or not user.is_active:
        return Scope(everything=False, nodes=())
    if user.is_superuser:
        return scope_for(user)
    return Scope(everything=False, nodes=_nodes(user, VIEWER_ROLES))


def is_viewer(user) -> bool:
    return not viewer_scope(user).is_empty


def own_q(user) -> Q:
    """The user's own scores and those of the units they head."""
    if user is None or not user.is_authenticated or not user.is_active:
        return Q(pk__in=[])
    q = Q(user=user)
    for kind, role in UNIT_HEAD_ROLES.items():
        areas = [p.area_id for p in posts_of(user) if p.role == role and p.area_id]
        if areas:
            q |= Q(subject_kind=kind, area_id__in=areas)
    departments = [p.department_id for p in posts_of(user) if p.role == Role.DEPARTMENT and p.department_id]
    if departments:
        q |= Q(subject_kind=K.DEPARTMENT, department_id__in=departments)
    return q


def score_scope_q(user) -> Q:
    """What `Score.objects.visible_to(user)` filters by: own scores, plus the viewer scope."""
    if user is None or not user.is_authenticated or not user.is_active:
        return Q(pk__in=[])
    scope = viewer_scope(user)
    if scope.everything:
        return Q()
    q = own_q(user)
    if scope.nodes:
        q |= scope.path_q()
    return q


def _contains(node: ScopeNode, area) -> bool:
    return node.tree_id == area.tree_id and node.lft <= area.lft and area.rght <= node.rght


def can_appeal(user, score) -> bool:
    """The assessed person; for a unit, the post that heads it."""
    if user is None or not user.is_authenticated:
        return False
    if score.is_person:
        return score.user_id == user.pk
    if score.subject_kind == K.DEPARTMENT:
        return any(p.role == Role.DEPARTMENT and p.department_id == score.department_id for p in posts_of(user))
    role = UNIT_HEAD_ROLES.get(score.subject_kind)
    return any(p.role == role and p.area_id == score.area_id for p in posts_of(user))


def can_review(user, score) -> bool:
    """Centre staff, a town leader or a county official (or admin) whose post covers the score,
    never the assessed person themselves; a unit's appeal goes to a post strictly above it."""
    if user is None or not user.is_authenticated or score.user_id == user.pk:
        return False
    if user.is_superuser:
        return True
    area = score.area
    for node in _nodes(user, REVIEWER_ROLES):
        if _contains(node, area) and not (score.subject_kind in AREA_UNIT_KINDS and node.id == area.pk):
            return True
    return False


# --- months -------------------------------------------------------------------------------------


def computed_months() -> list[Period]:
    from .models import AssessmentMonth

    return [
        Period(m) for m in AssessmentMonth.objects.filter(computed_at__isnull=False).values_list("month", flat=True)
    ]


def pick_period(text: str | None, months: list[Period]) -> Period | None:
    """The month asked for (?month=2026-11), else the latest computed one."""
    if text:
        try:
            return Period.parse(text)
        except ValueError:
            pass
    return months[0] if months else None


# --- rankings -----------------------------------------------------------------------------------


@dataclass
class Ranked:
    score: object
    rank: int
    flagged: bool


def ranking(scores: QuerySet, n: int) -> list[Ranked]:
    """Competition ranking (1, 2, 2, 4) by total, highest first. The bottom `n` positions are
    flagged (末位); ties at the boundary are all flagged."""
    rows = list(scores.order_by("-total", "subject_key"))
    ranked, previous, rank = [], None, 0
    for i, s in enumerate(rows, start=1):
        if s.total != previous:
            rank, previous = i, s.total
        ranked.append(Ranked(s, rank, False))
    if n > 0 and len(rows) > n:
        threshold = sorted(s.total for s in rows)[n - 1]
        for r in ranked:
            r.flagged = r.score.total <= threshold
    return ranked


# --- trends -------------------------------------------------------------------------------------


def trend(score, user, months: int = 12) -> list[dict]:
    """The same subject's totals over the last `months` computed months (within the user's scope)."""
    from .models import Score

    rows = (
        Score.objects.visible_to(user)
        .filter(subject_key=score.subject_key, period__month__lte=score.period.month)
        .order_by("-period__month")
        .values_list("period__month", "total", "deductions", "bonuses")[:months]
    )
    return [
        {"month": f"{m:%Y-%m}", "total": float(t), "deductions": float(d), "bonuses": float(b)}
        for m, t, d, b in reversed(rows)
    ]


def unit_average_trend(user, kind: str, town_id: int | None, months: int = 12) -> list[dict]:
    """Average total per month of the scores of `kind` in scope (optionally one town)."""
    from django.db.models import Avg, Count, Min

    from .models import Score

    qs = Score.objects.visible_to(user).current().filter(subject_kind=kind)
    if town_id:
        qs = qs.filter(town_id=town_id)
    rows = (
        qs.values("period__month")
        .annotate(avg=Avg("total"), low=Min("total"), n=Count("id"))
        .order_by("-period__month")[:months]
    )
    return [
        {"month": f"{r['period__month']:%Y-%m}", "average": round(float(r["avg"]), 1), "lowest": float(r["low"])}
        for r in reversed(rows)
    ]


# --- subsidy ------------------------------------------------------------------------------------


def subsidy_scores(user, period: Period, town_id: int | None = None, kind: str | None = None) -> QuerySet:
    from .choices import PERSON_KINDS
    from .models import Score

    kind_order = Case(*[When(subject_kind=k, then=Value(i)) for i, k in enumerate(PERSON_KINDS)])
    qs = (
        Score.objects.visible_to(user)
        .current()
        .filter(period__month=period.month, subject_kind__in=PERSON_KINDS)
        .select_related("user", "area", "department", "town", "period")
        .annotate(kind_order=kind_order)
        .order_by("town__code", "kind_order", "area__code", "department__code", "user__username")
    )
    if town_id:
        qs = qs.filter(town_id=town_id)
    if kind:
        qs = qs.filter(subject_kind=kind)
    return qs


def subsidy_total(scores) -> Decimal:
    return sum((s.amount for s in scores), Decimal("0"))
