"""Mounted at /api/v1/assessment/ (gridgov/urls.py): scores/, lines/, appeals/."""

from rest_framework.routers import DefaultRouter

from .views import AppealViewSet, ScoreLineViewSet, ScoreViewSet

app_name = "assessment-api"

router = DefaultRouter()
router.register("scores", ScoreViewSet, basename="score")
router.register("lines", ScoreLineViewSet, basename="line")
router.register("appeals", AppealViewSet, basename="appeal")

urlpatterns = router.urls
