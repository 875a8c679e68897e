"""Every write to a case. One atomic function per action: row lock, the transition table, the
event row in the same transaction, notifications after commit."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from grids.choices import GRID_LEVELS, LEVEL_RANK, AreaLevel
from grids.models import Area, Household
from grids.paths import path_from_ancestors
from staff.models import Department

from . import calendar as workcal
from . import transitions
from .choices import (
    OPEN_STATES,
    WORKING_UNITS,
    Action,
    CaseKind,
    CaseState,
    ExtensionStatus,
    HandlingLevel,
    LimitUnit,
    Rating,
    Source,
    Urgency,
)
from .models import (
    Attachment,
    Case,
    CaseEvent,
    CaseNumber,
    Category,
    ExtensionRequest,
    Reminder,
    Supervision,
)
from .transitions import Conflict, InvalidInput, NotPermitted

LEVEL_OF_HANDLING = {
    HandlingLevel.GRID: LEVEL_RANK[AreaLevel.GRID],
    HandlingLevel.VILLAGE: LEVEL_RANK[AreaLevel.VILLAGE],
    HandlingLevel.ZONE: LEVEL_RANK[AreaLevel.ZONE],
    HandlingLevel.TOWN: LEVEL_RANK[AreaLevel.TOWN],
    HandlingLevel.COUNTY: LEVEL_RANK[AreaLevel.COUNTY],
}
REMIND_SHARE = Decimal(str(getattr(settings, "GRIDGOV_REMIND_SHARE", "0.8")))


def _now() -> dt.datetime:
    return timezone.now()


# --- numbering and clocks -----------------------------------------------------------------------


def next_case_number(now: dt.datetime | None = None) -> str:
    """2026112400001: the local date and a 5-digit daily sequence. One upsert that returns the new
    value: concurrency-safe (the day's row stays locked until the filing commits) in one round trip
    (PostgreSQL, and SQLite ≥ 3.35)."""
    day = timezone.localdate(now or _now())
    table = connection.ops.quote_name(CaseNumber._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (day, last) VALUES (%s, 1) "
            f"ON CONFLICT (day) DO UPDATE SET last = {table}.last + 1 RETURNING last",
            [day],
        )
        last = cursor.fetchone()[0]
    return f"{day:%Y%m%d}{last:05d}"


def _calendar(case: Case) -> workcal.WorkingCalendar:
    # `county` may be pre-filled from the ancestors already read; otherwise it is read only when
    # some area has working hours of its own.
    county = getattr(case, "_county_area", None)
    if county is None and case.county_id and workcal.has_area_hours():
        county = case.county
    return workcal.WorkingCalendar.for_area(county)


def _limit_of(case: Case, state: str) -> tuple[Decimal, str] | None:
    limit = case.category.limit_for(state)
    if limit is None:
        return None
    amount, unit = limit
    if case.urgency == Urgency.URGENT or case.category.urgent:
        # Urgent matters count natural time: a working-hours limit becomes the same natural hours.
        unit = {
            LimitUnit.WORKING_MINUTES: LimitUnit.NATURAL_MINUTES,
            LimitUnit.WORKING_HOURS: LimitUnit.NATURAL_HOURS,
            LimitUnit.WORKING_DAYS: LimitUnit.NATURAL_HOURS,
        }.get(unit, unit)
        if limit[1] == LimitUnit.WORKING_DAYS:
            amount = amount * 24
    return amount, unit


def start_step(case: Case, now: dt.datetime, due_at: dt.datetime | None = None) -> None:
    """Begin a new step in the case's current state: a new step number, a fresh deadline and
    reminder time, no overdue or escalation pending. Closed and rejected cases have no clock."""
    case.step += 1
    case.step_started_at = now
    case.is_overdue = False
    case.escalate_at = None
    case.step_budget_minutes = None
    if case.state not in OPEN_STATES:
        case.due_at = case.remind_at = None
        return
    cal = _calendar(case)
    if due_at is None:
        limit = _limit_of(case, case.state)
        if limit:
            due_at = cal.due(now, limit[0], limit[1])
            if limit[1] in WORKING_UNITS:
                # Remember the budget in working minutes: a calendar change recomputes from it.
                case.step_budget_minutes = cal.elapsed_minutes(now, due_at)
    case.due_at = due_at
    natural = case.step_budget_minutes is None
    case.remind_at = _remind_time(cal, now, due_at, natural=natural) if due_at else None


def _remind_time(
    cal: workcal.WorkingCalendar, start: dt.datetime, due_at: dt.datetime, *, natural: bool
) -> dt.datetime | None:
    """At REMIND_SHARE of the step's span: in working minutes for a working-time limit, in wall
    time for a natural-time limit (urgent matters) or a deadline given as a point in time."""
    if due_at <= start:
        return None
    if not natural:
        working = cal.elapsed_minutes(start, due_at)
        if working > 0:
            return cal.add_working_minutes(start, int(working * REMIND_SHARE))
    return start + (due_at - start) * float(REMIND_SHARE)


# --- owners -----------------------------------------------------------------------------------


def initial_owner(area: Area, category: Category, ancestors: list[Area] | None = None) -> Area:
    """The ancestor-or-self of `area` at the category's handling level; where the tree skips that
    level, the nearest level above it."""
    target_rank = LEVEL_OF_HANDLING[category.default_level]
    chain = ancestors if ancestors is not None else list(area.get_ancestors(include_self=True))
    for node in reversed(chain):
        if LEVEL_RANK[node.level] <= target_rank:
            return node
    return chain[0]


def _owner_label(case: Case) -> str:
    if case.owner_department_id:
        return case.owner_department.name
    if case.owner_area_id:
        return case.owner_area.name
    return ""


# --- filing -----------------------------------------------------------------------------------


@dataclass
class Filed:
    case: Case
    event: CaseEvent


def case_report(
    *,
    reporter,
    area: Area,
    category: Category,
    description: str,
    title: str = "",
    source: str = Source.PATROL,
    urgency: str | None = None,
    household: Household | None = None,
    latitude=None,
    longitude=None,
    contact_name: str = "",
    contact_phone: str = "",
    attachments: list[Attachment] = (),
    now: dt.datetime | None = None,
) -> Case:
    """File a case. Problem items go to the owner at the category's level with the accept clock
    running; information items are recorded and closed at once (信息类: no handling)."""
    errors: dict[str, list[str]] = {}
    if area.level not in (*GRID_LEVELS, AreaLevel.GROUP):
        errors["area"] = [_("事件必须登记在网格或组")]
    if not category.is_leaf or not category.is_active:
        errors["category"] = [_("请选择一个启用的小类")]
    description = (description or "").strip()
    if not description:
        errors["description"] = [_("请填写事件描述")]
    if household is not None and not (
        household.area_id == area.pk or household.area.is_descendant_of(area) or area.is_descendant_of(household.area)
    ):
        errors["household"] = [_("该户不在所选网格内")]
    for name, value, low, high in (("latitude", latitude, -90, 90), ("longitude", longitude, -180, 180)):
        if value is not None and not (low <= Decimal(str(value)) <= high):
            errors[name] = [_("坐标超出范围")]
    for a in attachments:
        if a.case_id is not None or a.uploaded_by_id != reporter.pk:
            errors["attachments"] = [_("附件无效或已被使用")]
    if errors:
        raise InvalidInput(_("提交的数据有误"), fields=errors)

    now = now or _now()
    with transaction.atomic():
        case = Case(
            created_at=now,
            number=next_case_number(now),
            source=source,
            kind=category.kind,
            category=category,
            urgency=urgency or (Urgency.URGENT if category.urgent else Urgency.NORMAL),
            title=(title or "").strip()[:100] or f"{category.name}：{description[:30]}",
            description=description,
            reporter=reporter,
            contact_name=contact_name,
            contact_phone=contact_phone,
            area=area,
            household=household,
            latitude=latitude,
            longitude=longitude,
            step=0,
        )
        ancestors = list(area.get_ancestors(include_self=True))  # one read serves path, owner, calendar
        for field, value in path_from_ancestors(ancestors).items():
            setattr(case, f"{field}_id", value)
        case._county_area = ancestors[0] if ancestors[0].pk == case.county_id else None
        if category.kind == CaseKind.INFORMATION:
            case.state = CaseState.CLOSED
            case.closed_at = now
            note = _("信息类事项，登记备案")
        else:
            case.state = CaseState.REPORTED
            case.owner_area = initial_owner(area, category, ancestors)
            note = ""
        start_step(case, now)
        case.save()
        event = _event(case, Action.REPORT, reporter, "", case.state, "", _owner_label(case), note, {}, now, seq=1)
        _attach(attachments, case, event)
    _after_commit(event)
    return case


# --- acting -----------------------------------------------------------------------------------


def case_act(
    *,
    case_id: int,
    action: str,
    actor,
    version: int | None = None,
    note: str = "",
    now: dt.datetime | None = None,
    **params,
) -> Case:
    """Do `action` to a case as `actor` (None = the system). Raises IllegalTransition (409),
    NotPermitted (403), Conflict (409, stale version) or InvalidInput (400); writes nothing then."""
    now = now or _now()
    note = (note or "").strip()
    with transaction.atomic():
        case = (
            Case.objects.select_for_update(of=("self",))
            .select_related("category", "owner_area", "owner_department__area", "area", "county")
            .get(pk=case_id)
        )
        if version is not None and int(version) != case.version:
            raise Conflict(_conflict_message(case))
        rule = transitions.resolve(case, action, actor)
        missing = {n: [_("此项为必填项")] for n in rule.needs if n == "note" and not note}
        if missing:
            raise InvalidInput(_("提交的数据有误"), fields=missing)
        before_state, before_owner = case.state, _owner_label(case)
        target = rule.next_state(case)
        data = HANDLERS[action](case, rule, actor, note, now, params)
        if case.state != target:  # the table is the truth; a handler that disagrees is a bug
            raise RuntimeError(f"{action} left case {case.pk} in {case.state}, table says {target}")
        case.version += 1
        case.save()
        event = _event(
            case, action, actor, before_state, case.state, before_owner, _owner_label(case), note, data or {}, now
        )
        _attach(params.get("attachments") or [], case, event)
    _after_commit(event)
    return case


def _conflict_message(case: Case) -> str:
    last = case.events.order_by("-seq").select_related("actor").first()
    who = (last.actor.get_full_name() or last.actor.username) if last and last.actor else _("系统")
    when = timezone.localtime(last.created_at).strftime("%H:%M") if last else ""
    return _("该事件已被 %(who)s 于 %(when)s 处理（%(action)s），当前状态：%(state)s。请刷新后重试。") % {
        "who": who,
        "when": when,
        "action": Action(last.action).label if last else "",
        "state": CaseState(case.state).label,
    }


def _require(params: dict, name: str, message: str):
    value = params.get(name)
    if value in (None, "", []):
        raise InvalidInput(_("提交的数据有误"), fields={name: [message]})
    return value


def _enter(case: Case, state: str, now: dt.datetime, due_at: dt.datetime | None = None) -> None:
    case.state = state
    start_step(case, now, due_at)
    if state == CaseState.HANDLING and case.handle_due_at is None:
        case.handle_due_at = case.due_at
    _close_supervisions(case, now)


def _close_supervisions(case: Case, now: dt.datetime) -> None:
    if case.is_supervised:
        Supervision.objects.filter(case=case, is_open=True).update(is_open=False, closed_at=now)
        case.is_supervised = False


def _accept(case, rule, actor, note, now, params):
    if case.accepted_at is None:
        case.accepted_at = now
        case.accepted_on_time = case.due_at is None or now <= case.due_at
    case.assignee = params.get("assignee") or actor
    _enter(case, CaseState.HANDLING, now)
    return {}


def _reject(case, rule, actor, note, now, params):
    case.state = CaseState.REJECTED
    start_step(case, now)
    _close_supervisions(case, now)
    return {}


def _self_resolve(case, rule, actor, note, now, params):
    _require(params, "attachments", _("请上传处置后的照片"))
    case.self_resolved = True
    case.assignee = actor
    case.feedback_at = now
    case.owner_area = (
        Area.objects.filter(
            tree_id=case.area.tree_id, lft__lte=case.area.lft, rght__gte=case.area.rght, level__in=GRID_LEVELS
        )
        .order_by("-lft")
        .first()
        or case.area
    )
    case.owner_department = None
    _enter(case, CaseState.FEEDBACK, now)
    return {"self_resolved_by": actor.pk}


def _dispatch_target(case: Case, params: dict):
    """The department or lower unit named by `target` ({"department": id} or {"area": id})."""
    target = _require(params, "target", _("请选择派遣对象"))
    # Always re-read the target: tree fields of an instance held by the caller may be stale.
    if isinstance(target, Department):
        target = {"department": target.pk}
    elif isinstance(target, Area):
        target = {"area": target.pk}
    obj = None
    if isinstance(target, dict) and target.get("department"):
        obj = Department.objects.select_related("area").filter(pk=target["department"], is_active=True).first()
    elif isinstance(target, dict) and target.get("area"):
        obj = Area.objects.filter(pk=target["area"], is_active=True).first()
    if obj is None:
        raise InvalidInput(_("派遣对象不存在"), fields={"target": [_("派遣对象不存在或已停用")]})
    if isinstance(obj, Department):
        if not (obj.area.tree_id == case.area.tree_id and obj.area.lft <= case.area.lft <= obj.area.rght):
            raise InvalidInput(_("该部门不负责事件所在区域"), fields={"target": [_("该部门不负责事件所在区域")]})
        return obj
    owner = case.owner_area
    if owner is None or not (obj.is_descendant_of(owner) and (case.area == obj or case.area.is_descendant_of(obj))):
        raise InvalidInput(
            _("只能派遣给本级以下、事件所在的单位"), fields={"target": [_("只能派遣给本级以下、事件所在的单位")]}
        )
    return obj


def _dispatch(case, rule, actor, note, now, params):
    target = _dispatch_target(case, params)
    due_at = params.get("due_at")
    if due_at is not None and due_at <= now:
        raise InvalidInput(_("期限必须晚于现在"), fields={"due_at": [_("期限必须晚于现在")]})
    if case.accepted_at is None:
        case.accepted_at = now
        case.accepted_on_time = case.due_at is None or now <= case.due_at
    case.dispatcher_area = case.owner_area or (case.owner_department.area if case.owner_department_id else None)
    if isinstance(target, Department):
        case.owner_department, case.owner_area = target, None
    else:
        case.owner_area, case.owner_department = target, None
    case.assignee = None
    case.dispatch_count += 1
    _enter(case, CaseState.HANDLING, now, due_at)
    case.handle_due_at = case.due_at
    # The receiving unit signs for it (签收) within the category's accept limit.
    accept = _limit_of(case, CaseState.REPORTED)
    case.sign_due_at = _calendar(case).due(now, accept[0], accept[1]) if accept else None
    case.signed_at = case.signed_on_time = None
    return {"target": str(target), "due_at": case.due_at.isoformat() if case.due_at else None}


def _sign(case, rule, actor, note, now, params):
    case.signed_at = now
    case.signed_on_time = case.sign_due_at is None or now <= case.sign_due_at
    case.assignee = actor
    return {"on_time": case.signed_on_time}


def _return(case, rule, actor, note, now, params):
    case.owner_area, case.owner_department = case.dispatcher_area, None
    case.dispatcher_area = None
    case.assignee = None
    case.return_count += 1
    # Back at the dispatcher, waiting for it to dispatch again: the accept clock runs.
    _enter(case, CaseState.REPORTED, now)
    return {}


def _escalate(case, rule, actor, note, now, params):
    if case.owner_department_id:
        target = case.owner_department.area
    else:
        target = case.owner_area.parent
    case.owner_area, case.owner_department = target, None
    case.dispatcher_area = None
    case.assignee = None
    _enter(case, CaseState.ESCALATED, now)
    return {"automatic": actor is None}


def _submit_feedback(case, rule, actor, note, now, params):
    case.feedback_at = now
    case.assignee = actor
    _enter(case, CaseState.FEEDBACK, now)
    return {}


def _verify(case, rule, actor, note, now, params):
    if case.self_resolved and case.assignee_id == actor.pk:
        raise NotPermitted(_("自行处置的事件需由网格长核查，不能自己核查自己"))
    case.state = CaseState.CLOSED
    case.closed_at = now
    deadline = case.handle_due_at
    case.closed_on_time = deadline is None or (case.feedback_at or now) <= deadline
    start_step(case, now)
    _close_supervisions(case, now)
    return {}


def _rework(case, rule, actor, note, now, params):
    if case.self_resolved and case.assignee_id == actor.pk:
        raise NotPermitted(_("自行处置的事件需由网格长核查，不能自己核查自己"))
    case.rework_count += 1
    _enter(case, CaseState.HANDLING, now)
    return {}


def _parse_amount(params: dict) -> tuple[Decimal, str]:
    try:
        amount = Decimal(str(_require(params, "amount", _("请填写延长时间"))))
    except InvalidOperation:
        raise InvalidInput(_("提交的数据有误"), fields={"amount": [_("请输入数字")]}) from None
    unit = _require(params, "unit", _("请选择单位"))
    if unit not in LimitUnit.values:
        raise InvalidInput(_("提交的数据有误"), fields={"unit": [_("单位无效")]})
    if amount <= 0 or amount > 365:
        raise InvalidInput(_("提交的数据有误"), fields={"amount": [_("延长时间应大于 0")]})
    return amount, unit


def _request_extension(case, rule, actor, note, now, params):
    amount, unit = _parse_amount(params)
    ExtensionRequest.objects.create(
        case=case, step=case.step, requested_by=actor, amount=amount, unit=unit, reason=note
    )
    return {"amount": str(amount), "unit": unit}


def _decide_extension(case, actor, note, now, approve: bool):
    req = case.extension_requests.select_for_update().get(status=ExtensionStatus.PENDING)
    req.decided_by, req.decided_at, req.decision_note = actor, now, note
    req.old_due_at = case.due_at
    if approve:
        req.status = ExtensionStatus.APPROVED
        base = max(case.due_at or now, now) if case.is_overdue else (case.due_at or now)
        cal = _calendar(case)
        new_due = cal.due(base, req.amount, req.unit)
        req.new_due_at = new_due
        if case.step_budget_minutes is not None and req.unit in WORKING_UNITS:
            case.step_budget_minutes = cal.elapsed_minutes(case.step_started_at, new_due)
        else:
            case.step_budget_minutes = None
        case.extension_count += 1
        case.handle_due_at = new_due
        case.due_at = new_due
        # A new clock: its own automatic reminder and supervision (keyed by step).
        case.step += 1
        case.is_overdue = False
        case.escalate_at = None
        case.remind_at = _remind_time(cal, now, new_due, natural=case.step_budget_minutes is None)
        _close_supervisions(case, now)
    else:
        req.status = ExtensionStatus.REFUSED
    req.save()
    return {"request": req.pk, "new_due_at": req.new_due_at.isoformat() if req.new_due_at else None}


def _approve_extension(case, rule, actor, note, now, params):
    return _decide_extension(case, actor, note, now, approve=True)


def _refuse_extension(case, rule, actor, note, now, params):
    return _decide_extension(case, actor, note, now, approve=False)


def _urge(case, rule, actor, note, now, params):
    Reminder.objects.create(case=case, step=case.step, automatic=False, sent_by=actor, note=note, due_at=case.due_at)
    case.reminder_count += 1
    return {}


def _supervise(case, rule, actor, note, now, params):
    Supervision.objects.create(
        case=case,
        step=case.step,
        automatic=False,
        opened_by=actor,
        note=note,
        level_area_id=supervising_area_id(case),
    )
    case.is_supervised = True
    return {}


def _reopen(case, rule, actor, note, now, params):
    target = rule.next_state(case)
    case.closed_at = None
    case.closed_on_time = None
    if target == CaseState.HANDLING and case.owner_area_id is None and case.owner_department_id is None:
        case.owner_area = initial_owner(case.area, case.category)
    _enter(case, target, now)
    return {}


def _rate(case, rule, actor, note, now, params):
    rating = _require(params, "rating", _("请选择满意度"))
    if rating not in Rating.values:
        raise InvalidInput(_("提交的数据有误"), fields={"rating": [_("满意度无效")]})
    case.rating = rating
    case.rated_at = now
    return {"rating": rating}


def _merge(case, rule, actor, note, now, params):
    into = _require(params, "into", _("请选择要合并到的事件"))
    into_id = into.pk if isinstance(into, Case) else into
    try:
        target = Case.objects.visible_to(actor).get(pk=into_id) if actor else Case.objects.get(pk=into_id)
    except (Case.DoesNotExist, ValueError, TypeError):
        raise InvalidInput(_("提交的数据有误"), fields={"into": [_("要合并到的事件不存在")]}) from None
    if target.pk == case.pk or target.merged_into_id == case.pk:
        raise InvalidInput(_("提交的数据有误"), fields={"into": [_("不能合并到自身")]})
    if target.state == CaseState.REJECTED:
        raise InvalidInput(_("提交的数据有误"), fields={"into": [_("不能合并到不予立案的事件")]})
    case.merged_into = target
    case.state = CaseState.CLOSED
    case.closed_at = now
    start_step(case, now)
    _close_supervisions(case, now)
    return {"into": target.pk, "into_number": target.number}


HANDLERS = {
    Action.ACCEPT: _accept,
    Action.REJECT: _reject,
    Action.SELF_RESOLVE: _self_resolve,
    Action.DISPATCH: _dispatch,
    Action.SIGN: _sign,
    Action.RETURN: _return,
    Action.ESCALATE: _escalate,
    Action.SUBMIT_FEEDBACK: _submit_feedback,
    Action.VERIFY: _verify,
    Action.REWORK: _rework,
    Action.REQUEST_EXTENSION: _request_extension,
    Action.APPROVE_EXTENSION: _approve_extension,
    Action.REFUSE_EXTENSION: _refuse_extension,
    Action.URGE: _urge,
    Action.SUPERVISE: _supervise,
    Action.REOPEN: _reopen,
    Action.RATE: _rate,
    Action.MERGE: _merge,
}


def supervising_area_id(case: Case) -> int | None:
    """The level above whoever holds the case: it is told about overdue steps and supervises.
    Ids only, so a batch of cases needs no extra reads."""
    if case.owner_department_id:
        return case.dispatcher_area_id or case.owner_department.area_id
    if case.owner_area_id:
        return case.owner_area.parent_id or case.owner_area_id
    return case.town_id


def _supervising_area(case: Case) -> Area | None:
    area_id = supervising_area_id(case)
    return Area.objects.filter(pk=area_id).first() if area_id else None


# --- events, attachments, notifications ---------------------------------------------------------


def _event(
    case, action, actor, from_state, to_state, owner_before, owner_after, note, data, now, seq: int | None = None
) -> CaseEvent:
    if seq is None:
        seq = (case.events.order_by("-seq").values_list("seq", flat=True).first() or 0) + 1
    return CaseEvent.objects.create(
        case=case,
        seq=seq,
        action=action,
        actor=actor,
        from_state=from_state,
        to_state=to_state,
        owner_before=owner_before[:120],
        owner_after=owner_after[:120],
        note=note,
        data=data,
    )


def _attach(attachments, case: Case, event: CaseEvent) -> None:
    ids = [a.pk for a in attachments]
    if ids:
        Attachment.objects.filter(pk__in=ids, case__isnull=True).update(case=case, event=event)


def _after_commit(event: CaseEvent) -> None:
    from .tasks import deliver_event_notifications

    transaction.on_commit(lambda: deliver_event_notifications.delay(event.pk))


__all__ = ["case_act", "case_report", "next_case_number", "start_step"]
