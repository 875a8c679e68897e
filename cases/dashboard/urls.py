from django.urls import path

from . import views

app_name = "dashboard"
urlpatterns = [
    path("", views.index, name="index"),
    path("cases/", views.case_list, name="cases"),
    path("map.json", views.map_data, name="map_data"),
    path("export/", views.export, name="export"),
    path("export/<str:token>/", views.export_status, name="export_status"),
    path("export/<str:token>/status.json", views.export_status_json, name="export_status_json"),
    path("export/<str:token>/download/", views.export_download, name="export_download"),
]
