"""Plumbing shared by the grid worker's views: who counts as a grid worker here, and answers that
suit both a plain form post (redirect or re-rendered page) and worker.js's fetch (JSON)."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, JsonResponse
from django.shortcuts import redirect, render

from .selectors import my_grids


def worker_view(view):
    """Login required, and at least one grid worker / grid chief post: `request.grids` holds the
    grids. Anybody else gets a page that says so (403)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        request.grids = my_grids(request.user)
        if not request.grids:
            return render(request, "worker/no_grid.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


def wants_json(request: HttpRequest) -> bool:
    """worker.js submits forms with fetch and asks for JSON; a plain form post gets HTML."""
    return request.headers.get("X-Requested-With") == "fetch"


def done(request: HttpRequest, url: str, message: str = "", level: int = messages.SUCCESS, **extra):
    if message:
        messages.add_message(request, level, message)
    if wants_json(request):
        return JsonResponse({"ok": True, "redirect": url, **extra})
    return redirect(url)


def invalid(request: HttpRequest, form, template: str, context: dict, status: int = 400):
    """A form that failed validation: JSON errors for fetch, else the page again with the errors
    next to the fields and everything typed kept."""
    if wants_json(request):
        return JsonResponse({"ok": False, **form.errors_json()}, status=status)
    return render(request, template, context, status=status)


def apply_action_error(form, exc) -> None:
    """Put a CaseActionError's Chinese message (and its per-field messages) onto the form."""
    placed = False
    for name, msgs in (exc.fields or {}).items():
        field = name if name in form.fields else None
        if name == "attachments" and "photos" in form.fields:
            field = "photos"
        for message in msgs:
            form.add_error(field, message)
            placed = True
    if not placed:
        form.add_error(None, exc.message)
