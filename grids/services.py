"""Writes to the area tree and its records. Views, the API and commands call these."""

from django.db.models import ForeignKey
from django.utils.translation import gettext as _

from .paths import PATH_FIELDS


def area_delete_blockers(area) -> list[str]:
    """Why `area` cannot be deleted: one Chinese sentence per kind of record still attached.

    Generic over every relation that points at Area (children, households, residents, posts,
    departments, cases …) so a new app's records are protected without touching this function.
    The denormalised path columns are skipped: a record under a descendant is already reported
    through the child area it hangs from.
    """
    blockers = []
    relations = [f for f in area._meta.get_fields(include_hidden=True) if f.one_to_many and f.auto_created]
    for rel in relations:
        if not isinstance(rel.field, ForeignKey) or rel.field.name in PATH_FIELDS:
            continue
        count = rel.related_model._base_manager.filter(**{rel.field.name: area}).count()
        if not count:
            continue
        if rel.related_model is type(area):
            blockers.append(_("该区域还有 %(count)d 个下级区域，不能删除") % {"count": count})
        else:
            blockers.append(
                _("该区域还有 %(count)d 条%(what)s记录，不能删除")
                % {"count": count, "what": rel.related_model._meta.verbose_name}
            )
    return blockers
