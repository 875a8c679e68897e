"""Household-side records kept by grid workers: visits (走访), 1+X pairings (党员干部结对联户) and the
log of who looked at a full ID number and why.

Imported at the bottom of grids/models.py so Django finds the models in the app's models module.
Every queryset a user reaches goes through `visible_to(user)` (grids.scope): visits carry their own
denormalised path (AreaPath, fixed when the visit is recorded); pairings and ID-number accesses are
scoped through the household or resident they point at.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import AreaPath, Household, Resident, ScopedQuerySet


def visit_photo_path(instance: "Visit", filename: str) -> str:
    now = timezone.localtime()
    return f"visits/{now:%Y/%m}/{uuid.uuid4().hex}{instance.photo_extension}"


class Visit(AreaPath):
    """One visit to a household (入户走访). The path is the household's at the time of the visit:
    coverage (走访覆盖率) stays counted where the visit happened even if the household moves later."""

    REFRESH_PATH_ON_MOVE = False

    household = models.ForeignKey(Household, verbose_name=_("户"), on_delete=models.PROTECT, related_name="visits")
    visitor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("走访人"), on_delete=models.PROTECT, related_name="+"
    )
    date = models.DateField(_("走访日期"), default=timezone.localdate, db_index=True)
    discussed = models.TextField(_("走访内容"))
    # A photo checked by cases.attachments.validate_upload (magic bytes, size); served only through
    # a scoped view, never from MEDIA_URL.
    photo = models.FileField(_("照片"), upload_to=visit_photo_path, max_length=200, blank=True)
    photo_content_type = models.CharField(max_length=50, blank=True, editable=False)
    photo_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    follow_up_case = models.ForeignKey(
        "cases.Case",
        verbose_name=_("后续事件"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="visits",
    )
    created_at = models.DateTimeField(_("记录时间"), auto_now_add=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("走访记录")
        verbose_name_plural = _("走访记录")
        ordering = ["-date", "-id"]
        indexes = [
            models.Index(fields=["household", "date"], name="visit_household_date"),
            models.Index(fields=["grid", "date"], name="visit_grid_date"),
            models.Index(fields=["town", "date"], name="visit_town_date"),
        ]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.household}"

    @property
    def photo_extension(self) -> str:
        from cases.attachments import EXTENSIONS

        return EXTENSIONS.get(self.photo_content_type, "")


class PairingQuerySet(models.QuerySet):
    def visible_to(self, user):
        return self.filter(household__in=Household.objects.visible_to(user).values("pk"))

    def active(self):
        return self.filter(until__isnull=True)


class Pairing(models.Model):
    """1+X: a party member or cadre paired with households (党员干部联系户). The cadre is a user
    when they have a login, otherwise just a name."""

    household = models.ForeignKey(Household, verbose_name=_("户"), on_delete=models.PROTECT, related_name="pairings")
    cadre = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("结对干部（账号）"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="pairings",
    )
    cadre_name = models.CharField(_("结对干部姓名"), max_length=50, blank=True)
    cadre_title = models.CharField(_("身份/职务"), max_length=50, blank=True, help_text=_("例如 党员、村干部"))
    since = models.DateField(_("结对日期"), default=timezone.localdate)
    until = models.DateField(_("解除日期"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PairingQuerySet.as_manager()

    class Meta:
        verbose_name = _("1+X 结对")
        verbose_name_plural = _("1+X 结对")
        ordering = ["-since", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(cadre__isnull=False) | ~models.Q(cadre_name=""),
                name="pairing_cadre_or_name",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ↔ {self.household}"

    @property
    def display_name(self) -> str:
        if self.cadre_name:
            return self.cadre_name
        if self.cadre_id:
            return self.cadre.get_full_name() or self.cadre.username
        return ""


class IdNumberAccessQuerySet(models.QuerySet):
    def visible_to(self, user):
        return self.filter(resident__in=Resident.objects.visible_to(user).values("pk"))


class IdNumberAccess(models.Model):
    """Who saw a resident's full ID number, when and why. Written before the number is shown;
    never edited (read-only in the admin)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("查看人"), on_delete=models.PROTECT, related_name="+"
    )
    resident = models.ForeignKey(
        Resident, verbose_name=_("居民"), on_delete=models.PROTECT, related_name="id_number_accesses"
    )
    reason = models.TextField(_("查看原因"))
    ip_address = models.GenericIPAddressField(_("IP 地址"), null=True, blank=True)
    created_at = models.DateTimeField(_("查看时间"), auto_now_add=True, db_index=True)

    objects = IdNumberAccessQuerySet.as_manager()

    class Meta:
        verbose_name = _("身份证号查看记录")
        verbose_name_plural = _("身份证号查看记录")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.user} → {self.resident} ({self.created_at:%Y-%m-%d %H:%M})"
