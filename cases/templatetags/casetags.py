from django import template
from django.utils import timezone
from django.utils.translation import gettext as _

register = template.Library()

STATE_CLASS = {
    "reported": "st-new",
    "escalated": "st-up",
    "handling": "st-doing",
    "feedback": "st-check",
    "closed": "st-done",
    "rejected": "st-no",
}


@register.filter
def state_class(state: str) -> str:
    return STATE_CLASS.get(state, "")


@register.simple_tag
def time_left(case, now=None) -> str:
    """'剩余 3 小时' / '超时 2 天' for the current step; empty when the step has no clock."""
    if not case.due_at:
        return ""
    now = now or timezone.now()
    delta = case.due_at - now
    seconds = abs(delta.total_seconds())
    if seconds < 3600:
        amount = _("%(n)d 分钟") % {"n": max(1, int(seconds // 60))}
    elif seconds < 86400 * 2:
        amount = _("%(n)d 小时") % {"n": int(seconds // 3600)}
    else:
        amount = _("%(n)d 天") % {"n": int(seconds // 86400)}
    return (_("剩余 %(t)s") if delta.total_seconds() >= 0 else _("超时 %(t)s")) % {"t": amount}


@register.filter
def age(value, now=None) -> str:
    if not value:
        return ""
    seconds = (timezone.now() - value).total_seconds()
    if seconds < 3600:
        return _("%(n)d 分钟前") % {"n": max(1, int(seconds // 60))}
    if seconds < 86400:
        return _("%(n)d 小时前") % {"n": int(seconds // 3600)}
    return _("%(n)d 天前") % {"n": int(seconds // 86400)}


@register.simple_tag(takes_context=True)
def query(context, **changes) -> str:
    """The current query string with some parameters changed (for tabs, sorting, paging)."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = value
    if "page" not in changes:
        params.pop("page", None)
    return "?" + params.urlencode()


@register.filter
def get_item(mapping, key):
    return mapping.get(key, "") if mapping else ""
