from django.urls import path

from . import views

app_name = "grids"
urlpatterns = [
    path("", views.browser_root, name="browser"),
    path("search/", views.area_search, name="search"),
    path("<int:pk>/", views.AreaBrowserView.as_view(), name="area"),
]
