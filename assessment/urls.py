from django.urls import path

from . import views

app_name = "assessment"
urlpatterns = [
    path("", views.home, name="home"),
    path("me/", views.me, name="me"),
    path("score/<int:pk>/", views.score_detail, name="score"),
    path("line/<int:pk>/appeal/", views.appeal_new, name="appeal_new"),
    path("appeals/", views.appeals, name="appeals"),
    path("appeal/<int:pk>/", views.appeal_detail, name="appeal"),
    path("appeal/<int:pk>/evidence/", views.appeal_evidence, name="appeal_evidence"),
    path("ranking/", views.ranking, name="ranking"),
    path("subsidy/", views.subsidy, name="subsidy"),
]
