"""Desktop pages for the town centre (受理中心), departments and the county command centre. Views
shape HTTP into calls of cases.services and reads of cases.selectors; no rules live here."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from grids.choices import AreaLevel
from grids.models import Area

from .. import selectors, services
from ..choices import Action, CaseState, Source
from ..models import Attachment, Case, Category
from ..transitions import CaseActionError, allowed_actions
from .forms import ActionForm, BulkDispatchForm

PAGE_SIZE = 50
FILTER_KEYS = ("category", "source", "zone", "grid", "date_from", "date_to", "q")


def _filters(request) -> dict:
    return {k: request.GET.get(k, "").strip() for k in FILTER_KEYS if request.GET.get(k, "").strip()}


def _page(request, qs):
    return Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))


def _filter_choices(user) -> dict:
    areas = Area.objects.visible_to(user).filter(level__in=(AreaLevel.ZONE, AreaLevel.GRID, AreaLevel.SPECIAL_GRID))
    return {
        "categories": Category.objects.filter(parent__isnull=True, is_active=True).order_by("code"),
        "sources": Source.choices,
        "zones": [a for a in areas if a.level == AreaLevel.ZONE],
        "grids": [a for a in areas if a.level != AreaLevel.ZONE],
    }


@login_required
def intake(request):
    """The town centre's queue over the user's scope, in saved views with filters and paging."""
    view = request.GET.get("view", "intake")
    if view not in selectors.SAVED_VIEW_FILTERS:
        view = "intake"
    sort = request.GET.get("sort", "due")
    filters = _filters(request)
    now = timezone.now()
    qs = selectors.case_queue(user=request.user, view=view, filters=filters, sort=sort, now=now)
    page = _page(request, qs.prefetch_related("attachments"))
    return render(
        request,
        "console/intake.html",
        {
            "page": page,
            "view": view,
            "views": selectors.SAVED_VIEWS,
            "counts": selectors.view_counts(user=request.user, filters=filters, now=now),
            "filters": filters,
            "sort": sort,
            "now": now,
            "bulk_form": BulkDispatchForm(user=request.user),
            **_filter_choices(request.user),
        },
    )


def _visible_case(request, pk: int) -> Case:
    case = (
        Case.objects.visible_to(request.user)
        .select_related(
            "category__parent",
            "area",
            "reporter",
            "owner_area",
            "owner_department__area",
            "assignee",
            "household",
            "merged_into",
            "county",
        )
        .filter(pk=pk)
        .first()
    )
    if case is None:
        raise Http404(_("事件不存在或不在您的管辖范围内"))
    return case


def _store_photos(form: ActionForm, user) -> list[Attachment]:
    stored = []
    for f, content_type, sha in form.cleaned_data.get("photos") or []:
        att = Attachment(
            uploaded_by=user, original_name=f.name[:200], content_type=content_type, size=f.size, sha256=sha
        )
        att.file.save(f"upload{att.extension}", f, save=False)
        att.save()
        stored.append(att)
    return stored


@login_required
def case_detail(request, pk: int):
    """A case: timeline, photos, location, household, duplicates, and the actions the table allows
    this user, each with its form. POST `action=<name>` performs one of them."""
    case = _visible_case(request, pk)
    allowed = allowed_actions(case, request.user)
    forms_by_action = {
        a: ActionForm(action=a, case=case, user=request.user, initial={"version": case.version}) for a in allowed
    }
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action not in Action.values or action not in forms_by_action:
            # Not offered any more (someone acted first) or never offered: say why, touch nothing.
            messages.error(request, _stale_message(case, action))
            return redirect("console:case", pk=case.pk)
        form = ActionForm(request.POST, request.FILES, action=action, case=case, user=request.user)
        forms_by_action[action] = form
        if form.is_valid():
            stored: list[Attachment] = []
            try:
                with transaction.atomic():
                    stored = _store_photos(form, request.user)
                    services.case_act(
                        case_id=case.pk, action=action, actor=request.user, attachments=stored, **form.params()
                    )
            except CaseActionError as exc:
                for att in stored:
                    att.file.delete(save=False)
                if exc.fields:
                    for field, errors in exc.fields.items():
                        form.add_error(field if field in form.fields else None, errors)
                else:
                    form.add_error(None, exc.message)
                status = 409 if exc.status == 409 else 400
            else:
                messages.success(request, _("已%(action)s") % {"action": Action(action).label})
                return redirect("console:case", pk=case.pk)
        else:
            status = 400
        open_action = action
    else:
        open_action = request.GET.get("open", "")
    duplicates = (
        selectors.duplicate_candidates(case, user=request.user)
        if Action.MERGE in allowed and case.state != CaseState.CLOSED
        else []
    )
    return render(
        request,
        "console/case_detail.html",
        {
            "case": case,
            "allowed": allowed,
            "forms": forms_by_action,
            "open_action": open_action,
            "events": case.events.select_related("actor").prefetch_related("attachments").order_by("seq"),
            "photos": [a for a in case.attachments.all() if a.is_image],
            "files": [a for a in case.attachments.all() if not a.is_image],
            "duplicates": duplicates,
            "extension": case.extension_requests.filter(status="pending").first(),
            "now": timezone.now(),
            "map_config": _map_config(case),
        },
        status=status,
    )


def _map_config(case: Case) -> dict | None:
    if case.latitude is None or case.longitude is None:
        return None
    return {
        "lat": float(case.latitude),
        "lon": float(case.longitude),
        "label": case.number,
        "tileUrl": settings.GRIDGOV_TILE_URL,
        "attribution": settings.GRIDGOV_TILE_ATTRIBUTION,
    }


def _stale_message(case: Case, action: str) -> str:
    last = case.events.select_related("actor").order_by("-seq").first()
    who = (last.actor.get_full_name() or last.actor.username) if last and last.actor else _("系统")
    label = Action(action).label if action in Action.values else action
    return _("无法执行“%(action)s”：该事件已被 %(who)s 处理（%(last)s），当前状态：%(state)s。") % {
        "action": label,
        "who": who,
        "last": Action(last.action).label if last else "",
        "state": case.get_state_display(),
    }


@login_required
def bulk_dispatch(request):
    """Dispatch several cases to one department; each case succeeds or fails on its own (another
    user may have acted first)."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = BulkDispatchForm(request.POST, user=request.user)
    ids = [int(x) for x in request.POST.getlist("case") if x.isdigit()]
    results = []
    if not ids:
        messages.error(request, _("请先勾选要派遣的事件"))
        return redirect(request.POST.get("next") or "console:intake")
    if not form.is_valid():
        messages.error(request, _("请选择派遣部门"))
        return redirect(request.POST.get("next") or "console:intake")
    department = form.cleaned_data["department"]
    visible = {c.pk: c for c in Case.objects.visible_to(request.user).filter(pk__in=ids)}
    for case_id in ids:
        case = visible.get(case_id)
        if case is None:  # crafted or out-of-scope id: reported as not found, never touched
            results.append({"id": case_id, "number": "—", "ok": False, "message": _("事件不存在或不在您的管辖范围内")})
            continue
        version = request.POST.get(f"version-{case_id}")
        try:
            services.case_act(
                case_id=case_id,
                action=Action.DISPATCH,
                actor=request.user,
                version=int(version) if version and version.isdigit() else None,
                target=department,
            )
            results.append({"id": case_id, "number": case.number, "ok": True, "message": _("已派遣")})
        except CaseActionError as exc:
            results.append({"id": case_id, "number": case.number, "ok": False, "message": exc.message})
    return render(
        request,
        "console/bulk_result.html",
        {"results": results, "department": department, "ok_count": sum(r["ok"] for r in results)},
    )


