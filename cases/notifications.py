"""Who hears about what happens to a case, and through which channels.

Channels are pluggable (settings.GRIDGOV_NOTIFICATION_CHANNELS, dotted paths of classes with a
`send(notifications)` method); the in-app and e-mail channels are real. SMS or WeCom channels can be
added as classes without touching the engine.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mass_mail
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from grids.choices import GRID_LEVELS
from staff.models import Post

from .choices import Action
from .models import Case, CaseEvent, Notification
from .transitions import GRID_ROLES, OWNER_ROLES

User = get_user_model()

DEFAULT_CHANNELS = ["cases.notifications.InAppChannel", "cases.notifications.EmailChannel"]


class InAppChannel:
    """Rows in the Notification table (the bell and unread counts). Idempotent per (user, event)."""

    def send(self, notifications: list[Notification]) -> None:
        Notification.objects.bulk_create(notifications, ignore_conflicts=True, batch_size=500)


class EmailChannel:
    """One e-mail per recipient that has an address, through Django's EMAIL_BACKEND."""

    def send(self, notifications: list[Notification]) -> None:
        sender = getattr(settings, "DEFAULT_FROM_EMAIL", "gridgov@localhost")
        messages = [
            (n.message[:60], n.message, sender, [n.recipient.email]) for n in notifications if n.recipient.email
        ]
        if messages:
            send_mass_mail(messages, fail_silently=True)


def channels() -> list:
    return [import_string(path)() for path in getattr(settings, "GRIDGOV_NOTIFICATION_CHANNELS", DEFAULT_CHANNELS)]


# --- recipients -------------------------------------------------------------------------------


def owner_staff(case: Case):
    if case.owner_department_id:
        return Post.objects.active().filter(department_id=case.owner_department_id).values_list("user_id", flat=True)
    if case.owner_area_id:
        roles = OWNER_ROLES.get(case.owner_area.level, ())
        return (
            Post.objects.active().filter(area_id=case.owner_area_id, role__in=roles).values_list("user_id", flat=True)
        )
    return []


def grid_staff(case: Case, roles=GRID_ROLES):
    area = case.area
    return (
        Post.objects.active()
        .filter(
            role__in=roles,
            area__level__in=GRID_LEVELS,
            area__tree_id=area.tree_id,
            area__lft__lte=area.lft,
            area__rght__gte=area.rght,
        )
        .values_list("user_id", flat=True)
    )


def area_staff(area):
    if area is None:
        return []
    roles = OWNER_ROLES.get(area.level, ())
    return Post.objects.active().filter(area=area, role__in=roles).values_list("user_id", flat=True)


def supervising_area(case: Case):
    from .services import _supervising_area

    return _supervising_area(case)


def recipients(event: CaseEvent) -> set[int]:
    case = event.case
    action = event.action
    ids: set[int] = set()
    if action in (Action.ACCEPT, Action.REJECT, Action.VERIFY):
        ids.add(case.reporter_id)
    elif action == Action.SELF_RESOLVE:
        ids.update(grid_staff(case, roles={"grid_chief"}))
    elif action == Action.SUBMIT_FEEDBACK:
        ids.update(grid_staff(case))
    elif action in (Action.REQUEST_EXTENSION, Action.OVERDUE):
        ids.update(area_staff(supervising_area(case)))
    elif action == Action.MERGE:
        ids.add(case.reporter_id)
    elif action == Action.RATE:
        ids.update(owner_staff(case))
    else:  # report, dispatch, return, escalate, rework, extension decisions, urge, supervise, remind, reopen
        ids.update(owner_staff(case))
        if case.assignee_id and action in (Action.URGE, Action.REMIND, Action.SUPERVISE):
            ids.add(case.assignee_id)
    if event.actor_id:
        ids.discard(event.actor_id)
    return ids


def message_for(event: CaseEvent) -> str:
    case = event.case
    label = Action(event.action).label
    text = _("事件 %(number)s「%(title)s」：%(action)s") % {"number": case.number, "title": case.title, "action": label}
    if event.action == Action.MERGE:
        text = _("您上报的事件 %(number)s 已合并到 %(into)s 一并处理") % {
            "number": case.number,
            "into": event.data.get("into_number", ""),
        }
    elif event.note:
        text += f"（{event.note[:80]}）"
    return text[:300]


def deliver(event_ids: list[int]) -> int:
    """Build and send the notifications of these events. Safe to run twice (in-app rows are
    unique per user and event)."""
    events = CaseEvent.objects.filter(pk__in=event_ids).select_related(
        "case__area", "case__owner_area", "case__owner_department__area", "case__dispatcher_area", "case__town"
    )
    notifications = []
    for event in events:
        ids = recipients(event)
        if not ids:
            continue
        message = message_for(event)
        users = User.objects.filter(pk__in=ids, is_active=True)
        notifications.extend(
            Notification(recipient=u, case=event.case, event=event, kind=event.action, message=message) for u in users
        )
    for channel in channels():
        channel.send(notifications)
    return len(notifications)
