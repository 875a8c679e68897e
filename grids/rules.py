"""Pure rules of the area tree, shared by Area.clean() and the importer (one wording, one place)."""

from django.utils.translation import gettext as _

from .choices import LEVEL_RANK, STAT_CODE_LENGTH, AreaLevel


def level_order_error(level: str, parent_level: str | None) -> str | None:
    """A child's level must rank below its parent's; only a county may stand without a parent."""
    if parent_level is None:
        return None if level == AreaLevel.COUNTY else _("只有县级区域可以没有上级")
    if LEVEL_RANK[level] <= LEVEL_RANK[parent_level]:
        return _("层级顺序错误：%(child)s不能位于%(parent)s之下") % {
            "child": AreaLevel(level).label,
            "parent": AreaLevel(parent_level).label,
        }
    return None


def code_rule_error(code: str, level: str, parent_code: str | None, *, new: bool) -> str | None:
    """Statistical levels (county 6, town 9, village/community 12 digits) have fixed lengths; a new
    zone, grid or group extends its parent's code. A moved area keeps its code: the code is its
    identity in history, imports and other systems."""
    if not code.isdigit():
        return _("编码只能包含数字")
    expected = STAT_CODE_LENGTH.get(level)
    if expected:
        if len(code) != expected:
            return _("%(level)s的编码应为 %(n)d 位统计用区划代码") % {"level": AreaLevel(level).label, "n": expected}
        return None
    if new and parent_code and not (code.startswith(parent_code) and len(code) > len(parent_code)):
        return _("编码应以上级编码 %(code)s 开头并加顺序号") % {"code": parent_code}
    return None
