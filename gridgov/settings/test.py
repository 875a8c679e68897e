"""Tests: PostgreSQL/Redis when DATABASE_URL / CELERY_BROKER_URL are set, SQLite otherwise."""

import os

from .base import *  # noqa: F403

SECRET_KEY = "test-only-key"
DEBUG = False
GRIDGOV_ALLOW_DEMO_USERS = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Tasks run in a real worker only where a test starts one; elsewhere `.delay()` must not block on
# a broker that the test did not ask for.
CELERY_TASK_ALWAYS_EAGER = not os.environ.get("CELERY_BROKER_URL")
LANGUAGE_CODE = "zh-hans"
