from . import calendar


def calendar_warnings(request) -> dict:
    """Staff users see which years' holidays are missing (e.g. "2027 年节假日安排尚未录入"), so that
    deadlines stop being counted on the Monday–Friday fallback. Enabled in settings TEMPLATES
    context_processors as "cases.context_processors.calendar_warnings"."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_staff:
        return {}
    return {"calendar_warnings": calendar.calendar_warnings()}
