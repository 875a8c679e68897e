"""Settings shared by every environment. Values that differ between machines come from the
environment (DATABASE_URL, CELERY_BROKER_URL, SECRET_KEY, DEBUG, ALLOWED_HOSTS)."""

import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("GRIDGOV_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


SECRET_KEY = os.environ.get("SECRET_KEY", "")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "mptt",
    "gridgov",
    "grids",
    "staff",
    "cases",
    "assessment",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "gridgov.urls"
WSGI_APPLICATION = "gridgov.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cases.context_processors.calendar_warnings",
                "gridgov.context_processors.desks",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# DATABASE_URL names PostgreSQL in production and CI; without it an SQLite file under var/.
DEFAULT_SQLITE_URL = f"sqlite:///{VAR_DIR / 'gridgov.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or DEFAULT_SQLITE_URL,
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (web, worker, beat) share the file under `make run`: wait for locks and
    # take the write lock at BEGIN so a reader never has to upgrade (no "database is locked").
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- Language and time ----------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- Static and uploaded files --------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = True  # dev/test serve straight from the app folders; production collects
# Front-end libraries are installed from npm and copied by `npm run build` into this folder
# (ignored by git): nothing third-party is committed.
STATICFILES_DIRS = [BASE_DIR / "gridgov" / "static"]
# Uploaded files live outside the web root and are served only through views that check scope.
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "/media/"

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "gridgov.pagination.Pagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "gridgov.api.exception_handler",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "gridgov API",
    "DESCRIPTION": "网格化管理 — areas, households, staff posts; every list is scoped to the caller's posts.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Celery ---------------------------------------------------------------------------------
# CELERY_BROKER_URL names Redis in production and CI; without it kombu's SQLAlchemy transport on
# an SQLite file under var/ (no extra service needed for `make run`).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or f"sqla+sqlite:///{VAR_DIR / 'celery-broker.sqlite3'}"
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict = {
    # due_at in the database is the truth; the sweep is idempotent and safe to run concurrently.
    "sweep-deadlines": {"task": "cases.tasks.sweep_deadlines", "schedule": 60.0},
    "boundaries-take-effect": {
        "task": "grids.tasks.sync_effective_boundaries",
        "schedule": crontab(hour=0, minute=5),
    },
    "assessment-monthly": {
        # The 1st, for the month before (after 00:20, when the last day's compliance is recorded).
        "task": "assessment.tasks.compute_previous_month",
        "schedule": crontab(day_of_month=1, hour=1, minute=30),
    },
    # The county rollup's triggers append rows; fold them (cases/dashboard/rollup.py).
    "compact-case-rollup": {"task": "cases.dashboard.tasks.compact_rollup", "schedule": 60.0},
    "purge-dashboard-exports": {"task": "cases.dashboard.tasks.purge_exports", "schedule": crontab(hour=3, minute=0)},
    "reporting-compliance": {
        "task": "cases.tasks.record_reporting_compliance",
        "schedule": crontab(hour=0, minute=20),
    },
}

# --- Case engine ----------------------------------------------------------------------------
GRIDGOV_REMIND_SHARE = "0.8"  # automatic 催办 at this share of a step's limit
GRIDGOV_AUTO_ESCALATE_AFTER_HOURS = float(os.environ.get("GRIDGOV_AUTO_ESCALATE_AFTER_HOURS", "24"))
GRIDGOV_MAX_UPLOAD_BYTES = int(os.environ.get("GRIDGOV_MAX_UPLOAD_BYTES", str(10 * 1024 * 1024)))
GRIDGOV_NOTIFICATION_CHANNELS = [
    "cases.notifications.InAppChannel",
    "cases.notifications.EmailChannel",
]
# Maps work without base tiles (offline intranets); a county may name its own tile server.
GRIDGOV_TILE_URL = os.environ.get("GRIDGOV_TILE_URL", "")
GRIDGOV_TILE_ATTRIBUTION = os.environ.get("GRIDGOV_TILE_ATTRIBUTION", "")
GRIDGOV_BOUNDARY_TOLERANCE_M = float(os.environ.get("GRIDGOV_BOUNDARY_TOLERANCE_M", "5"))
GRIDGOV_LOCATE_RECHECK_SECONDS = 5  # how often a process checks for boundary changes made elsewhere
GRIDGOV_MAP_CENTER = (29.605, 119.04)  # where maps open when nothing nearby has a boundary
GRIDGOV_ASSESSMENT_BOTTOM_N = 3  # flagged 末位 in rankings
GRIDGOV_DUPLICATE_DISTANCE_M = float(os.environ.get("GRIDGOV_DUPLICATE_DISTANCE_M", "200"))
GRIDGOV_DUPLICATE_DAYS = int(os.environ.get("GRIDGOV_DUPLICATE_DAYS", "7"))
GRIDGOV_NEAR_DUE_HOURS = float(os.environ.get("GRIDGOV_NEAR_DUE_HOURS", "4"))
# County and town dashboards read the trigger-kept rollup (PostgreSQL); off: every page counts cases.
GRIDGOV_CASE_ROLLUP = env_bool("GRIDGOV_CASE_ROLLUP", True)
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "gridgov@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

# Demo logins are printed by `seed_demo`; production settings refuse to create them.
GRIDGOV_ALLOW_DEMO_USERS = False
