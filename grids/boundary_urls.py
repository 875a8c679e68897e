"""Boundary pages, mounted under /areas/ next to grids.urls:
`path("areas/", include("grids.boundary_urls"))` in gridgov/urls.py."""

from django.urls import path

from . import boundary_views as views

app_name = "boundaries"
urlpatterns = [
    path("<int:pk>/boundary/", views.editor, name="editor"),
    path("<int:pk>/boundary/check/", views.check, name="check"),
    path("<int:pk>/boundary/save/", views.save, name="save"),
    path("<int:pk>/boundary/split/", views.split, name="split"),
    path("<int:pk>/boundary/merge/", views.merge, name="merge"),
    path("<int:pk>/boundary/history/", views.history, name="history"),
    path("<int:pk>/boundary/compare/", views.compare, name="compare"),
    path("<int:pk>/boundary/reassign/", views.reassign, name="reassign"),
    path("<int:pk>/boundary/export/", views.export, name="export"),
    path("boundaries/import/", views.import_page, name="import"),
]
