"""The grid worker's household pages (/m/households/): households and residents of their grids,
visits (走访), 1+X pairings, key households due their monthly visit (五必访), and the logged
"查看身份证号" action. Personal data is masked everywhere; a full ID number is shown only in the
response to a reveal request that gave a reason, after the IdNumberAccess row is written."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Exists, IntegerField, Max, OuterRef, Q, Subquery
from django.http import FileResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from grids.models import Household, Resident
from grids.paths import PATH_FIELDS
from grids.visits import IdNumberAccess, Pairing, Visit
from grids.worker_forms import HouseholdForm, PairingForm, ResidentForm, RevealForm, VisitForm

from .base import done, invalid, worker_view
from .photos import stored_files
from .selectors import (
    grid_areas,
    key_households_q,
    month_bounds,
    my_cases,
    my_households,
    my_residents,
    my_visits,
    visited_in_month_q,
)


def _my_household(request, pk: int) -> Household:
    qs = my_households(request.user, request.grids).select_related("area")
    return get_object_or_404(qs, pk=pk)


def _my_resident(request, pk: int) -> Resident:
    qs = my_residents(request.user, request.grids).select_related("household__area")
    return get_object_or_404(qs, pk=pk)


def _with_flags(qs, today: dt.date):
    """Annotations for lists: key household (五必访), visited this month, residents, last visit."""
    residents = (
        Resident.objects.filter(household=OuterRef("pk"), is_active=True)
        .order_by()
        .values("household")
        .annotate(n=Count("pk"))
        .values("n")
    )
    last_visit = Visit.objects.filter(household=OuterRef("pk")).order_by().values("household")
    return qs.annotate(
        is_key=Exists(Household.objects.filter(pk=OuterRef("pk")).filter(key_households_q())),
        visited_this_month=visited_in_month_q(today),
        resident_count=Subquery(residents, output_field=IntegerField()),
        last_visit=Subquery(last_visit.annotate(d=Max("date")).values("d")[:1]),
    )


@worker_view
def household_list(request):
    user, grids = request.user, request.grids
    today = timezone.localdate()
    q = (request.GET.get("q") or "").strip()
    only_due = request.GET.get("due") == "1"
    qs = my_households(user, grids).filter(is_active=True)
    if q:
        named = Resident.objects.filter(household=OuterRef("pk"), is_active=True, name__icontains=q)
        qs = qs.filter(Q(address__icontains=q) | Q(code__icontains=q) | Exists(named))
    if only_due:
        qs = qs.filter(key_households_q()).filter(~visited_in_month_q(today))
    qs = _with_flags(qs, today).select_related("area").prefetch_related("tags").order_by("code")
    page = Paginator(qs, 30).get_page(request.GET.get("page"))
    pairings: dict[int, list[Pairing]] = {}
    for p in Pairing.objects.visible_to(user).active().filter(household__in=[h.pk for h in page]):
        pairings.setdefault(p.household_id, []).append(p)
    for h in page:
        h.active_pairings = pairings.get(h.pk, [])
    context = {"page": page, "q": q, "only_due": only_due, "month": today}
    return render(request, "worker/households.html", context)


def _visit_cases(request, household: Household):
    since = timezone.now() - dt.timedelta(days=30)
    return (
        my_cases(request.user, request.grids)
        .filter(Q(household=household) | Q(reporter=request.user, created_at__gte=since))
        .order_by("-created_at", "-id")
    )


def _household_context(request, household: Household, **forms) -> dict:
    user, grids = request.user, request.grids
    today = timezone.localdate()
    first, last = month_bounds(today)
    residents = list(
        my_residents(user, grids).filter(household=household).prefetch_related("tags").order_by("-is_active", "id")
    )
    visits = list(
        my_visits(user, grids)
        .filter(household=household)
        .select_related("visitor", "follow_up_case")
        .order_by("-date", "-id")[:50]
    )
    tags = list(household.tags.all())
    is_key = any(t.key_visit for t in tags) or any(t.key_visit for r in residents if r.is_active for t in r.tags.all())
    return {
        "household": household,
        "tags": tags,
        "residents": residents,
        "visits": visits,
        "pairings": list(Pairing.objects.visible_to(user).filter(household=household).select_related("cadre")),
        "cases": list(my_cases(user, grids).filter(household=household).select_related("category")[:10]),
        "is_key": is_key,
        "visited_this_month": any(first <= v.date <= last for v in visits),
        "visit_form": forms.get("visit_form") or VisitForm(cases=_visit_cases(request, household)),
        "pairing_form": forms.get("pairing_form") or PairingForm(),
    }


@worker_view
def household_detail(request, pk: int):
    household = _my_household(request, pk)
    return render(request, "worker/household.html", _household_context(request, household))


@worker_view
def household_edit(request, pk: int | None = None):
    household = _my_household(request, pk) if pk else None
    areas = grid_areas(request.user, request.grids)
    form = HouseholdForm(request.POST or None, instance=household, areas=areas)
    context = {"form": form, "household": household}
    if request.method == "POST":
        if not form.is_valid():
            return invalid(request, form, "worker/household_form.html", context)
        with transaction.atomic():
            saved = form.save()
        message = _("已保存户信息") if household else _("已新增户 %(code)s") % {"code": saved.code}
        return done(request, reverse("worker:household", args=[saved.pk]), message)
    return render(request, "worker/household_form.html", context)


@worker_view
def resident_edit(request, household_pk: int | None = None, pk: int | None = None):
    resident = _my_resident(request, pk) if pk else None
    household = resident.household if resident else _my_household(request, household_pk)
    form = ResidentForm(request.POST or None, instance=resident)
    context = {"form": form, "household": household, "resident": resident}
    if request.method == "POST":
        if not form.is_valid():
            return invalid(request, form, "worker/resident_form.html", context)
        obj = form.save(commit=False)
        obj.household = household
        with transaction.atomic():
            obj.save()  # the resident takes its household's place (Resident.save)
            form.save_m2m()
        message = _("已保存居民 %(name)s") % {"name": obj.name}
        return done(request, reverse("worker:household", args=[household.pk]), message)
    return render(request, "worker/resident_form.html", context)


@worker_view
def resident_reveal(request, pk: int):
    """查看身份证号: ask why, write IdNumberAccess, then show the number in this response only."""
    resident = _my_resident(request, pk)
    form = RevealForm(request.POST or None)
    context = {"form": form, "resident": resident, "household": resident.household}
    if request.method == "POST" and form.is_valid():
        IdNumberAccess.objects.create(
            user=request.user,
            resident=resident,
            reason=form.cleaned_data["reason"],
            ip_address=request.META.get("REMOTE_ADDR") or None,
        )
        context["revealed"] = resident.id_number or _("（未登记身份证号）")
        status = 200
    else:
        status = 400 if request.method == "POST" else 200
    response = render(request, "worker/reveal.html", context, status=status)
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@worker_view
def visit_new(request, household_pk: int):
    household = _my_household(request, household_pk)
    form = VisitForm(request.POST, request.FILES, cases=_visit_cases(request, household))
    if not form.is_valid():
        context = _household_context(request, household, visit_form=form)
        return invalid(request, form, "worker/household.html", context)
    photo = form.cleaned_data.get("photo")
    with transaction.atomic(), stored_files() as written:
        visit = form.save(commit=False)
        visit.household = household
        visit.visitor = request.user
        visit.area_id = household.area_id
        for field in PATH_FIELDS:
            setattr(visit, f"{field}_id", getattr(household, f"{field}_id"))
        if photo is not None:
            visit.photo_content_type = photo.content_type
            visit.photo_sha256 = photo.sha256
            visit.photo.save(f"visit{visit.photo_extension}", photo.file, save=False)
            written.append(visit.photo)
        visit.save()
    message = _("已记录 %(date)s 的走访") % {"date": f"{visit.date:%m月%d日}"}
    return done(request, reverse("worker:household", args=[household.pk]), message)


@worker_view
def visit_photo(request, pk: int):
    visit = get_object_or_404(my_visits(request.user, request.grids).exclude(photo=""), pk=pk)
    response = FileResponse(visit.photo.open("rb"), content_type=visit.photo_content_type or "application/octet-stream")
    response["Cache-Control"] = "private, max-age=86400"
    return response


@require_POST
@worker_view
def pairing_new(request, household_pk: int):
    household = _my_household(request, household_pk)
    form = PairingForm(request.POST)
    if not form.is_valid():
        context = _household_context(request, household, pairing_form=form)
        return invalid(request, form, "worker/household.html", context)
    pairing = form.save(commit=False)
    pairing.household = household
    pairing.created_by = request.user
    pairing.save()
    return done(request, reverse("worker:household", args=[household.pk]), _("已登记 1+X 结对"))


@require_POST
@worker_view
def pairing_end(request, pk: int):
    households = my_households(request.user, request.grids)
    pairing = get_object_or_404(
        Pairing.objects.visible_to(request.user).filter(household__in=households.values("pk")), pk=pk
    )
    if pairing.until is None:
        pairing.until = timezone.localdate()
        pairing.save(update_fields=["until"])
        messages.success(request, _("已解除结对"))
    return redirect("worker:household", pk=pairing.household_id)
