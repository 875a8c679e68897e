from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from mptt.managers import TreeManager
from mptt.models import MPTTModel, TreeForeignKey
from mptt.querysets import TreeQuerySet

from gridgov import pii

from .choices import GRID_LEVELS, AreaLevel, Gender, Relation
from .rules import code_rule_error, level_order_error
from .tree import tree_write_lock


class AreaQuerySet(TreeQuerySet):
    def visible_to(self, user) -> "AreaQuerySet":
        from .scope import scope_for

        return self.filter(scope_for(user).area_q())


class AreaManager(TreeManager.from_queryset(AreaQuerySet)):
    pass


class Area(MPTTModel):
    """A node of the county's area tree: county → town → zone → village/community → grid → group."""

    code = models.CharField(_("编码"), max_length=24, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    level = models.CharField(_("层级"), max_length=16, choices=AreaLevel.choices, db_index=True)
    parent = TreeForeignKey(
        "self",
        verbose_name=_("上级"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
    )
    is_active = models.BooleanField(_("启用"), default=True)
    # Polygon or MultiPolygon as GeoJSON geometry; edited and validated by the boundaries issue.
    boundary = models.JSONField(_("边界"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AreaManager()

    class MPTTMeta:
        order_insertion_by = ["code"]
        # `level` is the domain level (county, town …); MPTT's own depth counter lives in `depth`.
        level_attr = "depth"

    class Meta:
        verbose_name = _("区域")
        verbose_name_plural = _("区域")
        indexes = [models.Index(fields=["tree_id", "lft", "rght"], name="area_tree_range")]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"

    # --- validation ---------------------------------------------------------------------------
    def clean(self) -> None:
        errors: dict[str, list] = {}
        parent = self.parent
        if message := code_rule_error(
            (self.code or "").strip(), self.level, parent.code if parent else None, new=self._state.adding
        ):
            errors["code"] = [message]
        if message := level_order_error(self.level, parent.level if parent else None):
            errors["parent" if parent is None else "level"] = [message]
        if parent is not None and self.pk and (parent.pk == self.pk or parent.is_descendant_of(self)):
            errors.setdefault("parent", []).append(_("不能把区域移动到它自己或它的下级之下"))
        if errors:
            raise ValidationError(errors)

    # --- serialised tree writes ---------------------------------------------------------------
    def _parent_changed(self) -> bool:
        return self._state.adding or self.parent_id != self._mptt_cached_fields.get("parent")

    def save(self, *args, **kwargs) -> None:
        with tree_write_lock():
            moved = self._parent_changed()
            if moved and self.parent_id is not None:
                # Re-read the parent under the lock: its lft/rght may have shifted since it was loaded.
                self.parent = type(self)._base_manager.get(pk=self.parent_id)
            super().save(*args, **kwargs)
            if moved and not self._state.adding:
                from .paths import refresh_paths_below

                refresh_paths_below(self)

    def move_to(self, target, position: str = "first-child") -> None:
        """Drag-and-drop in the admin lands here. Siblings are ordered by code (the code is the
        sequence), so a drop only chooses the new parent: dropping onto a node (first/last-child)
        makes it the parent, dropping beside a node (left/right) takes that node's parent."""
        if position in ("left", "right"):
            new_parent_id = target.parent_id if target is not None else None
        else:
            new_parent_id = target.pk if target is not None else None
        if new_parent_id == self.parent_id:
            return
        self.parent_id = new_parent_id
        self.parent = type(self)._base_manager.get(pk=new_parent_id) if new_parent_id else None
        self.full_clean()
        self.save()

    def delete(self, *args, **kwargs):
        from .services import area_delete_blockers

        with tree_write_lock():
            blockers = area_delete_blockers(self)
            if blockers:
                raise ValidationError(blockers, code="area_in_use")
            self.refresh_from_db(fields=["lft", "rght", "tree_id", "depth"])
            return super().delete(*args, **kwargs)


class AreaPath(models.Model):
    """Denormalised ancestors of a record attached to an area.

    A household in a group of a grid of a village of a zone of a town carries all of those ids, so
    "everything under this town" is one indexed equality instead of a join over the tree. The ids
    are set on write (`grids.paths.set_path`) and refreshed when a subtree moves.
    """

    area = models.ForeignKey(Area, verbose_name=_("所属区域"), on_delete=models.PROTECT, related_name="+")
    county = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="+", null=True, blank=True, editable=False)
    town = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="+", null=True, blank=True, editable=False)
    zone = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="+", null=True, blank=True, editable=False)
    village = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="+", null=True, blank=True, editable=False)
    grid = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="+", null=True, blank=True, editable=False)

    PATH_FIELDS = ("county", "town", "zone", "village", "grid")

    class Meta:
        abstract = True


