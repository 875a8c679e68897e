from django.db import models
from django.utils.translation import gettext_lazy as _


class DayKind(models.TextChoices):
    """What an admin-entered calendar day is: an official day off, or a make-up workday (调休上班)."""

    HOLIDAY = "holiday", _("休息（放假）")
    WORKDAY = "workday", _("上班（调休）")


class LimitUnit(models.TextChoices):
    """Unit of a time limit. Working units are counted on the working calendar (working hours of
    working days); natural units ignore the calendar (urgent matters: 2 natural hours = 120 minutes
    of wall-clock time, nights and holidays included)."""

    WORKING_MINUTES = "working_minutes", _("工作分钟")
    WORKING_HOURS = "working_hours", _("工作小时")
    WORKING_DAYS = "working_days", _("工作日")
    NATURAL_MINUTES = "natural_minutes", _("自然分钟")
    NATURAL_HOURS = "natural_hours", _("自然小时")


WORKING_UNITS = frozenset({LimitUnit.WORKING_MINUTES, LimitUnit.WORKING_HOURS, LimitUnit.WORKING_DAYS})
