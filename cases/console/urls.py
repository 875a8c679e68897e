from django.urls import path

from . import views

app_name = "console"
urlpatterns = [
    path("", views.intake, name="intake"),
    path("department/", views.department, name="department"),
    path("county/", views.county, name="county"),
]
