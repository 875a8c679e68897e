"""The one declarative table of the case flow: which action is legal in which state, for whom,
what it needs and which state follows. Services, the API and the pages all read it; nothing else
decides what a user may do to a case.

Who may act is expressed as *capacities* a user has towards a particular case, derived from their
posts (role, area or department):

- OWNER       holds the level or department that owns the case now (a grid chief for a grid, a
              zone chief for a zone or village, centre staff / town leaders for a town, county
              officials for the county, department staff for a department);
- GRID        grid worker or grid chief of the grid the case was filed in (checks results on the spot);
- GRID_CHIEF  grid chief of that grid (checks what a grid worker solved inside the grid);
- SUPERVISOR  zone chief, centre staff, town leader or county official posted strictly above the
              owning level (or at/above a department's area): urges, supervises, decides extensions;
- CENTRE      centre staff or town leader of the town the case was filed in (回访 callbacks);
- REPORTER    the user who filed the case;
- SYSTEM      the deadline sweep (actor None).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from django.utils.translation import gettext as _

from gridgov.errors import ServiceError
from grids.choices import GRID_LEVELS, AreaLevel
from staff.choices import Role

from .choices import OPEN_STATES, Action, CaseState


class Capacity(StrEnum):
    OWNER = "owner"
    GRID = "grid"
    GRID_CHIEF = "grid_chief"
    SUPERVISOR = "supervisor"
    CENTRE = "centre"
    REPORTER = "reporter"
    SYSTEM = "system"


S = CaseState
C = Capacity
ACTIVE = frozenset({S.REPORTED, S.ESCALATED, S.HANDLING})
OPEN = frozenset(OPEN_STATES)


@dataclass(frozen=True)
class Rule:
    action: str
    sources: frozenset
    who: frozenset
    # The next state (None: unchanged), or a function of the case for actions whose result depends
    # on where the case stands.
    target: str | Callable | None = None
    needs: tuple[str, ...] = ()
    # Extra condition on the case (e.g. `return` only for a dispatched case): (test, why-not).
    when: tuple[Callable, str] | None = None

    def next_state(self, case) -> str:
        if self.target is None:
            return case.state
        return self.target(case) if callable(self.target) else self.target


def _was_dispatched(case) -> bool:
    return case.dispatcher_area_id is not None


def _awaits_signing(case) -> bool:
    return case.dispatcher_area_id is not None and case.signed_at is None


def _owned_by_area(case) -> bool:
    return case.owner_area_id is not None


def _self_resolved(case) -> bool:
    return case.self_resolved


def _not_self_resolved(case) -> bool:
    return not case.self_resolved


def _has_level_above(case) -> bool:
    return case.owner_department_id is not None or (case.owner_area_id and case.owner_area.parent_id is not None)


def _reopen_target(case) -> str:
    return S.REPORTED if case.state == S.REJECTED else S.HANDLING


def _has_pending_extension(case) -> bool:
    return case.extension_requests.filter(status="pending").exists()


def _no_pending_extension(case) -> bool:
    return not _has_pending_extension(case)


def _not_rated(case) -> bool:
    return not case.rating


TABLE: tuple[Rule, ...] = (
    Rule(Action.ACCEPT, frozenset({S.REPORTED, S.ESCALATED}), frozenset({C.OWNER}), S.HANDLING),
    Rule(Action.REJECT, frozenset({S.REPORTED, S.ESCALATED}), frozenset({C.OWNER}), S.REJECTED, needs=("note",)),
    Rule(Action.SELF_RESOLVE, frozenset({S.REPORTED}), frozenset({C.GRID}), S.FEEDBACK, needs=("note", "attachments")),
    Rule(
        Action.DISPATCH,
        ACTIVE,
        frozenset({C.OWNER}),
        S.HANDLING,
        needs=("target",),
        when=(_owned_by_area, "部门不能转派，请退回派遣单位"),
    ),
    Rule(
        Action.SIGN,
        frozenset({S.HANDLING}),
        frozenset({C.OWNER}),
        S.HANDLING,
        when=(_awaits_signing, "该事件无需签收或已签收"),
    ),
    Rule(
        Action.RETURN,
        frozenset({S.HANDLING}),
        frozenset({C.OWNER}),
        S.REPORTED,  # back at the dispatcher, to be dispatched again
        needs=("note",),
        when=(_was_dispatched, "只有派遣来的事件才能退回"),
    ),
    Rule(
        Action.ESCALATE,
        ACTIVE,
        frozenset({C.OWNER, C.SYSTEM}),
        S.ESCALATED,
        when=(_has_level_above, "已是最高层级，无法继续上报"),
    ),
    Rule(Action.SUBMIT_FEEDBACK, frozenset({S.HANDLING}), frozenset({C.OWNER}), S.FEEDBACK, needs=("note",)),
    Rule(
        Action.VERIFY,
        frozenset({S.FEEDBACK}),
        frozenset({C.GRID}),
        S.CLOSED,
        when=(_not_self_resolved, "网格内自行处置的事件由网格长核查"),
    ),
    Rule(
        Action.VERIFY,
        frozenset({S.FEEDBACK}),
        frozenset({C.GRID_CHIEF}),
        S.CLOSED,
        when=(_self_resolved, ""),
    ),
    Rule(
        Action.REWORK,
        frozenset({S.FEEDBACK}),
        frozenset({C.GRID}),
        S.HANDLING,
        needs=("note",),
        when=(_not_self_resolved, "网格内自行处置的事件由网格长核查"),
    ),
    Rule(
        Action.REWORK,
        frozenset({S.FEEDBACK}),
        frozenset({C.GRID_CHIEF}),
        S.HANDLING,
        needs=("note",),
        when=(_self_resolved, ""),
    ),
    Rule(
        Action.REQUEST_EXTENSION,
        frozenset({S.HANDLING}),
        frozenset({C.OWNER}),
        None,
        needs=("note", "amount", "unit"),
        when=(_no_pending_extension, "已有待审批的延期申请"),
    ),
    Rule(
        Action.APPROVE_EXTENSION,
        frozenset({S.HANDLING}),
        frozenset({C.SUPERVISOR}),
        None,
        when=(_has_pending_extension, "没有待审批的延期申请"),
    ),
    Rule(
        Action.REFUSE_EXTENSION,
        frozenset({S.HANDLING}),
        frozenset({C.SUPERVISOR}),
        None,
        needs=("note",),
        when=(_has_pending_extension, "没有待审批的延期申请"),
    ),
    Rule(Action.URGE, OPEN, frozenset({C.SUPERVISOR}), None),
    Rule(Action.SUPERVISE, OPEN, frozenset({C.SUPERVISOR}), None, needs=("note",)),
    Rule(Action.REOPEN, frozenset({S.CLOSED, S.REJECTED}), frozenset({C.SUPERVISOR}), _reopen_target, needs=("note",)),
    Rule(
        Action.RATE,
        frozenset({S.CLOSED}),
        frozenset({C.REPORTER, C.CENTRE}),
        None,
        needs=("rating",),
        when=(_not_rated, "该事件已回访"),
    ),
    Rule(Action.MERGE, ACTIVE, frozenset({C.OWNER, C.SUPERVISOR}), S.CLOSED, needs=("into",)),
)

#: Actions a user can ask for through the API / pages (the sweep's own actions are not in TABLE).
USER_ACTIONS = tuple(dict.fromkeys(rule.action for rule in TABLE))

# Which roles own a case at which level of the tree.
OWNER_ROLES: dict[str, frozenset] = {
    **dict.fromkeys(GRID_LEVELS, frozenset({Role.GRID_CHIEF})),
    AreaLevel.GROUP: frozenset({Role.GRID_CHIEF}),
    AreaLevel.VILLAGE: frozenset({Role.ZONE_CHIEF}),
    AreaLevel.COMMUNITY: frozenset({Role.ZONE_CHIEF}),
    AreaLevel.ZONE: frozenset({Role.ZONE_CHIEF}),
    AreaLevel.TOWN: frozenset({Role.CENTRE_STAFF, Role.TOWN_LEADER}),
    AreaLevel.COUNTY: frozenset({Role.COUNTY_OFFICIAL}),
}
VILLAGE_LEVELS = frozenset({AreaLevel.VILLAGE, AreaLevel.COMMUNITY})
SUPERVISOR_ROLES = frozenset({Role.ZONE_CHIEF, Role.CENTRE_STAFF, Role.TOWN_LEADER, Role.COUNTY_OFFICIAL})
GRID_ROLES = frozenset({Role.GRID_WORKER, Role.GRID_CHIEF})
CENTRE_ROLES = frozenset({Role.CENTRE_STAFF, Role.TOWN_LEADER})


class CaseActionError(ServiceError):
    """Base of the engine's refusals; `code` is the API's machine-readable code."""


class IllegalTransition(CaseActionError):
    code = "illegal_transition"
    status = 409


class NotPermitted(CaseActionError):
    code = "permission_denied"
    status = 403


class Conflict(CaseActionError):
    code = "conflict"
    status = 409


class InvalidInput(CaseActionError):
    code = "invalid"
    status = 400


def _contains(outer, inner) -> bool:
    return outer.tree_id == inner.tree_id and outer.lft <= inner.lft and inner.rght <= outer.rght


def capacities(case, user, posts=None) -> set[Capacity]:
    """What `user` is to `case` (see the module docstring). `posts` may be passed pre-loaded."""
    if user is None:
        return {C.SYSTEM}
    result: set[Capacity] = set()
    if case.reporter_id == user.pk:
        result.add(C.REPORTER)
    if posts is None:
        posts = user_posts(user)
    owner_area = case.owner_area if case.owner_area_id else None
    anchor = owner_area or (case.owner_department.area if case.owner_department_id else None)
    for post in posts:
        area = post.area
        if case.owner_department_id and post.department_id == case.owner_department_id:
            result.add(C.OWNER)
        if area is None:
            continue
        if owner_area is not None and post.role in OWNER_ROLES.get(owner_area.level, ()):
            # The post at the owning level; a village or community without staff of its own is
            # held by the zone chief (片长) of the zone around it.
            if area.pk == owner_area.pk or (
                owner_area.level in VILLAGE_LEVELS and area.level == AreaLevel.ZONE and _contains(area, owner_area)
            ):
                result.add(C.OWNER)
        if post.role in GRID_ROLES and _contains(area, case.area):
            result.add(C.GRID)
            if post.role == Role.GRID_CHIEF:
                result.add(C.GRID_CHIEF)
        if post.role in CENTRE_ROLES and area.level == AreaLevel.TOWN and _contains(area, case.area):
            result.add(C.CENTRE)
        if post.role in SUPERVISOR_ROLES and anchor is not None and _contains(area, anchor):
            strictly_above = case.owner_department_id is not None or area.pk != anchor.pk
            if strictly_above:
                result.add(C.SUPERVISOR)
    return result


def user_posts(user) -> list:
    from staff.selectors import posts_of

    return posts_of(user)


def rules_for(action: str) -> list[Rule]:
    return [r for r in TABLE if r.action == action]


def resolve(case, action: str, user, posts=None) -> Rule:
    """The rule that lets `user` do `action` to `case` now, or the refusal that says why not.

    Order of refusals: an action illegal in the current state → IllegalTransition (409); legal in
    this state but not for this user → NotPermitted (403); a failed condition → IllegalTransition.
    """
    rules = rules_for(action)
    if not rules:
        raise IllegalTransition(_("未知的操作：%(action)s") % {"action": action})
    in_state = [r for r in rules if case.state in r.sources]
    if not in_state:
        raise IllegalTransition(
            _("事件当前状态为“%(state)s”，不能执行“%(action)s”")
            % {"state": CaseState(case.state).label, "action": Action(action).label}
        )
    caps = capacities(case, user, posts)
    permitted = [r for r in in_state if r.who & caps]
    if not permitted:
        raise NotPermitted(_("您无权对该事件执行“%(action)s”") % {"action": Action(action).label})
    why = ""
    for rule in permitted:
        if rule.when is None or rule.when[0](case):
            return rule
        why = why or rule.when[1]
    # The action is open to somebody else here (e.g. the grid chief checks a self-resolved case):
    # for this user it is a matter of permission, not of the state.
    if any(r.when is None or r.when[0](case) for r in in_state if r not in permitted):
        raise NotPermitted(why or _("您无权对该事件执行“%(action)s”") % {"action": Action(action).label})
    raise IllegalTransition(why or _("当前不能执行该操作"))


def allowed_actions(case, user) -> list[str]:
    """The actions `user` may take on `case` now, in table order (for buttons and the API)."""
    posts = user_posts(user)
    caps = capacities(case, user, posts)
    allowed = []
    for rule in TABLE:
        if rule.action in allowed or case.state not in rule.sources or not (rule.who & caps):
            continue
        if rule.when is None or rule.when[0](case):
            allowed.append(rule.action)
    return allowed
