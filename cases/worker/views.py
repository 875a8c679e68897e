"""The grid worker's phone pages (/m/): home, report, tasks, one case, notifications, patrol.

Views translate HTTP to services and selectors: filing goes through services.case_report, every
action on a case through services.case_act (the transition table decides what is allowed), and
every queryset starts from `Model.objects.visible_to(user)` narrowed to the worker's grids
(selectors.my_cases …), so another grid's id is a 404.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from grids.paths import set_path

from .. import idempotency, services
from ..choices import Action, Urgency
from ..models import IdempotencyKey, Notification, PatrolItem, PatrolLog
from ..transitions import CaseActionError, Conflict, allowed_actions
from .base import apply_action_error, done, invalid, worker_view
from .forms import ACTION_FORMS, PatrolEndForm, PatrolStartForm, ReportForm
from .photos import store_attachments, stored_files
from .selectors import (
    CASE_RELATED,
    DAILY_TARGET,
    WORKER_ACTIONS,
    compliance_month,
    key_households_due,
    my_cases,
    my_households,
    my_reminders,
    reports_today,
    sent_back_to_me,
    to_self_resolve,
    to_verify,
    today_patrol,
    unread_count,
)

#: Keys sent by the report form live in their own namespace, apart from API clients' keys.
FORM_KEY_PREFIX = "form:"


# --- home -------------------------------------------------------------------------------------


@worker_view
def home(request):
    user, grids = request.user, request.grids
    today = timezone.localdate()
    due = key_households_due(user, grids, today)
    due_list = list(due.prefetch_related("tags")[:8])
    context = {
        "grids": grids,
        "reports_today": reports_today(user, grids, today),
        "target": DAILY_TARGET,
        "to_verify": to_verify(user, grids, limit=10),
        "sent_back": list(sent_back_to_me(user, grids)),
        "reminders": my_reminders(user, grids, limit=10),
        "due_households": due_list,
        "due_count": len(due_list) if len(due_list) < 8 else due.count(),
        "unread": unread_count(user),
        "patrol": today_patrol(user, today),
        "today": today,
    }
    return render(request, "worker/home.html", context)


# --- report -----------------------------------------------------------------------------------


def _report_digest(request) -> str:
    fields = {
        name: request.POST.getlist(name)
        for name in sorted(request.POST)
        if name not in ("csrfmiddlewaretoken", "idempotency_key")
    }
    photos = [f.size for f in request.FILES.getlist("photos")]
    return idempotency.request_hash({"fields": fields, "photos": photos})


def _file_report(user, form: ReportForm) -> idempotency.Recorded:
    data = form.cleaned_data
    with transaction.atomic(), stored_files() as written:
        attachments = store_attachments(user, data["photos"], written)
        case = services.case_report(
            reporter=user,
            area=data["area"],
            category=data["category"],
            description=data["description"],
            urgency=Urgency.URGENT if data["urgent"] else None,
            household=data["household"],
            latitude=data["latitude"],
            longitude=data["longitude"],
            attachments=attachments,
        )
        log = today_patrol(user)
        if log is not None and log.is_running:
            PatrolItem.objects.create(log=log, case=case)
    return idempotency.Recorded(
        value=case, case_id=case.pk, status_code=201, response={"id": case.pk, "number": case.number}
    )


def _report_replayed(request, row: IdempotencyKey, digest: str):
    """The same form came again (double tap, retry, a resent draft): answer with the first case."""
    case = row.case
    if case is None:  # pragma: no cover - the key row goes with its case
        return done(request, reverse("worker:home"))
    if row.request_hash != digest:
        message = _("这份表单已提交过（编号 %(number)s），本次修改未保存；如需补充，请重新上报") % {
            "number": case.number
        }
        level = messages.WARNING
    else:
        message = _("这份上报已提交过（编号 %(number)s），没有重复登记") % {"number": case.number}
        level = messages.INFO
    url = reverse("worker:case", args=[case.pk])
    return done(request, url, message, level=level, replayed=True, number=case.number, id=case.pk)


@worker_view
def report(request):
    """申报单. The form carries an idempotency key made when it was rendered (worker.js also sends
    it as the Idempotency-Key header): a double tap, a retry or a resent draft files one case."""
    user, grids = request.user, request.grids
    from_patrol = (request.POST if request.method == "POST" else request.GET).get("from") == "patrol"
    if request.method != "POST":
        initial = {}
        if len(grids) == 1:
            initial["area"] = grids[0].pk
        household = request.GET.get("household", "")
        if household.isdigit() and my_households(user, grids).filter(pk=household, is_active=True).exists():
            initial["household"] = household
        form = ReportForm(initial=initial, user=user, grids=grids)
        context = {"form": form, "idempotency_key": str(uuid.uuid4()), "from_patrol": from_patrol}
        return render(request, "worker/report.html", context)

    key = idempotency.clean_key(request.headers.get("Idempotency-Key") or request.POST.get("idempotency_key"))
    digest = _report_digest(request)
    if key:
        first = IdempotencyKey.objects.filter(user=user, key=FORM_KEY_PREFIX + key, case__isnull=False).first()
        if first is not None:
            return _report_replayed(request, first, digest)
    form = ReportForm(request.POST, request.FILES, user=user, grids=grids)
    context = {"form": form, "idempotency_key": key or str(uuid.uuid4()), "from_patrol": from_patrol}
    if not form.is_valid():
        return invalid(request, form, "worker/report.html", context)
    try:
        if key:
            outcome = idempotency.run_once(
                user=user, key=FORM_KEY_PREFIX + key, digest=digest, action=lambda: _file_report(user, form)
            )
            if outcome.replayed:
                return _report_replayed(request, outcome.row, digest)
            case = outcome.value
        else:
            case = _file_report(user, form).value
    except CaseActionError as exc:
        apply_action_error(form, exc)
        return invalid(request, form, "worker/report.html", context)
    url = reverse("worker:patrol") if from_patrol else reverse("worker:case", args=[case.pk])
    kind = _("信息已登记") if case.kind == "information" else _("已上报")
    return done(
        request,
        url,
        _("%(kind)s，编号 %(number)s") % {"kind": kind, "number": case.number},
        number=case.number,
        id=case.pk,
    )


# --- cases ------------------------------------------------------------------------------------


def _my_case(request, pk: int):
    qs = my_cases(request.user, request.grids).select_related(*CASE_RELATED, "reporter", "assignee")
    return get_object_or_404(qs, pk=pk)


def _case_context(request, case, bound: tuple[str, object] | None = None) -> dict:
    actions = [a for a in allowed_actions(case, request.user) if a in WORKER_ACTIONS]
    forms = {a: ACTION_FORMS[a](initial={"version": case.version}, auto_id=f"id_{a}_%s") for a in actions}
    if bound is not None:
        forms[bound[0]] = bound[1]
    events = list(case.events.select_related("actor").prefetch_related("attachments").order_by("seq"))
    report_photos = [a for a in events[0].attachments.all() if a.is_image] if events else []
    return {
        "case": case,
        "events": events,
        "report_photos": report_photos,
        "forms": forms,
        "verify_form": forms.get(Action.VERIFY),
        "rework_form": forms.get(Action.REWORK),
        "self_resolve_form": forms.get(Action.SELF_RESOLVE),
        "now": timezone.now(),
    }


@worker_view
def case_detail(request, pk: int):
    case = _my_case(request, pk)
    return render(request, "worker/case.html", _case_context(request, case))


ACTION_DONE = {
    Action.VERIFY: gettext_lazy("核查通过，事件 %(number)s 已结案"),
    Action.REWORK: gettext_lazy("事件 %(number)s 核查不通过，已退回返工"),
    Action.SELF_RESOLVE: gettext_lazy("事件 %(number)s 已记录处置结果，待网格长核查"),
}


@require_POST
@worker_view
def case_action(request, pk: int, action: str):
    """核查 (verify / rework) and 自行处置 (self_resolve) through services.case_act; the engine's
    refusals come back as Chinese messages (a Conflict names who acted first)."""
    if action not in ACTION_FORMS:
        raise Http404
    case = _my_case(request, pk)
    form = ACTION_FORMS[action](request.POST, request.FILES, auto_id=f"id_{action}_%s")
    status = 400
    if form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic(), stored_files() as written:
                attachments = store_attachments(request.user, data.get("photos") or [], written)
                services.case_act(
                    case_id=case.pk,
                    action=action,
                    actor=request.user,
                    version=data.get("version"),
                    note=data.get("note", ""),
                    attachments=attachments,
                )
        except CaseActionError as exc:
            apply_action_error(form, exc)
            status = 409 if isinstance(exc, Conflict) else exc.status
            case = _my_case(request, pk)  # show the case as it is now
        else:
            message = str(ACTION_DONE[Action(action)]) % {"number": case.number}
            return done(request, reverse("worker:tasks"), message)
    return invalid(request, form, "worker/case.html", _case_context(request, case, (action, form)), status=status)


@worker_view
def tasks(request):
    user, grids = request.user, request.grids
    mine = my_cases(user, grids).filter(reporter=user).select_related("category").order_by("-created_at", "-id")[:20]
    context = {
        "to_verify": to_verify(user, grids),
        "to_self_resolve": to_self_resolve(user, grids),
        "mine": list(mine),
        "now": timezone.now(),
    }
    return render(request, "worker/tasks.html", context)


@worker_view
def my_reports(request):
    qs = (
        my_cases(request.user, request.grids)
        .filter(reporter=request.user)
        .select_related("category")
        .order_by("-created_at", "-id")
    )
    page = Paginator(qs, 20).get_page(request.GET.get("page"))
    return render(request, "worker/reports.html", {"page": page, "now": timezone.now()})


# --- notifications ----------------------------------------------------------------------------


@worker_view
def notifications(request):
    qs = Notification.objects.filter(recipient=request.user).select_related("case")
    page = Paginator(qs, 30).get_page(request.GET.get("page"))
    visible = set(
        my_cases(request.user, request.grids)
        .filter(pk__in=[n.case_id for n in page if n.case_id])
        .values_list("pk", flat=True)
    )
    for n in page:
        n.case_visible = n.case_id in visible
    return render(request, "worker/notifications.html", {"page": page, "unread": unread_count(request.user)})


@require_POST
@worker_view
def notification_read(request, pk: int):
    notification = get_object_or_404(Notification, pk=pk, recipient=request.user)
    if not notification.is_read:
        notification.is_read = True
        notification.save(update_fields=["is_read"])
    target = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}) or not target.startswith("/m/"):
        target = reverse("worker:notifications")
    return redirect(target)


@require_POST
@worker_view
def notifications_read_all(request):
    n = Notification.objects.filter(recipient=request.user, is_read=False).update(is_read=True)
    if n:
        messages.success(request, _("已将 %(n)d 条通知标为已读") % {"n": n})
    return redirect("worker:notifications")


# --- patrol -----------------------------------------------------------------------------------


def _month(value: str | None, today: dt.date) -> dt.date:
    try:
        year, month = (int(p) for p in (value or "").split("-"))
        chosen = dt.date(year, month, 1)
    except ValueError:
        return today.replace(day=1)
    return min(chosen, today.replace(day=1))


@worker_view
def patrol(request):
    """巡查日志: start and end today's patrol, file what is found (each item a case), and a month
    calendar of the grid's daily reports against the ≥ 2 minimum."""
    user, grids = request.user, request.grids
    today = timezone.localdate()
    log = today_patrol(user, today)
    grid_id = request.GET.get("grid", "")
    grid = next((g for g in grids if str(g.pk) == grid_id), None)
    if grid is None:
        grid = next((g for g in grids if log and g.pk == log.grid_id), grids[0])
    month = _month(request.GET.get("month"), today)
    prev_month = (month - dt.timedelta(days=1)).replace(day=1)
    next_month = (month + dt.timedelta(days=32)).replace(day=1)
    context = {
        "log": log,
        "items": list(log.items.select_related("case__category").order_by("created_at")) if log else [],
        "start_form": PatrolStartForm(grids=grids),
        "end_form": PatrolEndForm(),
        "grid": grid,
        "grids": grids,
        "month": month,
        "weeks": compliance_month(user, grid, month, today),
        "prev_month": prev_month,
        "next_month": next_month if next_month <= today else None,
        "target": DAILY_TARGET,
        "today": today,
    }
    if log is not None and log.is_running:
        initial = {"area": log.area_id}
        context["report_form"] = ReportForm(initial=initial, user=user, grids=grids, auto_id="id_patrol_%s")
        context["idempotency_key"] = str(uuid.uuid4())
    return render(request, "worker/patrol.html", context)


