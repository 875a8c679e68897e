"""Case engine models (Category, Case, CaseEvent, Attachment, extensions, reminders, supervision,
notifications, idempotency keys, reporting compliance) and the working calendar's data."""

from datetime import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import IntegrityError, models, transaction
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from grids.models import AreaPath

from .choices import (
    OPEN_STATES,
    Action,
    CaseKind,
    CaseState,
    DayKind,
    ExtensionStatus,
    HandlingLevel,
    LimitUnit,
    Rating,
    Source,
    Urgency,
)

DEFAULT_MORNING = (time(8, 30), time(12, 0))
DEFAULT_AFTERNOON = (time(14, 0), time(17, 30))


class CalendarYear(models.Model):
    """One calendar year as entered by admins. `complete` says the admins have entered the State
    Council's whole schedule for the year: only then does the year count as covered by admins
    (days alone may be partial, e.g. a single local holiday). Days of a year that is not complete
    still override chinesecalendar / the Monday–Friday fallback one by one."""

    year = models.PositiveSmallIntegerField(
        _("年度"), unique=True, validators=[MinValueValidator(2000), MaxValueValidator(2100)]
    )
    complete = models.BooleanField(
        _("已完整录入"),
        default=False,
        help_text=_("该年度的全部法定节假日和调休上班日均已录入。未标记时，后台首页会提示录入。"),
    )
    note = models.TextField(_("备注"), blank=True, help_text=_("例如国务院办公厅通知的文号。"))
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("节假日年度")
        verbose_name_plural = _("节假日年度")
        ordering = ["-year"]

    def __str__(self) -> str:
        return f"{self.year} 年"


