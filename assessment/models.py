"""Monthly 千分制 assessment: versioned rule sets, months (open or closed), scores with their ledger
of lines (each pointing at the record that caused it), appeals and the log of what changed."""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from grids.models import AreaPath

from .choices import PERSON_KINDS, AppealStatus, LogAction, MonthStatus, SubjectKind
from .measures import REGISTRY, measure_choices
from .periods import Period


class RuleSetQuerySet(models.QuerySet):
    def for_month(self, month):
        """The rule set in force in `month`: the newest with valid_from ≤ month."""
        return self.filter(valid_from__lte=month).order_by("-valid_from").first()


class RuleSet(models.Model):
    """A version of the rules, in force from `valid_from` (a month) until a newer version starts.
    A version that a closed month was computed with is frozen: change the rules by adding a new
    version from the next month."""

    name = models.CharField(_("名称"), max_length=100)
    valid_from = models.DateField(
        _("起始月份"), unique=True, help_text=_("填该月 1 日；从该月起按本版本计分，直到更新的版本生效")
    )
    base_score = models.DecimalField(_("基础分"), max_digits=7, decimal_places=1, default=1000)
    yuan_per_point = models.DecimalField(_("每分补贴（元）"), max_digits=8, decimal_places=2, default=1)
    note = models.TextField(_("说明"), blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = RuleSetQuerySet.as_manager()

    class Meta:
        ordering = ["-valid_from"]
        verbose_name = _("考核规则版本")
        verbose_name_plural = _("考核规则版本")

    def __str__(self) -> str:
        return f"{self.name}（{self.valid_from:%Y-%m} 起）"

    @property
    def is_frozen(self) -> bool:
        return bool(self.pk) and self.months.filter(status=MonthStatus.CLOSED).exists()

    def clean(self) -> None:
        if self.valid_from and self.valid_from.day != 1:
            raise ValidationError({"valid_from": _("起始月份请填该月 1 日")})
        if self.pk and self.is_frozen:
            raise ValidationError(_("该版本已用于已关账的月份，不能修改；请新建一个从下月起生效的版本"))


class Rule(models.Model):
    """One line of the rule book: for each occurrence of `measure` attributed to a subject of
    `subject_kind`, add `points` (negative = deduction), at most `cap` in absolute value a month."""

    rule_set = models.ForeignKey(RuleSet, verbose_name=_("规则版本"), on_delete=models.CASCADE, related_name="rules")
    code = models.SlugField(_("代码"), max_length=32)
    name = models.CharField(_("名称"), max_length=50)
    subject_kind = models.CharField(_("考核对象"), max_length=24, choices=SubjectKind.choices)
    measure = models.CharField(_("计分事实"), max_length=32, choices=measure_choices)
    points = models.DecimalField(_("每次分值"), max_digits=6, decimal_places=1, help_text=_("负数为扣分，正数为加分"))
    cap = models.DecimalField(
        _("每月封顶"),
        max_digits=7,
        decimal_places=1,
        null=True,
        blank=True,
        help_text=_("本条每月累计扣分或加分的上限（绝对值）；留空表示不封顶"),
    )
    active = models.BooleanField(_("启用"), default=True)
    order = models.PositiveSmallIntegerField(_("排序"), default=0)

    class Meta:
        ordering = ["rule_set", "order", "code"]
        verbose_name = _("考核规则")
        verbose_name_plural = _("考核规则")
        constraints = [models.UniqueConstraint(fields=["rule_set", "code"], name="rule_unique_code")]

    def __str__(self) -> str:
        return f"{self.name}（{self.get_subject_kind_display()}，{self.points:+}）"

    def clean(self) -> None:
        errors = {}
        measure = REGISTRY.get(self.measure)
        if measure is None:
            errors["measure"] = [_("未知的计分事实")]
        elif self.subject_kind and self.subject_kind not in measure.kinds:
            errors["subject_kind"] = [
                _("“%(measure)s”不适用于%(kind)s")
                % {"measure": measure.label, "kind": SubjectKind(self.subject_kind).label}
            ]
        if self.points is not None and self.points == 0:
            errors["points"] = [_("分值不能为 0")]
        if self.cap is not None and self.cap <= 0:
            errors["cap"] = [_("封顶分值应大于 0")]
        if self.rule_set_id and self.rule_set.is_frozen:
            errors.setdefault("__all__", []).append(_("该版本已用于已关账的月份，不能修改"))
        if errors:
            raise ValidationError(errors)


class AssessmentMonth(models.Model):
    """A month of assessment. Open: recomputed on demand (idempotent). Closed: locked; only
    appeals change it."""

    month = models.DateField(_("月份"), unique=True)
    status = models.CharField(_("状态"), max_length=8, choices=MonthStatus.choices, default=MonthStatus.OPEN)
    rule_set = models.ForeignKey(
        RuleSet, verbose_name=_("规则版本"), on_delete=models.PROTECT, null=True, blank=True, related_name="months"
    )
    computed_at = models.DateTimeField(_("计算时间"), null=True, blank=True)
    computed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(_("关账时间"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    subject_count = models.PositiveIntegerField(_("考核对象数"), default=0)
    line_count = models.PositiveIntegerField(_("记分条数"), default=0)
    took_ms = models.PositiveIntegerField(_("计算用时（毫秒）"), default=0)

    class Meta:
        ordering = ["-month"]
        verbose_name = _("考核月份")
        verbose_name_plural = _("考核月份")

    def __str__(self) -> str:
        return f"{self.period.label}（{self.get_status_display()}）"

    @property
    def period(self) -> Period:
        return Period(self.month)

    @property
    def is_closed(self) -> bool:
        return self.status == MonthStatus.CLOSED


class ScoreQuerySet(models.QuerySet):
    def visible_to(self, user):
        from .selectors import score_scope_q

        return self.filter(score_scope_q(user))

    def current(self):
        return self.filter(is_current=True)


class Score(AreaPath):
    """A subject's score for a month: base + the sum of its lines. `area` (with its denormalised
    path) is where the subject sits: the post's area, the unit's area, the department's area —
    as it was when the month was computed (a later move of the area does not move old scores)."""

    REFRESH_PATH_ON_MOVE = False

    period = models.ForeignKey(AssessmentMonth, verbose_name=_("月份"), on_delete=models.PROTECT, related_name="scores")
    subject_kind = models.CharField(_("考核对象类型"), max_length=24, choices=SubjectKind.choices)
    subject_key = models.CharField(_("对象标识"), max_length=64)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("人员"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assessment_scores",
    )
    department = models.ForeignKey(
        "staff.Department", verbose_name=_("部门"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    base = models.DecimalField(_("基础分"), max_digits=7, decimal_places=1)
    deductions = models.DecimalField(_("扣分"), max_digits=8, decimal_places=1, default=0)
    bonuses = models.DecimalField(_("加分"), max_digits=8, decimal_places=1, default=0)
    total = models.DecimalField(_("得分"), max_digits=8, decimal_places=1)
    yuan_per_point = models.DecimalField(_("每分补贴（元）"), max_digits=8, decimal_places=2)
    line_count = models.PositiveIntegerField(_("记分条数"), default=0)
    is_current = models.BooleanField(
        _("当前有效"), default=True, help_text=_("重新计算时该对象已不存在（如已离岗）但有申诉记录的，保留为无效")
    )
    computed_at = models.DateTimeField(_("计算时间"))

    objects = ScoreQuerySet.as_manager()

    class Meta:
        verbose_name = _("考核得分")
        verbose_name_plural = _("考核得分")
        ordering = ["period", "subject_kind", "total"]
        constraints = [models.UniqueConstraint(fields=["period", "subject_key"], name="score_unique_subject")]
        indexes = [
            models.Index(fields=["period", "subject_kind", "town"], name="score_period_kind_town"),
            models.Index(fields=["user", "period"], name="score_user_period"),
            models.Index(fields=["subject_key", "period"], name="score_subject_period"),
        ]

    def __str__(self) -> str:
        return f"{self.period.period.key} {self.subject_label} {self.total}"

    @property
    def is_person(self) -> bool:
        return self.subject_kind in PERSON_KINDS

    @property
    def subject_label(self) -> str:
        if self.is_person and self.user_id:
            return self.user.get_full_name() or self.user.username
        if self.department_id:
            return self.department.name
        return self.area.name if self.area_id else ""

    @property
    def place_label(self) -> str:
        if self.department_id:
            return self.department.name
        return self.area.name if self.area_id else ""

    @property
    def amount(self):
        """Subsidy in yuan: points × yuan per point (never negative)."""
        return max(self.total, 0) * self.yuan_per_point

    def get_absolute_url(self) -> str:
        return reverse("assessment:score", args=[self.pk])


class ScoreLineQuerySet(models.QuerySet):
    def visible_to(self, user):
        return self.filter(score__in=Score.objects.visible_to(user).values("pk"))


class ScoreLine(models.Model):
    """One deduction or bonus: a rule applied to one occurrence, pointing at its record.

    `key` (rule code + record) identifies the line across recomputations: appeals name it.
    `raw_points` is the rule's value; `points` what counts after the monthly cap and appeals
    (`capped`: reduced or zeroed by the cap; `voided`: cancelled by an accepted appeal)."""

    # A month's lines are replaced by the hundred thousand on each computation, so the table has
    # one index besides the primary key (score): no index on rule, and no unique index on
    # (score, key) — keys are unique by construction (one line per rule, record and subject), and
    # a unique index would have to check every new key against the lines just deleted.
    score = models.ForeignKey(Score, on_delete=models.CASCADE, related_name="lines")
    rule = models.ForeignKey(Rule, verbose_name=_("规则"), on_delete=models.PROTECT, related_name="+", db_index=False)
    key = models.CharField(max_length=120)
    occurred_on = models.DateField(_("日期"))
    raw_points = models.DecimalField(_("规则分值"), max_digits=6, decimal_places=1)
    points = models.DecimalField(_("计分"), max_digits=6, decimal_places=1)
    capped = models.BooleanField(_("已达封顶"), default=False)
    voided = models.BooleanField(_("申诉撤销"), default=False)
    source_model = models.CharField(_("来源记录类型"), max_length=40)
    source_id = models.BigIntegerField(_("来源记录编号"))
    case_ref = models.BigIntegerField(_("事件"), null=True, blank=True)
    area_ref = models.BigIntegerField(_("发生区域"), null=True, blank=True)
    explanation = models.CharField(_("说明"), max_length=300)

    objects = ScoreLineQuerySet.as_manager()

    class Meta:
        verbose_name = _("记分明细")
        verbose_name_plural = _("记分明细")
        ordering = ["score", "occurred_on", "id"]

    def __str__(self) -> str:
        return f"{self.points:+} {self.explanation}"

    @property
    def link(self) -> str:
        """Where the record behind the line can be seen: the case, else the area page."""
        if self.case_ref:
            return reverse("console:case", args=[self.case_ref])
        if self.area_ref:
            return reverse("grids:area", args=[self.area_ref])
        return ""

    @property
    def status_note(self) -> str:
        if self.voided:
            return str(_("申诉已采纳，本条不计分"))
        if self.capped and self.points == 0:
            return str(_("已达本月封顶，本条不计分"))
        if self.capped:
            return str(_("已达本月封顶，本条按 %(p)s 分计") % {"p": f"{self.points:+}"})
        return ""


def appeal_evidence_path(instance: "Appeal", filename: str) -> str:
    from cases.attachments import EXTENSIONS

    return f"appeals/{instance.score.period.month:%Y/%m}/{uuid.uuid4().hex}{EXTENSIONS.get(instance.evidence_type, '')}"


class AppealQuerySet(models.QuerySet):
    def visible_to(self, user):
        return self.filter(score__in=Score.objects.visible_to(user).values("pk"))

    def pending(self):
        return self.filter(status=AppealStatus.PENDING)


class Appeal(models.Model):
    """申诉: the assessed person disputes one line. The line is named by its key, so the appeal
    and its outcome survive recomputation of an open month."""

    score = models.ForeignKey(Score, verbose_name=_("得分"), on_delete=models.PROTECT, related_name="appeals")
    line_key = models.CharField(max_length=120)
    line_explanation = models.CharField(_("申诉条目"), max_length=300)
    line_points = models.DecimalField(_("条目分值"), max_digits=6, decimal_places=1)
    appellant = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("申诉人"), on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(_("申诉理由"))
    evidence = models.FileField(_("证明材料"), upload_to=appeal_evidence_path, max_length=200, blank=True)
    evidence_name = models.CharField(max_length=200, blank=True)
    evidence_type = models.CharField(max_length=50, blank=True)
    evidence_sha256 = models.CharField(max_length=64, blank=True)
    status = models.CharField(_("状态"), max_length=16, choices=AppealStatus.choices, default=AppealStatus.PENDING)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("审核人"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(_("审核时间"), null=True, blank=True)
    decision_note = models.TextField(_("审核意见"), blank=True)
    total_before = models.DecimalField(_("审核前得分"), max_digits=8, decimal_places=1, null=True, blank=True)
    total_after = models.DecimalField(_("审核后得分"), max_digits=8, decimal_places=1, null=True, blank=True)
    created_at = models.DateTimeField(_("申诉时间"), auto_now_add=True)

    objects = AppealQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("申诉")
        verbose_name_plural = _("申诉")
        constraints = [
            # One open or upheld appeal per line; a rejected line may be appealed again.
            models.UniqueConstraint(
                fields=["score", "line_key"],
                condition=models.Q(status__in=("pending", "accepted")),
                name="appeal_one_open_per_line",
            )
        ]

    def __str__(self) -> str:
        return f"{self.line_explanation}（{self.get_status_display()}）"


class AssessmentLog(models.Model):
    """What happened to a month: computations, closing, appeals filed and decided."""

    period = models.ForeignKey(AssessmentMonth, on_delete=models.PROTECT, related_name="log")
    action = models.CharField(_("操作"), max_length=24, choices=LogAction.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("操作人"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    score = models.ForeignKey(Score, on_delete=models.PROTECT, null=True, blank=True, related_name="log")
    appeal = models.ForeignKey(Appeal, on_delete=models.PROTECT, null=True, blank=True, related_name="log")
    note = models.CharField(_("说明"), max_length=300, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("考核日志")
        verbose_name_plural = _("考核日志")

    def __str__(self) -> str:
        return f"{self.period} {self.get_action_display()} {self.note}"
