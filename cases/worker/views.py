from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect


@login_required
def home(request):
    # Replaced by the grid worker's phone pages (issue 4).
    return redirect("grids:browser")
