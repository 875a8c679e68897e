"""Versioned area boundaries.

Every change of an area's boundary (drawn in the editor, split, merged, imported, removed) is a new,
immutable `BoundaryVersion` row numbered 1, 2, 3 … per area. `Area.boundary` is a denormalised copy
of the version in force today: the one with the latest `effective_from` not after today (ties by
number). The services in `grids.boundaries` keep the two in step; nothing else writes either.

The in-process locate index (`grids.locate`) is invalidated by the signals at the bottom of this
module: at once in this process, and in other processes through the newest version id, which the
index reads at most every few seconds.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class BoundaryChange(models.TextChoices):
    EDIT = "edit", _("绘制/修改")
    SPLIT = "split", _("拆分")
    MERGE = "merge", _("合并")
    IMPORT = "import", _("导入")
    REMOVE = "remove", _("删除边界")


class BoundaryVersion(models.Model):
    """One version of an area's boundary: a GeoJSON Polygon/MultiPolygon in WGS 84 longitude/latitude
    (null: the boundary was removed from this date on)."""

    area = models.ForeignKey(
        "grids.Area", verbose_name=_("区域"), on_delete=models.CASCADE, related_name="boundary_versions"
    )
    number = models.PositiveIntegerField(_("版本号"))
    geometry = models.JSONField(_("边界"), null=True, blank=True)
    area_m2 = models.FloatField(_("面积（平方米）"), null=True, blank=True)
    effective_from = models.DateField(_("生效日期"), default=timezone.localdate, db_index=True)
    kind = models.CharField(_("变更类型"), max_length=16, choices=BoundaryChange.choices, default=BoundaryChange.EDIT)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("修改人"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    note = models.CharField(_("说明"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        ordering = ["area", "-number"]
        verbose_name = _("边界版本")
        verbose_name_plural = _("边界版本")
        constraints = [models.UniqueConstraint(fields=["area", "number"], name="boundary_version_number")]
        indexes = [models.Index(fields=["area", "effective_from", "number"], name="boundary_version_effective")]

    def __str__(self) -> str:
        return f"{self.area_id} v{self.number}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not self._state.adding:
            raise ValidationError(_("边界版本不可修改，请保存一个新版本"))
        super().save(*args, **kwargs)


def _boundaries_changed(sender, **kwargs) -> None:
    from .locate import invalidate

    invalidate()


post_save.connect(_boundaries_changed, sender=BoundaryVersion, dispatch_uid="boundaries_version_saved")
post_save.connect(_boundaries_changed, sender="grids.Area", dispatch_uid="boundaries_area_saved")
post_delete.connect(_boundaries_changed, sender="grids.Area", dispatch_uid="boundaries_area_deleted")
