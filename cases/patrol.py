"""Patrol logs (巡查日志): one per grid worker per day, with the items found on the way. Each item is
a case filed through services.case_report (an information category makes it a closed information
record), so a patrol adds no second place where reports live.

Imported at the bottom of cases/models.py so Django finds the models in the app's models module.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from grids.models import AreaPath, ScopedQuerySet


class PatrolLog(AreaPath):
    """A worker's patrol of their grid on one day: start and end times and what was found. The
    path is the grid's at the time (kept if the grid later moves), so town-level lists are one
    indexed equality."""

    REFRESH_PATH_ON_MOVE = False

    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("网格员"), on_delete=models.PROTECT, related_name="patrol_logs"
    )
    day = models.DateField(_("日期"))
    started_at = models.DateTimeField(_("开始时间"))
    ended_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    note = models.TextField(_("巡查情况"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("巡查日志")
        verbose_name_plural = _("巡查日志")
        ordering = ["-day", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["worker", "day"],
                name="patrol_one_per_worker_day",
                violation_error_message=_("今天的巡查日志已存在"),
            )
        ]
        indexes = [
            models.Index(fields=["grid", "day"], name="patrol_grid_day"),
            models.Index(fields=["town", "day"], name="patrol_town_day"),
        ]

    def __str__(self) -> str:
        return f"{self.worker} {self.day:%Y-%m-%d}"

    @property
    def is_running(self) -> bool:
        return self.ended_at is None


class PatrolItem(models.Model):
    """Something found on a patrol: the case it was filed as (a problem to handle, or an
    information record)."""

    log = models.ForeignKey(PatrolLog, verbose_name=_("巡查日志"), on_delete=models.CASCADE, related_name="items")
    case = models.OneToOneField(
        "cases.Case", verbose_name=_("事件"), on_delete=models.PROTECT, related_name="patrol_item"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("巡查发现")
        verbose_name_plural = _("巡查发现")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.log} · {self.case}"
