"""Every write of the assessment: computing a month, closing it, filing and deciding appeals.
Each is one atomic function that locks the month row first, so a computation, a closing and an
appeal decision on the same month never interleave."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import time
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from gridgov.errors import ServiceError

from . import engine
from .choices import AppealStatus, LogAction, MonthStatus
from .measures import REGISTRY, Context
from .models import Appeal, AssessmentLog, AssessmentMonth, RuleSet, Score, ScoreLine
from .periods import Period
from .selectors import can_appeal, can_review

LINE_BATCH = 5000


class AssessmentError(ServiceError):
    """A refusal with a Chinese message; `code`/`status` are what the API answers."""


class MonthClosed(AssessmentError):
    code = "month_closed"
    status = 409


class Conflict(AssessmentError):
    code = "conflict"
    status = 409


class NotAllowed(AssessmentError):
    code = "permission_denied"
    status = 403


class InvalidInput(AssessmentError):
    code = "invalid"
    status = 400


@dataclass
class ComputeResult:
    period: Period
    rule_set: RuleSet
    subjects: int
    lines: int
    took_ms: int
    phases: dict = field(default_factory=dict)  # milliseconds per phase, for the log and the bench


class _Laps:
    """Milliseconds spent in each phase of a computation: `lap("facts")` closes the phase."""

    def __init__(self) -> None:
        self.phases: dict[str, int] = {}
        self._mark = time.monotonic()

    def __call__(self, name: str) -> None:
        now = time.monotonic()
        self.phases[name] = int((now - self._mark) * 1000)
        self._mark = now


def _lock_month(period: Period) -> AssessmentMonth:
    AssessmentMonth.objects.get_or_create(month=period.month)
    return AssessmentMonth.objects.select_for_update().get(month=period.month)


# --- computing ------------------------------------------------------------------------------------


def compute_month(period: Period, *, actor=None, now: dt.datetime | None = None) -> ComputeResult:
    """(Re)compute every score and line of an open month from the records, in bulk: one grouped
    query per measure over the whole county, the matching in memory, scores upserted and the
    month's lines replaced. Deterministic: the same records give the same lines and totals.
    Lines voided by accepted appeals stay voided. A closed month is refused (MonthClosed)."""
    now = now or timezone.now()
    if period.start > now:
        raise InvalidInput(_("%(month)s 尚未开始，不能计算") % {"month": period.label})
    started = time.monotonic()
    with override("zh-hans"), transaction.atomic():
        month = _lock_month(period)
        if month.is_closed:
            raise MonthClosed(
                _("%(month)s 已于 %(when)s 关账，不能重新计算；如需更正，请通过申诉办理")
                % {"month": period.label, "when": timezone.localtime(month.closed_at).strftime("%Y-%m-%d %H:%M")}
            )
        rule_set = RuleSet.objects.for_month(period.month)
        if rule_set is None:
            raise InvalidInput(_("没有适用于 %(month)s 的考核规则版本") % {"month": period.label})
        rules = list(rule_set.rules.filter(active=True).order_by("order", "code"))
        ctx = Context(period)
        measures = {r.measure: REGISTRY[r.measure] for r in rules if r.measure in REGISTRY}
        rules = [r for r in rules if r.measure in measures and r.subject_kind in measures[r.measure].kinds]
        lap = _Laps()
        facts = {code: sorted(m.collect(ctx), key=engine.fact_order) for code, m in measures.items()}
        lap("facts")
        subjects = engine.load_subjects(ctx, {r.subject_kind for r in rules})
        voided = set(
            Appeal.objects.filter(score__period=month, status=AppealStatus.ACCEPTED).values_list(
                "score__subject_key", "line_key"
            )
        )
        lines = engine.build_lines(ctx, rules, subjects, facts, measures, voided)
        lap("match")
        score_ids = _write_scores(month, rule_set, ctx, subjects, lines, now)
        lap("scores")
        ScoreLine.objects.filter(score__period=month).delete()
        lap("delete_lines")
        line_count = _write_lines(score_ids, subjects, lines)
        lap("write_lines")
        took = int((time.monotonic() - started) * 1000)
        month.rule_set = rule_set
        month.computed_at = now
        month.computed_by = actor
        month.subject_count = len(subjects)
        month.line_count = line_count
        month.took_ms = took
        month.save()
        AssessmentLog.objects.create(
            period=month,
            action=LogAction.COMPUTED,
            actor=actor,
            note=_("%(n)d 个考核对象，%(lines)d 条记分") % {"n": len(subjects), "lines": line_count},
            data={
                "rule_set": rule_set.pk,
                "subjects": len(subjects),
                "lines": line_count,
                "took_ms": took,
                "phases_ms": lap.phases,
            },
        )
    return ComputeResult(period, rule_set, len(subjects), line_count, took, lap.phases)


def _write_scores(month, rule_set, ctx, subjects, lines, now) -> dict[str, int]:
    base, ypp = rule_set.base_score, rule_set.yuan_per_point
    rows = []
    for s in subjects:
        deductions, bonuses = engine.sums(row.points for row in lines.get(s.key, ()))
        score = Score(
            period=month,
            subject_kind=s.kind,
            subject_key=s.key,
            user_id=s.user_id,
            department_id=s.department_id,
            area_id=s.area_id,
            base=base,
            deductions=deductions,
            bonuses=bonuses,
            total=base + deductions + bonuses,
            yuan_per_point=ypp,
            line_count=len(lines.get(s.key, ())),
            is_current=True,
            computed_at=now,
        )
        for column, value in engine.path_of(ctx, s.area_id).items():
            setattr(score, f"{column}_id", value)
        rows.append(score)
    fields = [
        "subject_kind",
        "user",
        "department",
        "area",
        "county",
        "town",
        "zone",
        "village",
        "grid",
        "base",
        "deductions",
        "bonuses",
        "total",
        "yuan_per_point",
        "line_count",
        "is_current",
        "computed_at",
    ]
    Score.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["period", "subject_key"], update_fields=fields, batch_size=1000
    )
    ids = dict(Score.objects.filter(period=month).values_list("subject_key", "id"))
    current = {s.key for s in subjects}
    stale = [pk for key, pk in ids.items() if key not in current]
    if stale:
        kept = set(Appeal.objects.filter(score_id__in=stale).values_list("score_id", flat=True))
        # Subjects gone since the last computation (left their post …): dropped, unless an appeal
        # names them — then kept, marked not current, at the base score.
        Score.objects.filter(pk__in=kept).update(
            is_current=False, deductions=0, bonuses=0, total=base, line_count=0, computed_at=now
        )
        Score.objects.filter(pk__in=[pk for pk in stale if pk not in kept]).delete()
    return {key: pk for key, pk in ids.items() if key in current}


LINE_COLUMNS = (
    "score_id",
    "rule_id",
    "key",
    "occurred_on",
    "raw_points",
    "points",
    "capped",
    "voided",
    "source_model",
    "source_id",
    "case_ref",
    "area_ref",
    "explanation",
)


def _line_rows(score_ids, subjects, lines):
    """The month's lines as tuples in LINE_COLUMNS order: subjects by key, each subject's lines in
    rule order then date order (the order the caps were applied in)."""
    for s in subjects:
        score_id = score_ids[s.key]
        for row in lines.get(s.key, ()):
            fact = row.fact
            yield (
                score_id,
                row.rule.pk,
                row.key,
                fact.occurred_on,
                row.rule.points,
                row.points,
                row.capped,
                row.voided,
                fact.source_model,
                fact.source_id,
                fact.case_id,
                fact.place_id,
                fact.explanation[:300],
            )


def _write_lines(score_ids, subjects, lines) -> int:
    """Write the month's lines (the old ones are deleted first). A county month is hundreds of
    thousands of lines: on PostgreSQL they are streamed with COPY, elsewhere bulk_create."""
    rows = _line_rows(score_ids, subjects, lines)
    if connection.vendor == "postgresql":
        return _copy_lines(rows)
    count = 0
    while batch := list(itertools.islice(rows, LINE_BATCH)):
        ScoreLine.objects.bulk_create([ScoreLine(**dict(zip(LINE_COLUMNS, r, strict=True))) for r in batch])
        count += len(batch)
    return count


def _copy_lines(rows, chunk: int = 100_000) -> int:
    sql = f"COPY {ScoreLine._meta.db_table} ({', '.join(LINE_COLUMNS)}) FROM STDIN WITH (FORMAT csv)"
    count = 0
    with connection.cursor() as cursor:
        raw = cursor.cursor
        while batch := list(itertools.islice(rows, chunk)):
            buffer = io.StringIO()
            # In CSV, an unquoted empty field is NULL (case_ref, area_ref); no text column is empty.
            csv.writer(buffer).writerows(batch)
            buffer.seek(0)
            if hasattr(raw, "copy_expert"):  # psycopg2
                raw.copy_expert(sql, buffer)
            else:  # psycopg 3
                with raw.copy(sql) as copy:
                    copy.write(buffer.getvalue())
            count += len(batch)
    return count


# --- closing ------------------------------------------------------------------------------------


def close_month(period: Period, *, actor=None, now: dt.datetime | None = None) -> AssessmentMonth:
    """Lock a computed month: no recomputation any more; only appeals change it."""
    now = now or timezone.now()
    with transaction.atomic():
        month = AssessmentMonth.objects.select_for_update().filter(month=period.month).first()
        if month is None or month.computed_at is None:
            raise InvalidInput(_("%(month)s 尚未计算，不能关账") % {"month": period.label})
        if month.is_closed:
            raise MonthClosed(_("%(month)s 已关账") % {"month": period.label})
        if period.end > now:
            raise InvalidInput(_("%(month)s 尚未结束，不能关账") % {"month": period.label})
        month.status = MonthStatus.CLOSED
        month.closed_at = now
        month.closed_by = actor
        month.save(update_fields=["status", "closed_at", "closed_by"])
        AssessmentLog.objects.create(period=month, action=LogAction.CLOSED, actor=actor, note=_("关账"))
    return month


# --- appeals ------------------------------------------------------------------------------------


def file_appeal(*, line_id: int, user, reason: str, evidence=None) -> Appeal:
    """The assessed person (or the head of an assessed unit) disputes a deduction, with a reason
    and optionally a file (checked like every upload: magic bytes and size)."""
    from django.core.exceptions import ValidationError

    from cases.attachments import validate_upload

    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("提交的数据有误"), fields={"reason": [_("请填写申诉理由")]})
    evidence_type = evidence_sha = ""
    if evidence is not None:
        try:
            evidence_type, evidence_sha = validate_upload(evidence)
        except ValidationError as exc:
            raise InvalidInput(_("提交的数据有误"), fields={"evidence": exc.messages}) from None
    with transaction.atomic():
        head = ScoreLine.objects.filter(pk=line_id).values("score__period_id").first()
        if head is None:
            raise InvalidInput(_("提交的数据有误"), fields={"line": [_("记分条目不存在")]})
        # Lock the month first (a recomputation replaces its lines), then read the line.
        month = AssessmentMonth.objects.select_for_update().get(pk=head["score__period_id"])
        line = ScoreLine.objects.select_related("score__period", "score__area", "rule").filter(pk=line_id).first()
        if line is None:
            raise Conflict(_("该月考核刚刚重新计算，请刷新后重试"))
        score = line.score
        if not can_appeal(user, score):
            raise NotAllowed(_("只能对本人（或本人负责的单位）的记分提出申诉"))
        if line.voided or line.raw_points >= 0:
            raise InvalidInput(_("提交的数据有误"), fields={"line": [_("只能对扣分条目提出申诉")]})
        if Appeal.objects.filter(
            score=score, line_key=line.key, status__in=(AppealStatus.PENDING, AppealStatus.ACCEPTED)
        ).exists():
            raise Conflict(_("该条目已有待审核或已采纳的申诉"))
        appeal = Appeal(
            score=score,
            line_key=line.key,
            line_explanation=line.explanation,
            line_points=line.points,
            appellant=user,
            reason=reason,
            evidence_type=evidence_type,
            evidence_sha256=evidence_sha,
        )
        if evidence is not None:
            appeal.evidence_name = (getattr(evidence, "name", "") or "")[:200]
            appeal.evidence.save("evidence", evidence, save=False)
        appeal.save()
        AssessmentLog.objects.create(
            period=month,
            action=LogAction.APPEAL_FILED,
            actor=user,
            score=score,
            appeal=appeal,
            note=line.explanation[:300],
        )
    return appeal


def decide_appeal(*, appeal_id: int, reviewer, accept: bool, note: str = "", now=None) -> Appeal:
    """Accept (the line is voided and the score recomputed from its lines, caps included) or reject
    (a reason is required). Works on open and closed months alike: appeals are the only way a
    closed month changes."""
    note = (note or "").strip()
    if not accept and not note:
        raise InvalidInput(_("提交的数据有误"), fields={"decision_note": [_("驳回申诉须填写理由")]})
    now = now or timezone.now()
    with override("zh-hans"), transaction.atomic():
        head = Appeal.objects.filter(pk=appeal_id).values("score__period_id").first()
        if head is None:
            raise InvalidInput(_("申诉不存在"))
        month = AssessmentMonth.objects.select_for_update().get(pk=head["score__period_id"])
        appeal = Appeal.objects.select_for_update(of=("self",)).get(pk=appeal_id)
        score = Score.objects.select_for_update(of=("self",)).select_related("area").get(pk=appeal.score_id)
        if appeal.status != AppealStatus.PENDING:
            raise Conflict(_("该申诉已审核（%(status)s）") % {"status": appeal.get_status_display()})
        if not can_review(reviewer, score) or reviewer.pk == appeal.appellant_id:
            raise NotAllowed(_("您无权审核该申诉"))
        appeal.total_before = score.total
        if accept:
            line = ScoreLine.objects.filter(score=score, key=appeal.line_key).first()
            if line is not None:
                line.voided = True
                line.save(update_fields=["voided"])
                rescore(score)
            appeal.status = AppealStatus.ACCEPTED
        else:
            appeal.status = AppealStatus.REJECTED
        appeal.total_after = score.total
        appeal.reviewer = reviewer
        appeal.reviewed_at = now
        appeal.decision_note = note
        appeal.save()
        AssessmentLog.objects.create(
            period=month,
            action=LogAction.APPEAL_ACCEPTED if accept else LogAction.APPEAL_REJECTED,
            actor=reviewer,
            score=score,
            appeal=appeal,
            note=(note or appeal.line_explanation)[:300],
            data={"total_before": str(appeal.total_before), "total_after": str(appeal.total_after)},
        )
    return appeal


def rescore(score: Score) -> Score:
    """Re-apply the caps over the score's stored lines (voided lines count nothing and leave room
    under the cap for the next line) and recompute its totals."""
    lines = list(
        ScoreLine.objects.filter(score=score)
        .select_related("rule")
        .order_by("rule__order", "rule__code", "occurred_on", "source_model", "source_id")
    )
    changed = []
    by_rule: dict[int, list[ScoreLine]] = {}
    for line in lines:
        by_rule.setdefault(line.rule_id, []).append(line)
    for rule_lines in by_rule.values():
        before = [(line.points, line.capped) for line in rule_lines]
        engine.allocate(rule_lines, lambda line: line.raw_points, rule_lines[0].rule.cap)
        changed += [line for line, old in zip(rule_lines, before, strict=True) if (line.points, line.capped) != old]
    if changed:
        ScoreLine.objects.bulk_update(changed, ["points", "capped"])
    deductions, bonuses = engine.sums(line.points for line in lines)
    score.deductions, score.bonuses = deductions, bonuses
    score.total = score.base + deductions + bonuses
    score.save(update_fields=["deductions", "bonuses", "total"])
    return score
