import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridgov.settings.dev")

app = Celery("gridgov")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Packages inside apps whose tasks module is not at the app's top level.
app.autodiscover_tasks(["cases.dashboard"])
