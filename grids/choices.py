from django.db import models
from django.utils.translation import gettext_lazy as _


class AreaLevel(models.TextChoices):
    COUNTY = "county", _("县")
    TOWN = "town", _("镇/街道")
    ZONE = "zone", _("片区")
    VILLAGE = "village", _("行政村")
    COMMUNITY = "community", _("社区")
    GRID = "grid", _("网格")
    SPECIAL_GRID = "special_grid", _("专属网格")
    SUB_GRID = "sub_grid", _("子网格")
    GROUP = "group", _("组")


# Position of each level in the tree. A child's rank must be greater than its parent's: levels may
# be skipped (a special grid directly under a town), never inverted.
LEVEL_RANK: dict[str, int] = {
    AreaLevel.COUNTY: 0,
    AreaLevel.TOWN: 1,
    AreaLevel.ZONE: 2,
    AreaLevel.VILLAGE: 3,
    AreaLevel.COMMUNITY: 3,
    AreaLevel.GRID: 4,
    AreaLevel.SPECIAL_GRID: 4,
    AreaLevel.SUB_GRID: 5,
    AreaLevel.GROUP: 6,
}

GRID_LEVELS = (AreaLevel.GRID, AreaLevel.SPECIAL_GRID, AreaLevel.SUB_GRID)

# Which denormalised column of a scoped record (household, resident, case …) holds the ancestor of
# a given level. A subtree filter on one of these levels is a single indexed equality.
PATH_COLUMN: dict[str, str] = {
    AreaLevel.COUNTY: "county",
    AreaLevel.TOWN: "town",
    AreaLevel.ZONE: "zone",
    AreaLevel.VILLAGE: "village",
    AreaLevel.COMMUNITY: "village",
    AreaLevel.GRID: "grid",
    AreaLevel.SPECIAL_GRID: "grid",
}

# Fixed code lengths for levels that carry a statistical division code (统计用区划代码).
STAT_CODE_LENGTH: dict[str, int] = {
    AreaLevel.COUNTY: 6,
    AreaLevel.TOWN: 9,
    AreaLevel.VILLAGE: 12,
    AreaLevel.COMMUNITY: 12,
}


class Relation(models.TextChoices):
    HEAD = "head", _("户主")
    SPOUSE = "spouse", _("配偶")
    CHILD = "child", _("子女")
    PARENT = "parent", _("父母")
    GRANDCHILD = "grandchild", _("孙辈")
    SIBLING = "sibling", _("兄弟姐妹")
    OTHER = "other", _("其他")


class Gender(models.TextChoices):
    MALE = "M", _("男")
    FEMALE = "F", _("女")
