def posts_of(user) -> list:
    """The user's active posts with their areas and departments (tree fields included), read once
    per user object, i.e. once per request, and shared by scope, capabilities and the header."""
    cached = getattr(user, "_gridgov_posts", None)
    if cached is None:
        from .models import Post

        cached = list(Post.objects.active().filter(user=user).select_related("area", "department__area"))
        try:
            user._gridgov_posts = cached
        except AttributeError:  # AnonymousUser is shared; do not cache on it
            pass
    return cached


def forget_posts(user) -> None:
    if hasattr(user, "_gridgov_posts"):
        del user._gridgov_posts
