"""Benchmark: one county month of the 千分制 assessment on PostgreSQL.

Hooked into bench/run.py as `from bench.assessment import run as assessment; assessment(bench)`.
Everything happens inside one transaction that is rolled back, so the bench database is left as
it was: the month with the most cases is picked; when it holds fewer than TARGET_CASES, the
missing cases are generated for it with gridgov.demo_cases (the same generator as `seed_demo
--cases`); the month's reporting-compliance rows are recorded from the cases (as the nightly task
would have); then the month is computed twice — first computation, then a recomputation, which
must give the same lines and totals. Target: under 60 s for ≈2,500 people and ≈150k cases.
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import time

# The month's case count the benchmark tops up to (BENCH_ASSESSMENT_CASES to try other scales).
TARGET_CASES = int(os.environ.get("BENCH_ASSESSMENT_CASES", "150000"))
TARGET_SECONDS = 60


class _Rollback(Exception):
    pass


def _busiest_month():
    from django.db.models import Count
    from django.db.models.functions import TruncMonth

    from assessment.periods import Period
    from cases.models import Case

    row = (
        Case.objects.annotate(m=TruncMonth("created_at"))
        .values("m")
        .annotate(n=Count("id"))
        .order_by("-n", "-m")
        .first()
    )
    if row is None:
        return Period.current().previous(), 0
    return Period.of(row["m"].date() if isinstance(row["m"], dt.datetime) else row["m"]), row["n"]


def _fill(period, missing: int, log) -> str:
    """Generate `missing` cases inside `period` (ending at its end, or now for the current month)."""
    from django.utils import timezone

    from gridgov.demo_cases import CaseHistoryBuilder

    now = min(timezone.now(), period.end - dt.timedelta(seconds=1))
    days = max(1, (now.date() - period.first_day).days + 1)
    start = time.perf_counter()
    stats = CaseHistoryBuilder(count=missing, seed=7, now=now, days=days, log=lambda *a, **k: None).build()
    log(f"generated {stats['cases']:,} cases, {stats['events']:,} events in {time.perf_counter() - start:.0f} s")
    return f"{stats['cases']:,} of them generated for the benchmark (rolled back)"


def _record_compliance(period) -> int:
    from cases.models import GridDayCompliance
    from cases.periodic import record_compliance

    last = min(period.last_day, dt.date.today() - dt.timedelta(days=1))
    for day in period.days():
        if day <= last and not GridDayCompliance.objects.filter(day=day).exists():
            record_compliance(day)
    return GridDayCompliance.objects.filter(day__gte=period.first_day, day__lte=period.last_day).count()


def _snapshot(period) -> tuple:
    from django.db.models import Count, Sum

    from assessment.models import Score

    return tuple(
        Score.objects.filter(period__month=period.month)
        .aggregate(n=Count("id"), total=Sum("total"), lines=Sum("line_count"))
        .values()
    )


def run(bench, log=print) -> None:
    from django.db import transaction

    from assessment import services
    from assessment.choices import PERSON_KINDS
    from assessment.models import Score
    from cases.models import Case

    try:
        with transaction.atomic():
            period, cases = _busiest_month()
            notes = []
            if cases < TARGET_CASES:
                notes.append(_fill(period, TARGET_CASES - cases, log))
            cases = Case.objects.filter(created_at__gte=period.start, created_at__lt=period.end).count()
            grid_days = _record_compliance(period)
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            timings, snapshots, phases = [], [], []
            for _ in range(2):
                start = time.perf_counter()
                result = services.compute_month(period)
                timings.append(time.perf_counter() - start)
                snapshots.append(_snapshot(period))
                phases.append(", ".join(f"{k} {v / 1000:.1f}" for k, v in result.phases.items()))
            rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            people = Score.objects.filter(period__month=period.month, subject_kind__in=PERSON_KINDS).count()
            units = result.subjects - people
            same = "identical" if snapshots[0] == snapshots[1] else f"DIFFERENT {snapshots}"
            rss = (rss_after - rss_before) // 1024
            notes.append(f"{grid_days:,} grid-day rows; recompute {same}; peak RSS +{rss} MB")
            notes.append(f"phases (s) first: {phases[0]}; recompute: {phases[1]}")
            bench.add(
                f"assessment: county month {period.key} ({people:,} people + {units:,} units, {cases:,} cases, "
                f"{result.lines:,} lines)",
                f"compute {timings[0]:.1f} s, recompute {timings[1]:.1f} s",
                f"≤ {TARGET_SECONDS} s",
                "; ".join(notes),
            )
            raise _Rollback
    except _Rollback:
        pass


if __name__ == "__main__":  # pragma: no cover - `python -m bench.assessment` runs it alone
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/gridgov_bench")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridgov.settings.dev")
    os.environ.setdefault("DEBUG", "false")
    import django

    django.setup()

    class _Print:
        def add(self, name, figure, target="", note=""):
            print(f"{name}: {figure}  {target}  {note}")

    run(_Print())
