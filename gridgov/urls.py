from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authtoken.views import obtain_auth_token
from rest_framework.routers import DefaultRouter

from cases.api.views import AttachmentViewSet, CaseViewSet, CategoryViewSet, NotificationViewSet
from grids import views as grid_views
from grids.api.views import AreaViewSet, HouseholdViewSet, ResidentViewSet, TagViewSet
from staff.api.views import MeView

from .health import healthz

router = DefaultRouter()
router.register("areas", AreaViewSet, basename="area")
router.register("households", HouseholdViewSet, basename="household")
router.register("residents", ResidentViewSet, basename="resident")
router.register("tags", TagViewSet, basename="tag")
router.register("categories", CategoryViewSet, basename="category")
router.register("cases", CaseViewSet, basename="case")
router.register("attachments", AttachmentViewSet, basename="attachment")
router.register("notifications", NotificationViewSet, basename="notification")

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/v1/auth/token/", obtain_auth_token, name="api-token"),
    path("api/v1/me/", MeView.as_view(), name="api-me"),
    path("api/v1/assessment/", include("assessment.api.urls")),
    path("api/v1/stats/", include("cases.dashboard.api_urls")),
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", grid_views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="registration/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("areas/", include("grids.urls")),
    path("areas/", include("grids.boundary_urls")),
    path("m/", include("cases.worker.urls")),
    path("console/", include("cases.console.urls")),
    path("assessment/", include("assessment.urls")),
    path("dashboard/", include("cases.dashboard.urls")),
    path("admin/", admin.site.urls),
]
