"""HTML pages of the assessment: my score (phone), score detail with its trend, rankings, appeals
and the subsidy sheet. Views shape HTTP into selectors and services; no rules live here. Every
score reaches a page through `Score.objects.visible_to(user)`; outside it is a 404."""

from __future__ import annotations

from collections import OrderedDict

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from grids.choices import AreaLevel
from grids.models import Area

from . import selectors, services
from .choices import PERSON_KINDS, AppealStatus, SubjectKind
from .exports import subsidy_workbook
from .forms import AppealForm, DecisionForm
from .models import Appeal, AssessmentMonth, Score, ScoreLine
from .periods import Period


def _months_context(request, months: list[Period], period: Period | None) -> dict:
    keys = [m.key for m in months]
    older = newer = None
    if period and period.key in keys:
        i = keys.index(period.key)
        newer = months[i - 1] if i > 0 else None
        older = months[i + 1] if i + 1 < len(months) else None
    return {"months": months, "period": period, "older": older, "newer": newer}


def _month_row(period: Period | None) -> AssessmentMonth | None:
    if period is None:
        return None
    return AssessmentMonth.objects.filter(month=period.month).first()


def _grouped_lines(score: Score, appeals_by_key: dict) -> list[dict]:
    """The score's lines grouped by rule (deductions first), each group with count and subtotal."""
    groups: OrderedDict[int, dict] = OrderedDict()
    for line in score.lines.all():
        g = groups.setdefault(line.rule_id, {"rule": line.rule, "lines": [], "points": 0, "count": 0})
        line.appeal = appeals_by_key.get((score.pk, line.key))
        g["lines"].append(line)
        g["points"] += line.points
        g["count"] += 1
    return sorted(groups.values(), key=lambda g: (g["rule"].points > 0, g["rule"].order, g["rule"].code))


def _latest_appeals(scores) -> dict:
    latest: dict = {}
    for a in Appeal.objects.filter(score__in=scores).order_by("created_at", "id"):
        latest[(a.score_id, a.line_key)] = a
    return latest


def _line_prefetch() -> Prefetch:
    return Prefetch("lines", queryset=ScoreLine.objects.select_related("rule").order_by("occurred_on", "id"))


@login_required
def home(request):
    if selectors.is_viewer(request.user):
        return redirect("assessment:ranking")
    return redirect("assessment:me")


@login_required
def me(request):
    """My score for a month on the phone: every line explained, linked to its record; appeal a
    deduction from here."""
    user = request.user
    own = Score.objects.filter(selectors.own_q(user))
    months = [Period(m) for m in own.order_by("-period__month").values_list("period__month", flat=True).distinct()]
    period = selectors.pick_period(request.GET.get("month"), months)
    scores = []
    if period:
        scores = list(
            own.filter(period__month=period.month)
            .select_related("user", "area", "department", "period")
            .prefetch_related(_line_prefetch())
            .order_by("subject_kind", "id")
        )
    appeals = _latest_appeals(scores)
    cards = [
        {"score": s, "groups": _grouped_lines(s, appeals), "can_appeal": selectors.can_appeal(user, s)} for s in scores
    ]
    return render(
        request,
        "assessment/me.html",
        {"cards": cards, "month_row": _month_row(period), "section": "me", **_months_context(request, months, period)},
    )


def _visible_score(request, pk: int) -> Score:
    score = (
        Score.objects.visible_to(request.user)
        .select_related("user", "area", "department", "period", "town")
        .prefetch_related(_line_prefetch())
        .filter(pk=pk)
        .first()
    )
    if score is None:
        raise Http404(_("考核得分不存在或不在您的管辖范围内"))
    return score


@login_required
def score_detail(request, pk: int):
    score = _visible_score(request, pk)
    appeals = _latest_appeals([score])
    return render(
        request,
        "assessment/score_detail.html",
        {
            "score": score,
            "groups": _grouped_lines(score, appeals),
            "can_appeal": selectors.can_appeal(request.user, score),
            "appeals": score.appeals.select_related("appellant", "reviewer"),
            "trend": selectors.trend(score, request.user),
            "section": "ranking" if score.user_id != request.user.pk else "me",
        },
    )


@login_required
def appeal_new(request, pk: int):
    line = ScoreLine.objects.visible_to(request.user).select_related("score__period", "score__area", "rule")
    line = line.filter(pk=pk).first()
    if line is None:
        raise Http404(_("记分条目不存在或不在您的管辖范围内"))
    form = AppealForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.file_appeal(
                    line_id=line.pk,
                    user=request.user,
                    reason=form.cleaned_data["reason"],
                    evidence=form.cleaned_data.get("evidence"),
                )
            except services.AssessmentError as exc:
                for field, errors in exc.fields.items():
                    form.add_error(field if field in form.fields else None, errors)
                if not exc.fields:
                    form.add_error(None, exc.message)
                status = exc.status
            else:
                messages.success(request, _("申诉已提交，请等待审核"))
                return redirect(f"{reverse('assessment:me')}?month={line.score.period.period.key}")
        else:
            status = 400
    return render(request, "assessment/appeal_form.html", {"line": line, "form": form, "section": "me"}, status=status)