@login_required
def supervision(request):
    return render(
        request,
        "console/supervision.html",
        {"board": selectors.supervision_board(user=request.user), "window": selectors.near_due_window()},
    )


DEPARTMENT_VIEWS = [
    ("unsigned", _("待签收")),
    ("open", _("办理中")),
    ("overdue", _("已超时")),
    ("feedback", _("已反馈待核查")),
    ("closed", _("已办结")),
]


@login_required
def department(request):
    """The department desk: what was dispatched to my departments, across every town they serve."""
    view = request.GET.get("view", "unsigned")
    qs = selectors.department_queue(user=request.user, view=view)
    return render(
        request,
        "console/department.html",
        {"page": _page(request, qs), "view": view, "views": DEPARTMENT_VIEWS, "now": timezone.now()},
    )


COUNTY_VIEWS = [("escalated", _("乡镇上报待受理")), ("dispatched", _("县级已派遣")), ("overdue", _("全县超时"))]


@login_required
def county(request):
    """The county desk: cases towns escalated (乡呼县应), those the county dispatched, cross-town lists."""
    view = request.GET.get("view", "escalated")
    town = request.GET.get("town")
    qs = selectors.county_queue(user=request.user, view=view, town=int(town) if town and town.isdigit() else None)
    towns = Area.objects.visible_to(request.user).filter(level=AreaLevel.TOWN).order_by("code")
    return render(
        request,
        "console/county.html",
        {
            "page": _page(request, qs),
            "view": view,
            "views": COUNTY_VIEWS,
            "towns": towns,
            "town": town,
            "now": timezone.now(),
        },
    )
