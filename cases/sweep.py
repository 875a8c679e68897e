"""The deadline sweep: run by Celery beat every minute, harmless when run twice or concurrently.

`due_at`, `remind_at` and `escalate_at` in the database are the only truth. Each pass claims a
batch of due rows with `SELECT … FOR UPDATE SKIP LOCKED`, acts on them and clears the column that
made them due, all in one transaction; so two sweeps at once split the work, a killed worker
leaves the rows for the next pass, and a wiped Redis loses nothing. Unique constraints on
(case, step) for automatic reminders and supervision records are the last line of defence.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone
from django.utils.translation import gettext as _

from .choices import OPEN_STATES, Action, CaseState
from .models import Case, CaseEvent, Reminder, Supervision
from .services import case_act, supervising_area_id
from .transitions import CaseActionError

ESCALATING_STATES = (CaseState.REPORTED, CaseState.ESCALATED, CaseState.HANDLING)


def grace() -> dt.timedelta:
    """How long after the deadline an overdue case is escalated one level automatically."""
    return dt.timedelta(hours=float(getattr(settings, "GRIDGOV_AUTO_ESCALATE_AFTER_HOURS", 24)))


@dataclass
class SweepResult:
    reminded: int = 0
    overdue: int = 0
    escalated: int = 0
    event_ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {"reminded": self.reminded, "overdue": self.overdue, "escalated": self.escalated}


def sweep_deadlines(now: dt.datetime | None = None, batch: int = 500) -> SweepResult:
    now = now or timezone.now()
    result = SweepResult()
    while _remind_batch(now, batch, result) == batch:
        pass
    while _overdue_batch(now, batch, result) == batch:
        pass
    while _escalate_batch(now, batch, result) == batch:
        pass
    if result.event_ids:
        from .tasks import deliver_events

        ids = list(result.event_ids)
        transaction.on_commit(lambda: deliver_events.delay(ids))
    return result


def _claim(now: dt.datetime, batch: int, **filters) -> list[Case]:
    return list(
        Case.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(state__in=OPEN_STATES, **filters)
        .select_related("owner_area", "owner_department__area", "dispatcher_area", "town")
        .order_by("pk")[:batch]
    )


def _next_seqs(case_ids: list[int]) -> dict[int, int]:
    rows = CaseEvent.objects.filter(case_id__in=case_ids).values("case_id").annotate(m=Max("seq"))
    last = {r["case_id"]: r["m"] for r in rows}
    return {cid: last.get(cid, 0) + 1 for cid in case_ids}


def _events(cases: list[Case], action: str, note: str, data_of=None) -> list[int]:
    seqs = _next_seqs([c.pk for c in cases])
    rows = [
        CaseEvent(
            case=c,
            seq=seqs[c.pk],
            action=action,
            actor=None,
            from_state=c.state,
            to_state=c.state,
            owner_before=c.owner_label[:120],
            owner_after=c.owner_label[:120],
            note=note,
            data=data_of(c) if data_of else {},
        )
        for c in cases
    ]
    created = CaseEvent.objects.bulk_create(rows, batch_size=500)
    return [e.pk for e in created if e.pk]


@transaction.atomic
def _remind_batch(now: dt.datetime, batch: int, result: SweepResult) -> int:
    """At 80% of a step's limit: one automatic 催办单 per step, to the holder and the assignee."""
    cases = _claim(now, batch, remind_at__lte=now)
    if not cases:
        return 0
    Reminder.objects.bulk_create(
        [Reminder(case=c, step=c.step, automatic=True, due_at=c.due_at, note=_("即将到期")) for c in cases],
        ignore_conflicts=True,
    )
    Case.objects.filter(pk__in=[c.pk for c in cases]).update(remind_at=None, reminder_count=F("reminder_count") + 1)
    result.event_ids += _events(
        cases,
        Action.REMIND,
        _("即将到期，请抓紧办理"),
        lambda c: {"due_at": c.due_at.isoformat() if c.due_at else None},
    )
    result.reminded += len(cases)
    return len(cases)


@transaction.atomic
def _overdue_batch(now: dt.datetime, batch: int, result: SweepResult) -> int:
    """At the deadline: overdue, a 督办 record for the level above (which is notified), and the time
    of the automatic escalation if the step can go up."""
    cases = _claim(now, batch, due_at__lt=now, is_overdue=False)
    if not cases:
        return 0
    supervisions = []
    up, stay = [], []
    for c in cases:
        can_go_up = c.state in ESCALATING_STATES and (
            c.owner_department_id is not None or (c.owner_area_id and c.owner_area.parent_id)
        )
        (up if can_go_up else stay).append(c.pk)
        supervisions.append(
            Supervision(
                case=c, step=c.step, automatic=True, level_area_id=supervising_area_id(c), note=_("超时自动督办")
            )
        )
    Supervision.objects.bulk_create(supervisions, ignore_conflicts=True)
    # Two set-based UPDATEs instead of a per-row CASE: escalation falls due a grace period after
    # the deadline for the cases that have a level above them.
    flags = {"is_overdue": True, "is_supervised": True, "remind_at": None}
    if up:
        Case.objects.filter(pk__in=up).update(escalate_at=F("due_at") + grace(), **flags)
    if stay:
        Case.objects.filter(pk__in=stay).update(escalate_at=None, **flags)
    result.event_ids += _events(cases, Action.OVERDUE, _("已超过办理期限，列入督办"))
    result.overdue += len(cases)
    return len(cases)


@transaction.atomic
def _escalate_batch(now: dt.datetime, batch: int, result: SweepResult) -> int:
    """After the grace period: escalate one level, through the same service as a person would."""
    cases = _claim(now, batch, escalate_at__lte=now)
    for c in cases:
        try:
            with transaction.atomic():
                case_act(case_id=c.pk, action=Action.ESCALATE, actor=None, note=_("超时未办结，系统自动上报"), now=now)
            result.escalated += 1
        except CaseActionError:
            Case.objects.filter(pk=c.pk).update(escalate_at=None)
    return len(cases)
