from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from kombu import Connection


def _check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return {"ok": True, "vendor": connection.vendor}
    except Exception as exc:  # report, never raise: this is the health endpoint
        return {"ok": False, "vendor": connection.vendor, "error": str(exc)[:200]}


def _check_broker() -> dict:
    url = settings.CELERY_BROKER_URL
    transport = url.split("://", 1)[0]
    try:
        with Connection(url, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return {"ok": True, "transport": transport}
    except Exception as exc:
        return {"ok": False, "transport": transport, "error": str(exc)[:200]}


def _check_rollup() -> dict | None:
    from cases.dashboard import rollup

    try:
        return rollup.backlog()
    except Exception as exc:
        return {"ok": False, "error": str(exc)[:200]}


def healthz(request):
    """Liveness and readiness: the database and the Celery broker must both answer (else 503).
    The dashboard rollup (PostgreSQL) is reported too: triggers missing or a compaction backlog
    make the status "degraded" (still 200: pages stay exact, only slower)."""
    checks = {"database": _check_database(), "broker": _check_broker()}
    ok = all(c["ok"] for c in checks.values())
    rollup = _check_rollup() if checks["database"]["ok"] else None
    status = "error" if not ok else "degraded" if rollup is not None and not rollup["ok"] else "ok"
    if rollup is not None:
        checks["dashboard_rollup"] = rollup
    return JsonResponse({"status": status, **checks}, status=200 if ok else 503)
