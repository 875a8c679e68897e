"""The one choke point for what a user may see: the union of the subtrees of their posts.

Every page and API view reaches its queryset through `Model.objects.visible_to(user)`, which asks
`scope_for(user)` for a Q object:
- areas: `tree_id = t AND lft >= l AND rght <= r` per post (an MPTT range);
- records carrying an AreaPath (households, residents, cases …): one equality on the denormalised
  ancestor column of the post's level (`town_id = 7`), falling back to the area range for
  sub-grids and groups, which have no column of their own.
Nested posts collapse into the outer one. A user with no post sees nothing; a superuser sees all.
"""

from dataclasses import dataclass

from django.db.models import Q

from .choices import PATH_COLUMN

_CACHE_ATTR = "_gridgov_scope"


@dataclass(frozen=True)
class ScopeNode:
    id: int
    level: str
    tree_id: int
    lft: int
    rght: int

    def contains(self, other: "ScopeNode") -> bool:
        return self.tree_id == other.tree_id and self.lft <= other.lft and other.rght <= self.rght


@dataclass(frozen=True)
class Scope:
    everything: bool
    nodes: tuple[ScopeNode, ...]

    def area_q(self, prefix: str = "") -> Q:
        if self.everything:
            return Q()
        q = Q(pk__in=[])
        for n in self.nodes:
            q |= Q(**{f"{prefix}tree_id": n.tree_id, f"{prefix}lft__gte": n.lft, f"{prefix}rght__lte": n.rght})
        return q

    def path_q(self) -> Q:
        if self.everything:
            return Q()
        q = Q(pk__in=[])
        for n in self.nodes:
            column = PATH_COLUMN.get(n.level)
            if column:
                q |= Q(**{f"{column}_id": n.id})
            else:
                q |= Q(area__tree_id=n.tree_id, area__lft__gte=n.lft, area__rght__lte=n.rght)
        return q

    def contains_area(self, area) -> bool:
        if self.everything:
            return True
        target = ScopeNode(area.pk, area.level, area.tree_id, area.lft, area.rght)
        return any(n.contains(target) for n in self.nodes)

    @property
    def is_empty(self) -> bool:
        return not self.everything and not self.nodes


def scope_for(user) -> Scope:
    """The user's scope, computed once per user object (i.e. once per request)."""
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is not None:
        return cached
    scope = _compute_scope(user)
    try:
        setattr(user, _CACHE_ATTR, scope)
    except AttributeError:  # AnonymousUser is shared; do not cache on it
        pass
    return scope


def forget_scope(user) -> None:
    from staff.selectors import forget_posts

    forget_posts(user)
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def _compute_scope(user) -> Scope:
    if user is None or not user.is_authenticated or not user.is_active:
        return Scope(everything=False, nodes=())
    if user.is_superuser:
        return Scope(everything=True, nodes=())
    from staff.selectors import posts_of

    nodes = []
    for post in posts_of(user):
        area = post.area or (post.department.area if post.department_id else None)
        if area is not None and area.is_active:
            nodes.append(ScopeNode(area.pk, area.level, area.tree_id, area.lft, area.rght))
    # Drop posts nested inside another post's subtree: the outer range already covers them.
    outer = [n for n in nodes if not any(o is not n and o.contains(n) and o != n for o in nodes)]
    unique = tuple(dict.fromkeys(outer))
    return Scope(everything=False, nodes=unique)
