from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from grids.models import Area

from .choices import ROLE_LEVELS, DepartmentKind, Role


class DepartmentQuerySet(models.QuerySet):
    def visible_to(self, user):
        from grids.scope import scope_for

        return self.filter(scope_for(user).area_q("area__"))


class Department(models.Model):
    """A unit that handles dispatched cases (县直部门, 站所, service teams), attached to the area it serves."""

    code = models.CharField(_("编码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=24, choices=DepartmentKind.choices)
    area = models.ForeignKey(Area, verbose_name=_("服务区域"), on_delete=models.PROTECT, related_name="departments")
    phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)

    objects = DepartmentQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("部门")
        verbose_name_plural = _("部门")

    def __str__(self) -> str:
        return self.name


class PostQuerySet(models.QuerySet):
    def active(self):
        return self.filter(is_active=True)

    def visible_to(self, user):
        from grids.scope import scope_for

        scope = scope_for(user)
        return self.filter(scope.area_q("area__") | scope.area_q("department__area__"))


class Post(models.Model):
    """A user's post: (role, area) or (department role, department). A user may hold several;
    each grants the subtree of its area."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="posts")
    role = models.CharField(_("岗位"), max_length=24, choices=Role.choices)
    area = models.ForeignKey(
        Area, verbose_name=_("区域"), on_delete=models.PROTECT, related_name="posts", null=True, blank=True
    )
    department = models.ForeignKey(
        Department, verbose_name=_("部门"), on_delete=models.PROTECT, related_name="posts", null=True, blank=True
    )
    title = models.CharField(_("职务"), max_length=50, blank=True)
    is_active = models.BooleanField(_("在岗"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PostQuerySet.as_manager()

    class Meta:
        verbose_name = _("岗位")
        verbose_name_plural = _("岗位")
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(area__isnull=False, department__isnull=True))
                | (models.Q(area__isnull=True, department__isnull=False)),
                name="post_area_xor_department",
            ),
            models.UniqueConstraint(fields=["user", "role", "area"], name="post_unique_area_role"),
            models.UniqueConstraint(fields=["user", "role", "department"], name="post_unique_department_role"),
        ]

    def __str__(self) -> str:
        where = self.area or self.department
        return f"{self.user} · {self.get_role_display()} · {where}"

    def save(self, *args, **kwargs) -> None:
        super().save(*args, **kwargs)
        from grids.scope import forget_scope

        forget_scope(self.user)

    def clean(self) -> None:
        levels = ROLE_LEVELS.get(self.role)
        if levels is None:
            if not self.department_id or self.area_id:
                raise ValidationError({"department": _("部门岗位必须选择部门，且不选区域")})
            return
        if not self.area_id or self.department_id:
            raise ValidationError({"area": _("该岗位必须选择区域，且不选部门")})
        if self.area.level not in levels:
            raise ValidationError(
                {
                    "area": _("%(role)s不能设在%(level)s一级")
                    % {"role": self.get_role_display(), "level": self.area.get_level_display()}
                }
            )
