"""Boundary pages: the map editor (admins), history and comparison, reassignment of open cases after
a split, GeoJSON import (admins) and export. HTTP in, calls of grids.boundaries out; no rules here.

The editor's actions (check, save, split, merge) are JSON endpoints posted by
gridgov/static/js/boundary_editor.js with the CSRF token in the X-CSRFToken header.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import boundaries as svc
from .boundary_models import BoundaryVersion
from .models import Area

DEFAULT_CENTER = (29.605, 119.04)  # 淳安县 (Qiandao Lake), used when nothing nearby has a boundary


# --- helpers ---------------------------------------------------------------------------------


def _visible_area(request, pk: int, *, edit: bool = False) -> Area:
    area = Area.objects.visible_to(request.user).select_related("parent").filter(pk=pk).first()
    if area is None:
        raise Http404(_("区域不存在或不在您的管辖范围内"))
    if edit:
        svc.require_editor(request.user, area)
    return area


def _json_body(request) -> dict:
    try:
        data = json.loads(request.body.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError):
        raise svc.BoundaryError("bad_json", _("请求内容不是有效的 JSON")) from None
    if not isinstance(data, dict):
        raise svc.BoundaryError("bad_json", _("请求内容不是有效的 JSON"))
    return data


def _date(value, *, required: bool = False) -> dt.date | None:
    if not value:
        if required:
            raise svc.BoundaryError("bad_date", _("请填写生效日期"))
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise svc.BoundaryError("bad_date", _("生效日期格式应为 YYYY-MM-DD")) from None


def _error(exc: svc.BoundaryError | svc.BoundaryInvalid, status: int = 400) -> JsonResponse:
    if isinstance(exc, svc.BoundaryInvalid):
        return JsonResponse(
            {
                "code": "invalid_boundary",
                "detail": _("边界未通过检查，未保存"),
                "errors": [i.as_dict() for i in exc.errors],
                "warnings": [i.as_dict() for i in exc.warnings],
            },
            status=status,
        )
    return JsonResponse(
        {"code": exc.code, "detail": exc.message, "errors": [{"code": exc.code, "message": exc.message}]},
        status=status,
    )


def _version_dict(v: BoundaryVersion | None) -> dict | None:
    if v is None:
        return None
    return {
        "number": v.number,
        "effective_from": v.effective_from.isoformat(),
        "kind": v.get_kind_display(),
        "area_m2": v.area_m2,
    }


def _feature(area: Area, geometry=None) -> dict:
    return {
        "id": area.pk,
        "code": area.code,
        "name": area.name,
        "level": area.get_level_display(),
        "geometry": geometry if geometry is not None else area.boundary,
    }


def _reverse(name: str, *args) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def _map_settings() -> dict:
    center = getattr(settings, "GRIDGOV_MAP_CENTER", DEFAULT_CENTER)
    return {
        "tileUrl": settings.GRIDGOV_TILE_URL,
        "attribution": settings.GRIDGOV_TILE_ATTRIBUTION,
        "center": list(center),
        "zoom": 13,
    }


def _json_post(view):
    """A JSON action of the editor: BoundaryError → 400 with its code; PermissionDenied → 403."""

    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except (svc.BoundaryError, svc.BoundaryInvalid) as exc:
            return _error(exc)
        except PermissionDenied as exc:
            return JsonResponse({"code": "permission_denied", "detail": str(exc) or _("没有权限")}, status=403)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return login_required(require_POST(wrapped))


# --- the editor ------------------------------------------------------------------------------


@login_required
@require_GET
def editor(request, pk: int):
    """Leaflet + geoman: the area's boundary (editable), its parent and siblings (context, snappable),
    its children (context)."""
    area = _visible_area(request, pk, edit=True)
    siblings = list(Area.objects.filter(parent_id=area.parent_id, is_active=True).exclude(pk=area.pk).order_by("code"))
    children = list(Area.objects.filter(parent=area, is_active=True).order_by("code"))
    editable_siblings = [s for s in siblings if svc.can_edit_boundaries(request.user, s)]
    parent = area.parent
    config = {
        "mode": "editor",
        "area": _feature(area),
        "parent": _feature(parent) if parent else None,
        "siblings": [_feature(s) for s in siblings],
        "children": [_feature(c) for c in children],
        "urls": {
            "check": reverse("boundaries:check", args=[area.pk]),
            "save": reverse("boundaries:save", args=[area.pk]),
            "split": reverse("boundaries:split", args=[area.pk]),
            "merge": reverse("boundaries:merge", args=[area.pk]),
            "history": reverse("boundaries:history", args=[area.pk]),
            "locate": _reverse("area-locate"),
        },
        "tolerance": svc.tolerance_m(),
        **_map_settings(),
    }
    return render(
        request,
        "boundaries/editor.html",
        {
            "area": area,
            "config": config,
            "version": svc.current_version(area),
            "siblings": editable_siblings,
            "today": timezone.localdate(),
            "tolerance": svc.tolerance_m(),
            "text": _editor_text(),
        },
    )


def _editor_text() -> dict:
    return {
        "working": _("正在处理…"),
        "failed": _("操作失败"),
        "checkOk": _("检查通过"),
        "checkFailed": _("检查未通过，请按提示修改"),
        "nothingDrawn": _("还没有绘制边界"),
        "chooseMerge": _("请选择要并入的区域"),
        "confirmMerge": _("确定合并？被并入区域的边界将被删除（历史版本会保留）。"),
        "area": _("面积"),
        "hectares": _("公顷"),
        "squareMetres": _("平方米"),
    }


def _save_payload(result: svc.SaveResult) -> dict:
    if result.version is not None:
        detail = _("已保存为第 %(n)d 版") % {"n": result.version.number}
    else:
        detail = _("边界没有变化，未保存新版本")
    return {
        "ok": True,
        "saved": result.version is not None,
        "version": _version_dict(result.version),
        "check": result.check.as_dict(),
        "warnings": [i.as_dict() for i in result.check.warnings],
        "detail": detail,
    }


@_json_post
def check(request, pk: int):
    """Validate without saving (the editor's “检查” button)."""
    area = _visible_area(request, pk, edit=True)
    data = _json_body(request)
    return JsonResponse(svc.check_boundary(area, data.get("geometry")).as_dict())


@_json_post
def save(request, pk: int):
    area = _visible_area(request, pk, edit=True)
    data = _json_body(request)
    result = svc.boundary_save(
        area=area,
        geometry=data.get("geometry"),
        author=request.user,
        effective_from=_date(data.get("effective_from")),
        note=str(data.get("note") or ""),
    )
    return JsonResponse(_save_payload(result))


@_json_post
def split(request, pk: int):
    """The area keeps `remaining` (its boundary after geoman's cut); the part cut off goes to the
    sibling `target` or to a new sibling `new_code`/`new_name`."""
    area = _visible_area(request, pk, edit=True)
    data = _json_body(request)
    target = None
    if data.get("target"):
        try:
            target = _visible_area(request, int(data["target"]), edit=True)
        except (TypeError, ValueError):
            raise svc.BoundaryError("bad_target", _("请选择拆出部分归入的区域")) from None
    elif not (data.get("new_code") and data.get("new_name")):
        raise svc.BoundaryError("bad_target", _("请选择拆出部分归入的区域，或填写新区域的编码和名称"))
    elif area.parent is not None:
        svc.require_editor(request.user, area.parent)  # creating a sibling is a change of the parent
    result = svc.boundary_split(
        area=area,
        remaining=data.get("remaining"),
        author=request.user,
        target=target,
        new_code=str(data.get("new_code") or ""),
        new_name=str(data.get("new_name") or ""),
        effective_from=_date(data.get("effective_from")),
        note=str(data.get("note") or ""),
    )
    root = area.parent or area
    plan = svc.reassignment_plan(root=root)
    return JsonResponse(
        {
            "ok": True,
            "detail": _("已拆分：“%(a)s”第 %(n1)d 版，“%(b)s”第 %(n2)d 版")
            % {
                "a": result.area.name,
                "n1": result.area_version.number,
                "b": result.target.name,
                "n2": result.target_version.number,
            },
            "target": {"id": result.target.pk, "name": result.target.name, "created": result.created},
            "warnings": [i.as_dict() for c in result.checks for i in c.warnings],
            "reassign": {"url": reverse("boundaries:reassign", args=[root.pk]), "cases": len(plan.moves)},
        }
    )


@_json_post
def merge(request, pk: int):
    area = _visible_area(request, pk, edit=True)
    data = _json_body(request)
    try:
        other = _visible_area(request, int(data.get("other")), edit=True)
    except (TypeError, ValueError):
        raise svc.BoundaryError("bad_target", _("请选择要并入的区域")) from None
    result = svc.boundary_merge(
        keep=area,
        absorb=other,
        author=request.user,
        effective_from=_date(data.get("effective_from")),
        note=str(data.get("note") or ""),
    )
    root = area.parent or area
    return JsonResponse(
        {
            "ok": True,
            "detail": _("已将“%(b)s”并入“%(a)s”（第 %(n)d 版）")
            % {"a": area.name, "b": other.name, "n": result.keep_version.number},
            "warnings": [i.as_dict() for i in result.check.warnings],
            "reassign": {
                "url": reverse("boundaries:reassign", args=[root.pk]),
                "cases": len(svc.reassignment_plan(root=root).moves),
            },
        }
    )


# --- history and comparison ------------------------------------------------------------------


@login_required
@require_GET
def history(request, pk: int):
    area = _visible_area(request, pk)
    versions = list(area.boundary_versions.select_related("author").order_by("-number"))
    current = svc.current_version(area)
    return render(
        request,
        "boundaries/history.html",
        {
            "area": area,
            "versions": versions,
            "current": current,
            "can_edit": svc.can_edit_boundaries(request.user, area),
            "default_a": versions[1].number if len(versions) > 1 else None,
            "default_b": versions[0].number if versions else None,
        },
    )


@login_required
@require_GET
def compare(request, pk: int):
    area = _visible_area(request, pk)
    versions = {v.number: v for v in area.boundary_versions.select_related("author")}
    try:
        a = versions[int(request.GET.get("a", ""))]
        b = versions[int(request.GET.get("b", ""))]
    except (KeyError, ValueError):
        messages.error(request, _("请选择要比较的两个版本"))
        return redirect("boundaries:history", pk=area.pk)
    comparison = svc.compare_versions(a, b)
    config = {
        "mode": "compare",
        "a": {"label": _("第 %(n)d 版") % {"n": a.number}, "geometry": a.geometry},
        "b": {"label": _("第 %(n)d 版") % {"n": b.number}, "geometry": b.geometry},
        "added": comparison.added,
        "removed": comparison.removed,
        **_map_settings(),
    }
    return render(
        request, "boundaries/compare.html", {"area": area, "cmp": comparison, "config": config, "a": a, "b": b}
    )


# --- reassignment after a split --------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def reassign(request, pk: int):
    """Preview which open cases lie in another grid now; POST moves the ones ticked."""
    area = _visible_area(request, pk, edit=True)
    if request.method == "POST":
        ids = [int(v) for v in request.POST.getlist("case") if v.isdigit()]
        done = svc.reassign_cases(root=area, actor=request.user, case_ids=ids)
        messages.success(request, _("已调整 %(n)d 件事件的所属网格") % {"n": len(done)})
        return redirect("boundaries:reassign", pk=area.pk)
    plan = svc.reassignment_plan(root=area)
    return render(request, "boundaries/reassign.html", {"area": area, "plan": plan})


# --- import and export -----------------------------------------------------------------------

UPLOAD_DIR = "boundary_imports"
SESSION_KEY = "boundary_import_uploads"
MAX_UPLOAD_BYTES = 50 * 1024 * 1024


def _upload_path(token: str) -> Path:
    return Path(settings.MEDIA_ROOT) / UPLOAD_DIR / f"{token}.geojson"


def _is_admin(user) -> bool:
    if user.is_superuser:
        return True
    return Area.objects.filter(svc.boundary_admin_q(user)).exists()


@login_required
@require_http_methods(["GET", "POST"])
def import_page(request):
    """Upload a FeatureCollection, see the dry run (matched / unchanged / unmatched / invalid with
    reasons), then apply it. The file waits between the two steps under MEDIA_ROOT, known to this
    session only; apply validates again, so a change made in between is not overwritten blindly."""
    if not _is_admin(request.user):
        raise PermissionDenied(_("只有管理员可以导入边界"))
    context: dict = {"today": timezone.localdate().isoformat()}
    if request.method == "POST":
        uploads = request.session.get(SESSION_KEY, {})
        action = request.POST.get("action", "dry_run")
        try:
            effective_from = _date(request.POST.get("effective_from"))
        except svc.BoundaryError as exc:
            messages.error(request, exc.message)
            return render(request, "boundaries/import.html", context)
        note = request.POST.get("note", "")[:200]
        if action == "apply":
            token = request.POST.get("token", "")
            path = _upload_path(token)
            if token not in uploads or not path.is_file():
                messages.error(request, _("上传的文件已失效，请重新上传"))
                return redirect("boundaries:import")
            raw = path.read_bytes()
            if hashlib.sha256(raw).hexdigest() != uploads[token]:
                messages.error(request, _("上传的文件已失效，请重新上传"))
                return redirect("boundaries:import")
        else:
            upload = request.FILES.get("file")
            if upload is None:
                messages.error(request, _("请选择 GeoJSON 文件"))
                return render(request, "boundaries/import.html", context)
            if upload.size > MAX_UPLOAD_BYTES:
                messages.error(request, _("文件过大（上限 50 MB）"))
                return render(request, "boundaries/import.html", context)
            raw = upload.read()
            token = uuid.uuid4().hex
        try:
            report = svc.import_boundaries(
                raw,
                dry_run=action != "apply",
                effective_from=effective_from,
                author=request.user,
                user=request.user,
                note=note,
            )
        except svc.BoundaryFileError as exc:
            messages.error(request, str(exc))
            return render(request, "boundaries/import.html", context)
        if action != "apply" and report.ok and report.matched:
            path = _upload_path(token)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(raw)
            uploads[token] = hashlib.sha256(raw).hexdigest()
            request.session[SESSION_KEY] = uploads
        if action == "apply":
            if report.applied:
                _upload_path(token).unlink(missing_ok=True)
                uploads.pop(token, None)
                request.session[SESSION_KEY] = uploads
                messages.success(
                    request, _("导入完成：写入 %(n)d 个新版本。%(s)s") % {"n": report.versions, "s": report.summary()}
                )
            else:
                messages.error(request, report.failure_message())
        context.update(
            {
                "report": report,
                "token": token,
                "effective_from": effective_from.isoformat() if effective_from else "",
                "note": note,
                "can_apply": action != "apply" and report.ok and bool(report.matched),
            }
        )
    return render(request, "boundaries/import.html", context)


@login_required
@require_GET
def export(request, pk: int):
    area = _visible_area(request, pk)
    data = svc.subtree_feature_collection(area, user=request.user)
    response = HttpResponse(
        json.dumps(data, ensure_ascii=False, separators=(",", ":")), content_type="application/geo+json"
    )
    response["Content-Disposition"] = f'attachment; filename="boundaries-{area.code}.geojson"'
    return response