@require_POST
@worker_view
def patrol_start(request):
    form = PatrolStartForm(request.POST, grids=request.grids)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("worker:patrol")
    grid = form.cleaned_data["grid"]
    now = timezone.now()
    log = PatrolLog(worker=request.user, day=timezone.localdate(now), area=grid, started_at=now)
    set_path(log, grid)
    try:
        with transaction.atomic():
            log.save()
    except IntegrityError:
        messages.error(request, _("今天已经开始过巡查（每人每天一条巡查日志）"))
    else:
        started = f"{timezone.localtime(now):%H:%M}"
        messages.success(request, _("巡查已开始（%(time)s），发现问题随手记录") % {"time": started})
    return redirect("worker:patrol")


@require_POST
@worker_view
def patrol_end(request):
    log = today_patrol(request.user)
    form = PatrolEndForm(request.POST)
    if log is None:
        messages.error(request, _("今天还没有开始巡查"))
    elif not log.is_running:
        messages.error(request, _("今天的巡查已经结束"))
    elif form.is_valid():
        log.ended_at = timezone.now()
        log.note = form.cleaned_data["note"]
        log.save(update_fields=["ended_at", "note", "updated_at"])
        messages.success(
            request,
            _("巡查已结束（%(time)s），共记录 %(n)d 项")
            % {
                "time": f"{timezone.localtime(log.ended_at):%H:%M}",
                "n": log.items.count(),
            },
        )
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect("worker:patrol")