@login_required
def appeals(request):
    """Reviewers: appeals waiting in their scope, and recent decisions. Everybody: their own."""
    user = request.user
    visible = Appeal.objects.visible_to(user).select_related(
        "score__user", "score__area", "score__department", "score__period", "appellant", "reviewer"
    )
    mine = visible.filter(appellant=user)[:50]
    to_review, decided = [], []
    if selectors.is_viewer(user):
        to_review = [a for a in visible.filter(status=AppealStatus.PENDING) if selectors.can_review(user, a.score)]
        decided = visible.exclude(status=AppealStatus.PENDING).exclude(appellant=user)[:50]
    return render(
        request,
        "assessment/appeals.html",
        {"mine": mine, "to_review": to_review, "decided": decided, "section": "appeals"},
    )


def _visible_appeal(request, pk: int) -> Appeal:
    appeal = (
        Appeal.objects.visible_to(request.user)
        .select_related("score__user", "score__area", "score__department", "score__period", "appellant", "reviewer")
        .filter(pk=pk)
        .first()
    )
    if appeal is None:
        raise Http404(_("申诉不存在或不在您的管辖范围内"))
    return appeal


@login_required
def appeal_detail(request, pk: int):
    appeal = _visible_appeal(request, pk)
    may_review = (
        appeal.status == AppealStatus.PENDING
        and appeal.appellant_id != request.user.pk
        and selectors.can_review(request.user, appeal.score)
    )
    form = DecisionForm(request.POST or None) if may_review else None
    status = 200
    if request.method == "POST":
        if not may_review:
            messages.error(request, _("该申诉已审核或您无权审核"))
            return redirect("assessment:appeal", pk=appeal.pk)
        if form.is_valid():
            try:
                services.decide_appeal(
                    appeal_id=appeal.pk,
                    reviewer=request.user,
                    accept=form.cleaned_data["decision"] == AppealStatus.ACCEPTED,
                    note=form.cleaned_data.get("decision_note", ""),
                )
            except services.AssessmentError as exc:
                form.add_error(None, exc.message)
                status = exc.status
            else:
                messages.success(request, _("已审核"))
                return redirect("assessment:appeal", pk=appeal.pk)
        else:
            status = 400
    line = ScoreLine.objects.filter(score=appeal.score, key=appeal.line_key).select_related("rule").first()
    return render(
        request,
        "assessment/appeal_detail.html",
        {"appeal": appeal, "line": line, "form": form, "section": "appeals"},
        status=status,
    )


@login_required
def appeal_evidence(request, pk: int):
    appeal = _visible_appeal(request, pk)
    if not appeal.evidence:
        raise Http404
    return FileResponse(
        appeal.evidence.open("rb"),
        content_type=appeal.evidence_type or "application/octet-stream",
        filename=appeal.evidence_name or "evidence",
    )


def _towns_in_scope(user):
    return Area.objects.visible_to(user).filter(level=AreaLevel.TOWN, is_active=True).order_by("code")


def _int(value, default=None):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


@login_required
def ranking(request):
    """Rankings per town and subject kind for a month, the bottom N flagged (末位)."""
    user = request.user
    if not selectors.is_viewer(user):
        return redirect("assessment:me")
    months = selectors.computed_months()
    period = selectors.pick_period(request.GET.get("month"), months)
    kind = request.GET.get("kind") or SubjectKind.GRID_WORKER
    if kind not in SubjectKind.values:
        kind = SubjectKind.GRID_WORKER
    towns = list(_towns_in_scope(user))
    town_id = _int(request.GET.get("town"))
    if town_id not in {t.pk for t in towns}:
        town_id = towns[0].pk if len(towns) == 1 else None
    n = max(0, min(_int(request.GET.get("bottom"), selectors.bottom_n()), 100))
    rows = []
    if period:
        qs = (
            Score.objects.visible_to(user)
            .current()
            .filter(period__month=period.month, subject_kind=kind)
            .select_related("user", "area", "department", "town")
        )
        if town_id:
            qs = qs.filter(town_id=town_id)
        rows = selectors.ranking(qs, n)
    return render(
        request,
        "assessment/ranking.html",
        {
            "rows": rows,
            "kind": kind,
            "kinds": SubjectKind.choices,
            "towns": towns,
            "town_id": town_id,
            "bottom": n,
            "month_row": _month_row(period),
            "average_trend": selectors.unit_average_trend(user, kind, town_id),
            "section": "ranking",
            **_months_context(request, months, period),
        },
    )


@login_required
def subsidy(request):
    """The subsidy sheet of a month (points × yuan per point); ?format=xlsx downloads it."""
    user = request.user
    if not selectors.is_viewer(user):
        return redirect("assessment:me")
    months = selectors.computed_months()
    period = selectors.pick_period(request.GET.get("month"), months)
    towns = list(_towns_in_scope(user))
    town_id = _int(request.GET.get("town"))
    if town_id not in {t.pk for t in towns}:
        town_id = towns[0].pk if len(towns) == 1 else None
    kind = request.GET.get("kind") or ""
    if kind not in PERSON_KINDS:
        kind = ""
    scores = list(selectors.subsidy_scores(user, period, town_id, kind or None)) if period else []
    if request.GET.get("format") == "xlsx" and period:
        town = next((t for t in towns if t.pk == town_id), None)
        body = subsidy_workbook(scores, period, town.name if town else "")
        response = HttpResponse(body, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        response["Content-Disposition"] = f'attachment; filename="subsidy-{period.key}.xlsx"'
        return response
    return render(
        request,
        "assessment/subsidy.html",
        {
            "scores": scores,
            "total": selectors.subsidy_total(scores),
            "towns": towns,
            "town_id": town_id,
            "kind": kind,
            "kinds": [(k, SubjectKind(k).label) for k in PERSON_KINDS],
            "month_row": _month_row(period),
            "section": "subsidy",
            **_months_context(request, months, period),
        },
    )
