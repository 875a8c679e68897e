"""Tests: PostgreSQL/Redis when DATABASE_URL / CELERY_BROKER_URL are set, SQLite otherwise."""

from .base import *  # noqa: F403

SECRET_KEY = "test-only-key"
DEBUG = False
GRIDGOV_ALLOW_DEMO_USERS = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Tasks run inline (eager) except in the tests that start a real worker on Redis and switch this
# off for their duration.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
LANGUAGE_CODE = "zh-hans"
