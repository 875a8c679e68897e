"""Shared API plumbing: the error format and the scoped base viewset.

Errors always have the shape `{"code": "<machine code>", "detail": "<中文说明>", "errors": {...}}`
where `errors` carries per-field messages for 400 responses.
"""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status, viewsets
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import ServiceError

_CODE_BY_STATUS = {
    400: "invalid",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    429: "throttled",
}


def _flatten_codes(detail) -> str | None:
    """The first machine code found in a DRF error detail tree."""
    if isinstance(detail, exceptions.ErrorDetail):
        return detail.code
    if isinstance(detail, dict):
        for value in detail.values():
            code = _flatten_codes(value)
            if code:
                return code
    if isinstance(detail, list):
        for value in detail:
            code = _flatten_codes(value)
            if code:
                return code
    return None


def exception_handler(exc, context):
    if isinstance(exc, ServiceError):
        body = {"code": exc.code, "detail": exc.message}
        if exc.fields:
            body["errors"] = exc.fields
        return Response(body, status=exc.status)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(_("对象不存在或不在您的管辖范围内"))
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    code = getattr(exc, "default_code", None) or _CODE_BY_STATUS.get(response.status_code, "error")
    if response.status_code == status.HTTP_400_BAD_REQUEST:
        field_code = _flatten_codes(data)
        body = {
            "code": "invalid" if field_code in (None, "invalid") else field_code,
            "detail": _("提交的数据有误，请检查后重试"),
            "errors": data if isinstance(data, dict) else {"non_field_errors": data},
        }
    else:
        detail = data.get("detail", "") if isinstance(data, dict) else data
        body = {"code": getattr(detail, "code", None) or code, "detail": str(detail)}
    response.data = body
    return response


class ScopedViewSetMixin:
    """Every API queryset passes through `Model.objects.visible_to(request.user)`: an object
    outside the caller's posts does not exist for them (404, never 403)."""

    queryset_model = None

    def get_base_queryset(self):
        return self.queryset_model.objects.all()

    def get_queryset(self):
        return self.get_base_queryset().visible_to(self.request.user)


class ScopedReadOnlyViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    pass


class ScopedModelViewSet(ScopedViewSetMixin, viewsets.ModelViewSet):
    pass
