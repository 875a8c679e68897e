from django.db import models
from django.utils.translation import gettext_lazy as _

from grids.choices import AreaLevel
from staff.choices import Role


class SubjectKind(models.TextChoices):
    """Who or what a rule scores: a person in a post, or a unit (an area or a department)."""

    GRID_WORKER = "grid_worker", _("网格员")
    GRID_CHIEF = "grid_chief", _("网格长")
    ZONE_CHIEF = "zone_chief", _("片长")
    DEPARTMENT_STAFF = "department_staff", _("部门工作人员")
    GRID = "grid", _("网格（单位）")
    ZONE = "zone", _("片区（单位）")
    TOWN = "town", _("镇街（单位）")
    DEPARTMENT = "department", _("部门（单位）")


PERSON_KINDS = (
    SubjectKind.GRID_WORKER,
    SubjectKind.GRID_CHIEF,
    SubjectKind.ZONE_CHIEF,
    SubjectKind.DEPARTMENT_STAFF,
)
AREA_UNIT_KINDS = (SubjectKind.GRID, SubjectKind.ZONE, SubjectKind.TOWN)
UNIT_KINDS = (*AREA_UNIT_KINDS, SubjectKind.DEPARTMENT)

# The staff post that makes a person a subject of each person kind.
KIND_ROLE = {
    SubjectKind.GRID_WORKER: Role.GRID_WORKER,
    SubjectKind.GRID_CHIEF: Role.GRID_CHIEF,
    SubjectKind.ZONE_CHIEF: Role.ZONE_CHIEF,
    SubjectKind.DEPARTMENT_STAFF: Role.DEPARTMENT,
}

# The area levels assessed as units of each area-unit kind (sub-grids roll up into their grid,
# villages and communities into their zone).
UNIT_LEVELS = {
    SubjectKind.GRID: (AreaLevel.GRID, AreaLevel.SPECIAL_GRID),
    SubjectKind.ZONE: (AreaLevel.ZONE,),
    SubjectKind.TOWN: (AreaLevel.TOWN,),
}

# Roles that see the scores of everybody in their posts' subtrees (rankings, subsidy sheets) and
# review appeals there. Everybody else sees only their own scores (and the unit they head).
VIEWER_ROLES = frozenset({Role.CENTRE_STAFF, Role.TOWN_LEADER, Role.COUNTY_OFFICIAL, Role.ADMIN})
REVIEWER_ROLES = VIEWER_ROLES

# Who may appeal a unit's line: the post that heads the unit.
UNIT_HEAD_ROLES = {
    SubjectKind.GRID: Role.GRID_CHIEF,
    SubjectKind.ZONE: Role.ZONE_CHIEF,
    SubjectKind.TOWN: Role.TOWN_LEADER,
}


class MonthStatus(models.TextChoices):
    OPEN = "open", _("未关账")
    CLOSED = "closed", _("已关账")


class AppealStatus(models.TextChoices):
    PENDING = "pending", _("待审核")
    ACCEPTED = "accepted", _("已采纳")
    REJECTED = "rejected", _("已驳回")


class LogAction(models.TextChoices):
    COMPUTED = "computed", _("计算")
    CLOSED = "closed", _("关账")
    APPEAL_FILED = "appeal_filed", _("提出申诉")
    APPEAL_ACCEPTED = "appeal_accepted", _("申诉采纳")
    APPEAL_REJECTED = "appeal_rejected", _("申诉驳回")
