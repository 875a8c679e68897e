from django.db import models
from django.utils.translation import gettext_lazy as _

from grids.choices import GRID_LEVELS, AreaLevel


class Role(models.TextChoices):
    GRID_WORKER = "grid_worker", _("网格员")
    GRID_CHIEF = "grid_chief", _("网格长")
    ZONE_CHIEF = "zone_chief", _("片长")
    CENTRE_STAFF = "centre_staff", _("社管中心")
    TOWN_LEADER = "town_leader", _("镇街领导")
    DEPARTMENT = "department", _("部门")
    COUNTY_OFFICIAL = "county_official", _("县级")
    ADMIN = "admin", _("管理员")


# The levels of area at which each role may be posted (None: the post names a department).
ROLE_LEVELS: dict[str, tuple[str, ...] | None] = {
    Role.GRID_WORKER: GRID_LEVELS,
    Role.GRID_CHIEF: GRID_LEVELS,
    Role.ZONE_CHIEF: (AreaLevel.ZONE, AreaLevel.VILLAGE, AreaLevel.COMMUNITY),
    Role.CENTRE_STAFF: (AreaLevel.TOWN, AreaLevel.COUNTY),
    Role.TOWN_LEADER: (AreaLevel.TOWN,),
    Role.DEPARTMENT: None,
    Role.COUNTY_OFFICIAL: (AreaLevel.COUNTY,),
    Role.ADMIN: tuple(AreaLevel.values),
}


class DepartmentKind(models.TextChoices):
    COUNTY_DEPARTMENT = "county_department", _("县直部门")
    STATION = "station", _("站所")
    TOWN_OFFICE = "town_office", _("镇街科室")
    SERVICE_TEAM = "service_team", _("服务团队")
