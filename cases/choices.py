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


class CaseKind(models.TextChoices):
    PROBLEM = "problem", _("问题类")
    INFORMATION = "information", _("信息类")


class Source(models.TextChoices):
    PATROL = "patrol", _("网格巡查")
    HOTLINE = "hotline", _("12345热线")
    PETITION = "petition", _("信访")
    RESIDENT = "resident", _("群众反映")
    SURVEILLANCE = "surveillance", _("视频监控")


class Urgency(models.TextChoices):
    NORMAL = "normal", _("一般")
    URGENT = "urgent", _("紧急")


class HandlingLevel(models.TextChoices):
    """The level of the tree that first owns a case of a category (立案层级)."""

    GRID = "grid", _("网格")
    VILLAGE = "village", _("村/社区")
    ZONE = "zone", _("片区")
    TOWN = "town", _("镇/街道")
    COUNTY = "county", _("县")


class CaseState(models.TextChoices):
    REPORTED = "reported", _("待受理")
    HANDLING = "handling", _("处置中")
    ESCALATED = "escalated", _("已上报（待上级受理）")
    FEEDBACK = "feedback", _("待核查")
    CLOSED = "closed", _("已结案")
    REJECTED = "rejected", _("不予立案")


OPEN_STATES = (CaseState.REPORTED, CaseState.HANDLING, CaseState.ESCALATED, CaseState.FEEDBACK)


class Action(models.TextChoices):
    REPORT = "report", _("上报")
    ACCEPT = "accept", _("立案")
    REJECT = "reject", _("不予立案")
    SELF_RESOLVE = "self_resolve", _("网格内自行处置")
    DISPATCH = "dispatch", _("派遣")
    SIGN = "sign", _("签收")
    RETURN = "return", _("退回")
    ESCALATE = "escalate", _("上报上级")
    SUBMIT_FEEDBACK = "submit_feedback", _("反馈结果")
    VERIFY = "verify", _("核查通过")
    REWORK = "rework", _("核查不通过（返工）")
    REQUEST_EXTENSION = "request_extension", _("申请延期")
    APPROVE_EXTENSION = "approve_extension", _("批准延期")
    REFUSE_EXTENSION = "refuse_extension", _("驳回延期")
    URGE = "urge", _("催办")
    SUPERVISE = "supervise", _("督办")
    REOPEN = "reopen", _("重新办理")
    RATE = "rate", _("回访评价")
    MERGE = "merge", _("合并为重复件")
    # System actions recorded by the deadline sweep.
    REMIND = "remind", _("到期提醒")
    OVERDUE = "overdue", _("超时")
    RECALCULATE = "recalculate", _("重新计算期限")
    REASSIGN_AREA = "reassign_area", _("调整所属网格")


class Rating(models.TextChoices):
    SATISFIED = "satisfied", _("满意")
    BASICALLY = "basically", _("基本满意")
    UNSATISFIED = "unsatisfied", _("不满意")


class ExtensionStatus(models.TextChoices):
    PENDING = "pending", _("待审批")
    APPROVED = "approved", _("已批准")
    REFUSED = "refused", _("已驳回")
