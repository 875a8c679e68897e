from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect


@login_required
def intake(request):
    return redirect("grids:browser")


department = county = intake
