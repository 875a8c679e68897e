"""Template context shared by every page: which desks the user's posts open (for the header)."""

from staff.choices import Role


def desks(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from cases.transitions import user_posts

    roles = {p.role for p in user_posts(user)}
    return {
        "desk": {
            "worker": bool(roles & {Role.GRID_WORKER, Role.GRID_CHIEF}),
            "centre": bool(roles & {Role.CENTRE_STAFF, Role.TOWN_LEADER, Role.ZONE_CHIEF}),
            "department": Role.DEPARTMENT in roles,
            "county": bool(roles & {Role.COUNTY_OFFICIAL}) or user.is_superuser,
        }
    }
