from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.generic import DetailView

from gridgov.views import ScopedObjectMixin

from .models import Area
from .scope import scope_for
from .selectors import children_with_counts, node_totals


@login_required
def home(request):
    """Each user lands on the desk of their main post."""
    from gridgov.context_processors import desks

    desk = desks(request).get("desk", {})
    for key, url in (
        ("worker", "worker:home"),
        ("centre", "console:intake"),
        ("department", "console:department"),
        ("county", "console:county"),
    ):
        if desk.get(key):
            return redirect(url)
    return redirect("grids:browser")


@login_required
def browser_root(request):
    """The top of the user's scope: straight into it when there is a single subtree."""
    scope = scope_for(request.user)
    if scope.everything:
        roots = list(Area.objects.root_nodes().order_by("code"))
    else:
        roots = list(Area.objects.filter(pk__in=[n.id for n in scope.nodes]).order_by("tree_id", "lft"))
    if len(roots) == 1:
        return redirect("grids:area", pk=roots[0].pk)
    return render(request, "grids/browser_root.html", {"roots": roots})


class AreaBrowserView(ScopedObjectMixin, DetailView):
    model = Area
    template_name = "grids/area_detail.html"
    context_object_name = "area"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        area = self.object
        scope = scope_for(self.request.user)
        ancestors = list(area.get_ancestors())
        ctx["breadcrumb"] = [(a, scope.contains_area(a)) for a in ancestors]
        ctx["children"] = children_with_counts(area)
        ctx["totals"] = node_totals(area)
        from .boundaries import can_edit_boundaries

        ctx["can_edit_boundary"] = can_edit_boundaries(self.request.user, area)
        return ctx


@login_required
def area_search(request):
    """htmx: areas in scope whose name or code matches, for the search box of the browser."""
    q = (request.GET.get("q") or "").strip()
    results = []
    if q:
        from django.db.models import Q

        results = list(
            Area.objects.visible_to(request.user)
            .filter(Q(name__icontains=q) | Q(code__startswith=q))
            .order_by("depth", "code")[:20]
        )
    return render(request, "grids/_search_results.html", {"results": results, "q": q})
