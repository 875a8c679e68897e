from django.urls import path

from . import households, views

app_name = "worker"
urlpatterns = [
    path("", views.home, name="home"),
    path("report/", views.report, name="report"),
    path("reports/", views.my_reports, name="reports"),
    path("tasks/", views.tasks, name="tasks"),
    path("cases/<int:pk>/", views.case_detail, name="case"),
    path("cases/<int:pk>/<slug:action>/", views.case_action, name="case-action"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/<int:pk>/read/", views.notification_read, name="notification-read"),
    path("notifications/read-all/", views.notifications_read_all, name="notifications-read-all"),
    path("patrol/", views.patrol, name="patrol"),
    path("patrol/start/", views.patrol_start, name="patrol-start"),
    path("patrol/end/", views.patrol_end, name="patrol-end"),
    path("households/", households.household_list, name="households"),
    path("households/new/", households.household_edit, name="household-new"),
    path("households/<int:pk>/", households.household_detail, name="household"),
    path("households/<int:pk>/edit/", households.household_edit, name="household-edit"),
    path("households/<int:household_pk>/residents/new/", households.resident_edit, name="resident-new"),
    path("households/<int:household_pk>/visits/", households.visit_new, name="visit-new"),
    path("households/<int:household_pk>/pairings/", households.pairing_new, name="pairing-new"),
    path("residents/<int:pk>/edit/", households.resident_edit, name="resident-edit"),
    path("residents/<int:pk>/reveal/", households.resident_reveal, name="resident-reveal"),
    path("visits/<int:pk>/photo/", households.visit_photo, name="visit-photo"),
    path("pairings/<int:pk>/end/", households.pairing_end, name="pairing-end"),
]