class Tag(models.Model):
    """Labels on households and residents (低保户, 独居老人 …). `key_visit` marks the 五必访 groups
    that grid workers must visit monthly."""

    code = models.SlugField(_("代码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=32, unique=True)
    key_visit = models.BooleanField(_("重点走访（五必访）"), default=False)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "code"]
        verbose_name = _("标签")
        verbose_name_plural = _("标签")

    def __str__(self) -> str:
        return self.name


class ScopedQuerySet(models.QuerySet):
    def visible_to(self, user):
        from .scope import scope_for

        return self.filter(scope_for(user).path_q())


class Household(AreaPath):
    """A household (户), the leaf of the tree, kept as a record of its grid or group."""

    code = models.CharField(_("户编号"), max_length=32, unique=True)
    address = models.CharField(_("地址"), max_length=200)
    tags = models.ManyToManyField(Tag, verbose_name=_("标签"), blank=True, related_name="households")
    note = models.TextField(_("备注"), blank=True)
    is_active = models.BooleanField(_("有效"), default=True)
    # The date of the household's latest visit, kept by database triggers on grids_visit (migration
    # 0005): the dashboards count 走访覆盖率 from it without reading the visits.
    last_visited_on = models.DateField(_("最近走访日期"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("户")
        verbose_name_plural = _("户")

    def __str__(self) -> str:
        return f"{self.code} {self.address}"

    def clean(self) -> None:
        if self.area_id and self.area.level not in (*GRID_LEVELS, AreaLevel.GROUP):
            raise ValidationError({"area": _("户只能登记在网格或组下")})


class Resident(AreaPath):
    household = models.ForeignKey(Household, verbose_name=_("户"), on_delete=models.PROTECT, related_name="residents")
    name = models.CharField(_("姓名"), max_length=50)
    id_number = models.CharField(_("身份证号"), max_length=18, blank=True, validators=[pii.validate_id_number])
    gender = models.CharField(_("性别"), max_length=1, choices=Gender.choices, blank=True)
    birth_date = models.DateField(_("出生日期"), null=True, blank=True)
    phone = models.CharField(_("电话"), max_length=20, blank=True, validators=[pii.validate_phone])
    relation = models.CharField(_("与户主关系"), max_length=16, choices=Relation.choices, default=Relation.HEAD)
    tags = models.ManyToManyField(Tag, verbose_name=_("标签"), blank=True, related_name="residents")
    is_active = models.BooleanField(_("有效"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("居民")
        verbose_name_plural = _("居民")
        constraints = [
            models.UniqueConstraint(
                fields=["id_number"], condition=~models.Q(id_number=""), name="resident_unique_id_number"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        self.id_number = pii.normalize_id_number(self.id_number)
        self.phone = pii.normalize_phone(self.phone)
        if self.id_number and len(self.id_number) == 18:
            try:
                self.birth_date = pii.id_birth_date(self.id_number)
                self.gender = pii.id_gender(self.id_number)
            except ValueError:
                pass
        # A resident's place is its household's place.
        if self.household_id:
            self.area_id = self.household.area_id
            for field in self.PATH_FIELDS:
                setattr(self, f"{field}_id", getattr(self.household, f"{field}_id"))
        super().save(*args, **kwargs)

    @property
    def id_number_masked(self) -> str:
        return pii.mask_id_number(self.id_number)

    @property
    def phone_masked(self) -> str:
        return pii.mask_phone(self.phone)


from .boundary_models import BoundaryVersion  # noqa: E402,F401
from .visits import IdNumberAccess, Pairing, Visit  # noqa: E402,F401
