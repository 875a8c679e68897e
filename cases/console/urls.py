from django.urls import path

from . import views

app_name = "console"
urlpatterns = [
    path("", views.intake, name="intake"),
    path("case/<int:pk>/", views.case_detail, name="case"),
    path("bulk-dispatch/", views.bulk_dispatch, name="bulk_dispatch"),
    path("supervision/", views.supervision, name="supervision"),
    path("department/", views.department, name="department"),
    path("county/", views.county, name="county"),
]