class CalendarDay(models.Model):
    """A day whose status an admin has fixed: an official holiday (休) or a make-up workday
    (调休上班, usually a Saturday or Sunday). It takes precedence over chinesecalendar and over the
    Monday–Friday fallback. Its year is derived from the date (and its CalendarYear row is created
    on first use, not marked complete)."""

    date = models.DateField(_("日期"), unique=True)
    kind = models.CharField(_("类型"), max_length=16, choices=DayKind.choices)
    name = models.CharField(_("名称"), max_length=50, blank=True, help_text=_("例如 春节、国庆节调休。"))
    calendar_year = models.ForeignKey(
        CalendarYear,
        verbose_name=_("年度"),
        to_field="year",
        db_column="year",
        on_delete=models.CASCADE,
        related_name="days",
        editable=False,
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("节假日/调休日")
        verbose_name_plural = _("节假日/调休日")
        ordering = ["date"]

    def __str__(self) -> str:
        label = self.name or self.get_kind_display()
        return f"{self.date:%Y-%m-%d} {label}"

    def save(self, *args, **kwargs) -> None:
        if self.calendar_year_id != self.date.year:
            self.calendar_year_id = _ensure_year(self.date.year).year
        super().save(*args, **kwargs)

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        # Remember the stored year: moving a day to another year changes both years.
        instance._stored_year = instance.__dict__.get("calendar_year_id")
        return instance

    @property
    def year(self) -> int | None:
        return self.date.year if self.date else None

    def clean(self) -> None:
        if self.date and self.calendar_year_id is not None and self.date.year != self.calendar_year_id:
            raise ValidationError(
                {"date": _("日期 %(date)s 不属于 %(year)s 年") % {"date": self.date, "year": self.calendar_year_id}}
            )


def _ensure_year(year: int) -> CalendarYear:
    try:
        with transaction.atomic():
            return CalendarYear.objects.get_or_create(year=year)[0]
    except IntegrityError:  # created concurrently
        return CalendarYear.objects.get(year=year)


class WorkingHours(models.Model):
    """Daily working hours (作息时间): a morning and an afternoon period, the same for every working
    day. The row without an area is the default for everybody; a row for an area applies to that
    area and everything below it (the nearest ancestor with a row wins). Without any row the
    built-in default 08:30–12:00 and 14:00–17:30 (7 working hours) applies."""

    area = models.OneToOneField(
        "grids.Area",
        verbose_name=_("区域"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="working_hours",
        help_text=_("留空表示全局默认；选择区域则对该区域及其全部下级生效。"),
    )
    morning_start = models.TimeField(_("上午上班"), default=DEFAULT_MORNING[0])
    morning_end = models.TimeField(_("上午下班"), default=DEFAULT_MORNING[1])
    afternoon_start = models.TimeField(_("下午上班"), default=DEFAULT_AFTERNOON[0])
    afternoon_end = models.TimeField(_("下午下班"), default=DEFAULT_AFTERNOON[1])
    note = models.CharField(_("备注"), max_length=200, blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("作息时间")
        verbose_name_plural = _("作息时间")
        constraints = [
            # One row per area and a single default row (NULL area counts as area 0).
            models.UniqueConstraint(
                Coalesce("area", Value(0)),
                name="working_hours_one_per_area",
                violation_error_message=_("该范围的作息时间已存在，请修改原有记录"),
            ),
        ]

    def __str__(self) -> str:
        where = str(self.area) if self.area_id else _("全局默认")
        spans = "，".join(f"{start:%H:%M}–{end:%H:%M}" for start, end in self.periods)
        return f"{where}：{spans}"

    @property
    def periods(self) -> tuple[tuple[time, time], tuple[time, time]]:
        return ((self.morning_start, self.morning_end), (self.afternoon_start, self.afternoon_end))

    def clean(self) -> None:
        times = [self.morning_start, self.morning_end, self.afternoon_start, self.afternoon_end]
        if None in times:
            return
        if not (times[0] < times[1] <= times[2] < times[3]):
            raise ValidationError(_("时间须依次为：上午上班 < 上午下班 ≤ 下午上班 < 下午下班"))


# --- the case engine --------------------------------------------------------------------------


class Category(models.Model):
    """The coded catalogue (GB/T 30428.2 style): 大类 (no parent) and 小类 (parent = 大类). Cases are
    filed under a 小类, which carries the handling level and the time limit of each step."""

    code = models.CharField(_("编码"), max_length=8, unique=True)
    name = models.CharField(_("名称"), max_length=50)
    parent = models.ForeignKey(
        "self", verbose_name=_("大类"), on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )
    kind = models.CharField(_("性质"), max_length=16, choices=CaseKind.choices, default=CaseKind.PROBLEM)
    default_level = models.CharField(
        _("立案层级"), max_length=16, choices=HandlingLevel.choices, default=HandlingLevel.TOWN
    )
    default_department_name = models.CharField(
        _("建议处置部门"), max_length=50, blank=True, help_text=_("派遣时优先推荐名称包含此词的部门，如“派出所”")
    )
    urgent = models.BooleanField(_("紧急类"), default=False, help_text=_("紧急类按自然时间计时"))
    accept_amount = models.DecimalField(_("受理时限"), max_digits=6, decimal_places=2, default=1)
    accept_unit = models.CharField(
        _("受理时限单位"), max_length=16, choices=LimitUnit.choices, default=LimitUnit.WORKING_HOURS
    )
    handle_amount = models.DecimalField(_("处置时限"), max_digits=6, decimal_places=2, default=7)
    handle_unit = models.CharField(
        _("处置时限单位"), max_length=16, choices=LimitUnit.choices, default=LimitUnit.WORKING_DAYS
    )
    verify_amount = models.DecimalField(_("核查时限"), max_digits=6, decimal_places=2, default=2)
    verify_unit = models.CharField(
        _("核查时限单位"), max_length=16, choices=LimitUnit.choices, default=LimitUnit.WORKING_HOURS
    )
    is_active = models.BooleanField(_("启用"), default=True)
    order = models.PositiveSmallIntegerField(_("排序"), default=0)

    class Meta:
        ordering = ["code"]
        verbose_name = _("事项类别")
        verbose_name_plural = _("事项类别")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def is_leaf(self) -> bool:
        return self.parent_id is not None

    def limit_for(self, state: str) -> tuple:
        """(amount, unit) of the step a case enters with `state`; None for a state without a clock."""
        if state in (CaseState.REPORTED, CaseState.ESCALATED):
            return self.accept_amount, self.accept_unit
        if state == CaseState.HANDLING:
            return self.handle_amount, self.handle_unit
        if state == CaseState.FEEDBACK:
            return self.verify_amount, self.verify_unit
        return None


class CaseQuerySet(models.QuerySet):
    def visible_to(self, user):
        from grids.scope import scope_for

        return self.filter(scope_for(user).path_q())

    def open(self):
        return self.filter(state__in=OPEN_STATES)


class Case(AreaPath):
    """A case (网格事务/事件). `area` is the grid or group it was filed in; its denormalised path
    (town_id …) is fixed at filing, so history keeps the place even if the grid later moves.
    `owner_area` / `owner_department` is who holds it now; `due_at` is the deadline of the current
    step, the only truth the deadline sweep reads."""

    REFRESH_PATH_ON_MOVE = False

    number = models.CharField(_("编号"), max_length=16, unique=True)
    source = models.CharField(_("来源"), max_length=16, choices=Source.choices, default=Source.PATROL)
    kind = models.CharField(_("性质"), max_length=16, choices=CaseKind.choices, default=CaseKind.PROBLEM)
    category = models.ForeignKey(Category, verbose_name=_("类别"), on_delete=models.PROTECT, related_name="cases")
    urgency = models.CharField(_("紧急程度"), max_length=8, choices=Urgency.choices, default=Urgency.NORMAL)
    title = models.CharField(_("标题"), max_length=100)
    description = models.TextField(_("描述"))
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("上报人"), on_delete=models.PROTECT, related_name="reported_cases"
    )
    contact_name = models.CharField(_("联系人"), max_length=50, blank=True)
    contact_phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    household = models.ForeignKey(
        "grids.Household", verbose_name=_("户"), on_delete=models.PROTECT, null=True, blank=True, related_name="cases"
    )
    latitude = models.DecimalField(_("纬度"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("经度"), max_digits=9, decimal_places=6, null=True, blank=True)

    state = models.CharField(_("状态"), max_length=16, choices=CaseState.choices, default=CaseState.REPORTED)
    owner_area = models.ForeignKey(
        "grids.Area",
        verbose_name=_("当前承办层级"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="owned_cases",
    )
    owner_department = models.ForeignKey(
        "staff.Department",
        verbose_name=_("当前承办部门"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="owned_cases",
    )
    dispatcher_area = models.ForeignKey(
        "grids.Area",
        verbose_name=_("派遣单位"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("最近一次派遣的层级；退回时案件回到这里"),
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("经办人"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_cases",
    )
    self_resolved = models.BooleanField(_("网格内自行处置"), default=False)
    merged_into = models.ForeignKey(
        "self", verbose_name=_("合并到"), on_delete=models.PROTECT, null=True, blank=True, related_name="duplicates"
    )

    # The clock of the current step. The sweep claims rows by these columns.
    step = models.PositiveIntegerField(_("环节序号"), default=1)
    step_started_at = models.DateTimeField(_("环节开始"), null=True, blank=True)
    due_at = models.DateTimeField(_("环节期限"), null=True, blank=True, db_index=True)
    step_budget_minutes = models.PositiveIntegerField(
        _("环节工作时长（分钟）"),
        null=True,
        blank=True,
        help_text=_("按工作时间计的环节时限；节假日调整后据此重算期限。自然时间或指定时刻的期限为空。"),
    )
    remind_at = models.DateTimeField(_("提醒时间"), null=True, blank=True, db_index=True)
    escalate_at = models.DateTimeField(_("自动上报时间"), null=True, blank=True, db_index=True)
    is_overdue = models.BooleanField(_("已超时"), default=False)
    is_supervised = models.BooleanField(_("督办中"), default=False)

    # Counters and milestones for KPIs and assessment.
    rework_count = models.PositiveSmallIntegerField(_("返工次数"), default=0)
    return_count = models.PositiveSmallIntegerField(_("退回次数"), default=0)
    dispatch_count = models.PositiveSmallIntegerField(_("派遣次数"), default=0)
    reminder_count = models.PositiveSmallIntegerField(_("催办次数"), default=0)
    extension_count = models.PositiveSmallIntegerField(_("延期次数"), default=0)
    accepted_at = models.DateTimeField(_("立案时间"), null=True, blank=True)
    accepted_on_time = models.BooleanField(_("按时签收"), null=True, blank=True)
    sign_due_at = models.DateTimeField(_("签收期限"), null=True, blank=True)
    signed_at = models.DateTimeField(_("签收时间"), null=True, blank=True)
    signed_on_time = models.BooleanField(_("按时签收（承办单位）"), null=True, blank=True)
    feedback_at = models.DateTimeField(_("反馈时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("结案时间"), null=True, blank=True)
    handle_due_at = models.DateTimeField(_("处置期限"), null=True, blank=True)
    closed_on_time = models.BooleanField(_("按期结案"), null=True, blank=True)
    rating = models.CharField(_("回访评价"), max_length=16, choices=Rating.choices, blank=True)
    rated_at = models.DateTimeField(_("回访时间"), null=True, blank=True)

    version = models.PositiveIntegerField(_("版本"), default=1)
    created_at = models.DateTimeField(_("上报时间"), default=timezone.now, editable=False, db_index=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = CaseQuerySet.as_manager()

    class Meta:
        verbose_name = _("事件")
        verbose_name_plural = _("事件")
        indexes = [
            models.Index(
                fields=["town", "due_at"], name="case_open_by_town", condition=models.Q(state__in=OPEN_STATES)
            ),
            models.Index(
                fields=["due_at"],
                name="case_due_not_overdue",
                condition=models.Q(state__in=OPEN_STATES, is_overdue=False),
            ),
            models.Index(fields=["owner_department", "state"], name="case_department_state"),
            models.Index(fields=["owner_area", "state"], name="case_owner_state"),
            models.Index(fields=["reporter", "created_at"], name="case_reporter_created"),
            # the county rollup reads today's deadlines live (cases/dashboard/rollup.py)
            models.Index(fields=["handle_due_at"], name="case_handle_due"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~(models.Q(owner_area__isnull=False) & models.Q(owner_department__isnull=False)),
                name="case_single_owner",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def owner_label(self) -> str:
        if self.owner_department_id:
            return str(self.owner_department)
        if self.owner_area_id:
            return self.owner_area.name
        return ""


class CaseNumber(models.Model):
    """Daily sequence for human-readable case numbers: 2026112400001 = date + 5 digits."""

    day = models.DateField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.day}: {self.last}"


class CaseEvent(models.Model):
    """Immutable audit row: one per action on a case, written in the action's transaction."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="events")
    seq = models.PositiveIntegerField(_("序号"))
    action = models.CharField(_("动作"), max_length=24, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("操作人"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    from_state = models.CharField(_("原状态"), max_length=16, choices=CaseState.choices, blank=True)
    to_state = models.CharField(_("新状态"), max_length=16, choices=CaseState.choices, blank=True)
    owner_before = models.CharField(_("原承办"), max_length=120, blank=True)
    owner_after = models.CharField(_("新承办"), max_length=120, blank=True)
    note = models.TextField(_("说明"), blank=True)
    data = models.JSONField(_("参数"), default=dict, blank=True)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["case", "seq"]
        verbose_name = _("事件记录")
        verbose_name_plural = _("事件记录")
        constraints = [models.UniqueConstraint(fields=["case", "seq"], name="case_event_seq")]
        indexes = [models.Index(fields=["action", "created_at"], name="case_event_action_time")]

    def __str__(self) -> str:
        return f"{self.case_id}#{self.seq} {self.action}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not self._state.adding:
            raise ValidationError(_("事件记录不可修改"))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError(_("事件记录不可删除"))


def attachment_path(instance: "Attachment", filename: str) -> str:
    import uuid

    from django.utils import timezone

    now = timezone.localtime()
    return f"attachments/{now:%Y/%m}/{uuid.uuid4().hex}{instance.extension}"


class Attachment(models.Model):
    """A photo or file, allow-listed by its magic bytes and size-capped, stored through Django's
    storage under MEDIA_ROOT (outside the web root) and served only through a scoped view."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, null=True, blank=True, related_name="attachments")
    event = models.ForeignKey(CaseEvent, on_delete=models.PROTECT, null=True, blank=True, related_name="attachments")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    file = models.FileField(_("文件"), upload_to=attachment_path, max_length=200)
    original_name = models.CharField(_("原文件名"), max_length=200, blank=True)
    content_type = models.CharField(_("类型"), max_length=50)
    size = models.PositiveIntegerField(_("大小"))
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("附件")
        verbose_name_plural = _("附件")

    def __str__(self) -> str:
        return self.original_name or self.file.name

    @property
    def extension(self) -> str:
        from .attachments import EXTENSIONS

        return EXTENSIONS.get(self.content_type, "")

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


class ExtensionRequest(models.Model):
    """延期/缓办: requested by the owner, decided by the level above."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="extension_requests")
    step = models.PositiveIntegerField()
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(_("延长"), max_digits=6, decimal_places=2)
    unit = models.CharField(_("单位"), max_length=16, choices=LimitUnit.choices)
    reason = models.TextField(_("理由"))
    status = models.CharField(
        _("状态"), max_length=16, choices=ExtensionStatus.choices, default=ExtensionStatus.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(_("审批意见"), blank=True)
    old_due_at = models.DateTimeField(null=True, blank=True)
    new_due_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("延期申请")
        verbose_name_plural = _("延期申请")
        constraints = [
            models.UniqueConstraint(
                fields=["case"], condition=models.Q(status="pending"), name="extension_one_pending_per_case"
            )
        ]

    def __str__(self) -> str:
        return f"{self.case_id} +{self.amount} {self.get_unit_display()} ({self.get_status_display()})"


class Reminder(models.Model):
    """催办单: automatic (at 80% of a step's limit, once per step) or sent by a supervisor."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="reminders")
    step = models.PositiveIntegerField()
    automatic = models.BooleanField(default=False)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    note = models.TextField(blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("催办单")
        verbose_name_plural = _("催办单")
        constraints = [
            models.UniqueConstraint(
                fields=["case", "step"], condition=models.Q(automatic=True), name="reminder_one_auto_per_step"
            )
        ]

    def __str__(self) -> str:
        return f"催办 {self.case_id}#{self.step}"


class Supervision(models.Model):
    """督办: opened automatically when a step passes its deadline (once per step) or by a supervisor;
    closed when the case leaves the supervised step."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="supervisions")
    step = models.PositiveIntegerField()
    automatic = models.BooleanField(default=False)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    level_area = models.ForeignKey(
        "grids.Area",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("负责督办的上级"),
    )
    note = models.TextField(blank=True)
    is_open = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("督办")
        verbose_name_plural = _("督办")
        constraints = [
            models.UniqueConstraint(
                fields=["case", "step"], condition=models.Q(automatic=True), name="supervision_one_auto_per_step"
            )
        ]

    def __str__(self) -> str:
        return f"督办 {self.case_id}#{self.step}"


class Notification(models.Model):
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    event = models.ForeignKey(CaseEvent, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    kind = models.CharField(max_length=24)
    message = models.CharField(max_length=300)
    is_read = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("通知")
        verbose_name_plural = _("通知")
        indexes = [models.Index(fields=["recipient", "is_read", "-created_at"], name="notification_inbox")]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "event"],
                condition=models.Q(event__isnull=False),
                name="notification_once_per_event",
            )
        ]

    def __str__(self) -> str:
        return self.message


class IdempotencyKey(models.Model):
    """The first response to (user, Idempotency-Key); a retry returns it and creates nothing."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=100)
    request_hash = models.CharField(max_length=64)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_user_key")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"


class GridDayCompliance(models.Model):
    """Reporting compliance of a grid on a day (≥ 2 real reports), recorded nightly."""

    grid = models.ForeignKey("grids.Area", on_delete=models.CASCADE, related_name="compliance_days")
    day = models.DateField()
    reports = models.PositiveIntegerField(default=0)
    compliant = models.BooleanField(default=False)
    town = models.ForeignKey("grids.Area", on_delete=models.CASCADE, null=True, related_name="+")

    class Meta:
        verbose_name = _("网格日报达标")
        verbose_name_plural = _("网格日报达标")
        constraints = [models.UniqueConstraint(fields=["grid", "day"], name="compliance_grid_day")]
        indexes = [models.Index(fields=["town", "day"], name="compliance_town_day")]

    def __str__(self) -> str:
        return f"{self.grid_id} {self.day}: {self.reports}"


from .dashboard.rollup_models import CaseClosePair, CaseDayStat, CaseOpenStat, HouseholdStat  # noqa: E402,F401
from .patrol import PatrolItem, PatrolLog  # noqa: E402,F401
