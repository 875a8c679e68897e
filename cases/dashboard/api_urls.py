"""Mounted at /api/v1/stats/ by gridgov/urls.py."""

from django.urls import path

from . import api

urlpatterns = [
    path("summary/", api.SummaryView.as_view(), name="stats-summary"),
    path("children/", api.ChildrenView.as_view(), name="stats-children"),
    path("trend/", api.TrendView.as_view(), name="stats-trend"),
]
