from decimal import Decimal

from django import template

from assessment import selectors

register = template.Library()


@register.filter
def signed(value) -> str:
    """+5 / −10 / 0 (one decimal only when needed)."""
    if value in (None, ""):
        return ""
    value = Decimal(value)
    text = f"{value.normalize():f}" if value != value.to_integral() else f"{value.to_integral():f}"
    if value > 0:
        return f"+{text}"
    return text


@register.filter
def points(value) -> str:
    """A score without trailing zeros: 1000, 987.5."""
    if value in (None, ""):
        return ""
    value = Decimal(value)
    return f"{value.to_integral():f}" if value == value.to_integral() else f"{value.normalize():f}"


@register.simple_tag(takes_context=True)
def assessment_viewer(context) -> bool:
    request = context.get("request")
    return bool(request and selectors.is_viewer(request.user))
