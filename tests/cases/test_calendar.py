"""The working calendar. Expected due times are computed by hand in the comments next to them
(default working hours 08:30–12:00 and 14:00–17:30 = 420 minutes a day), from the official 2026
schedule as chinesecalendar lists it (checked by test_chinesecalendar_2026_schedule_as_assumed)."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.test import RequestFactory
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from cases import calendar
from cases.calendar import CalendarError, WorkingCalendar, missing_calendar_years
from cases.choices import DayKind, LimitUnit
from cases.context_processors import calendar_warnings
from cases.forms import CalendarYearForm, parse_schedule
from cases.models import CalendarDay, CalendarYear, WorkingHours
from grids.choices import AreaLevel
from tests.factories import UserFactory, area

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_calendar")]

SH = ZoneInfo("Asia/Shanghai")
WM, WH, WD = LimitUnit.WORKING_MINUTES, LimitUnit.WORKING_HOURS, LimitUnit.WORKING_DAYS
WARNING_2027 = "2027 年节假日安排尚未录入"


def at(year, month, day, hour=0, minute=0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SH)


@pytest.fixture(autouse=True)
def package_ends_2026(monkeypatch):
    """chinesecalendar as released up to 2026 (1.11), whatever version is installed: any later
    year raises NotImplementedError exactly like the real package does for 2027."""
    real = chinese_calendar.is_workday

    def is_workday(day):
        if day.year > 2026:
            raise NotImplementedError(f"no available data for year {day.year}, only year between [2004, 2026]")
        return real(day)

    monkeypatch.setattr(chinese_calendar, "is_workday", is_workday)
    calendar.package_covers.cache_clear()
    yield
    calendar.package_covers.cache_clear()


@pytest.fixture
def cal():
    return WorkingCalendar()


# --- the package's 2026 schedule (the premise of the expectations below) ---------------------------


def test_chinesecalendar_2026_schedule_as_assumed():
    holidays = chinese_calendar.constants.holidays
    workdays = chinese_calendar.constants.workdays
    spring = [date(2026, 2, 15) + timedelta(days=i) for i in range(9)]  # 02-15 .. 02-23
    national = [date(2026, 10, 1) + timedelta(days=i) for i in range(7)]  # 10-01 .. 10-07
    mid_autumn = [date(2026, 9, 25), date(2026, 9, 26), date(2026, 9, 27)]
    assert all(d in holidays for d in spring + national + mid_autumn)
    assert date(2026, 2, 14) in workdays and date(2026, 2, 14).weekday() == 5  # Saturday
    assert date(2026, 2, 28) in workdays and date(2026, 2, 28).weekday() == 5  # Saturday
    assert date(2026, 9, 20) in workdays and date(2026, 9, 20).weekday() == 6  # Sunday
    assert date(2026, 10, 10) in workdays and date(2026, 10, 10).weekday() == 5  # Saturday
    assert date(2026, 2, 24) not in holidays and date(2026, 10, 8) not in holidays


# --- 春节 2026 ------------------------------------------------------------------------------------


def test_two_working_days_across_spring_festival_count_make_up_saturday(cal):
    # Fri 02-13 16:00 → day 1 = Sat 02-14 (调休上班), 02-15..02-23 off, day 2 = Tue 02-24.
    assert cal.due(at(2026, 2, 13, 16), 2, WD) == at(2026, 2, 24, 16)
    # Same in working minutes: Fri 90 + Sat 420 + Tue 330 (08:30–12:00 210, 14:00–16:00 120).
    assert cal.elapsed_minutes(at(2026, 2, 13, 16), at(2026, 2, 24, 16)) == 840


def test_working_hours_run_into_make_up_saturday_before_spring_festival(cal):
    # Fri 02-13 15:00–17:30 = 150; Sat 02-14 08:30–12:00 = 210 (360); 14:00 + 120 → 16:00.
    assert cal.due(at(2026, 2, 13, 15), 8, WH) == at(2026, 2, 14, 16)


def test_working_hours_skip_the_whole_spring_festival(cal):
    # Sat 02-14 17:00–17:30 = 30; 02-15..02-23 off; Tue 02-24 08:30 + 30 → 09:00.
    assert cal.due(at(2026, 2, 14, 17), 60, WM) == at(2026, 2, 24, 9)


def test_make_up_saturday_after_spring_festival(cal):
    # Fri 02-27 10:00 + 1 working day → Sat 02-28 (调休上班) 10:00.
    assert cal.due(at(2026, 2, 27, 10), 1, WD) == at(2026, 2, 28, 10)
    # Sat 02-28 10:00 + 1 working day → Sun 03-01 is an ordinary Sunday → Mon 03-02 10:00.
    assert cal.due(at(2026, 2, 28, 10), 1, WD) == at(2026, 3, 2, 10)


def test_start_during_spring_festival_begins_on_first_working_minute(cal):
    # Wed 02-18 is a holiday: counting starts Tue 02-24 08:30.
    assert cal.due(at(2026, 2, 18, 9), 1, WH) == at(2026, 2, 24, 9, 30)
    assert cal.due(at(2026, 2, 18, 9), 1, WD) == at(2026, 2, 25, 8, 30)


# --- 国庆 / 中秋 2026 ------------------------------------------------------------------------------


def test_make_up_sunday_before_national_day(cal):
    # Fri 09-18 17:00–17:30 = 30; Sat 09-19 off; Sun 09-20 (调休上班) 08:30 + 90 → 10:00.
    assert cal.due(at(2026, 9, 18, 17), 2, WH) == at(2026, 9, 20, 10)


def test_mid_autumn_festival(cal):
    # Thu 09-24 17:00–17:30 = 30; 09-25..09-27 off; Mon 09-28 08:30 + 30 → 09:00.
    assert cal.due(at(2026, 9, 24, 17), 1, WH) == at(2026, 9, 28, 9)


def test_three_working_days_across_national_day_end_on_make_up_saturday(cal):
    # Wed 09-30 14:00; 10-01..10-07 off; day 1 = Thu 10-08, day 2 = Fri 10-09,
    # day 3 = Sat 10-10 (调休上班) → same clock time 14:00.
    assert cal.due(at(2026, 9, 30, 14), 3, WD) == at(2026, 10, 10, 14)


def test_working_hours_across_national_day_stop_at_end_of_period(cal):
    # 21 working hours = 1260 min from Wed 09-30 14:00: 09-30 210; 10-08 420 (630);
    # 10-09 420 (1050); Sat 10-10 08:30–12:00 210 → exactly used up at 12:00 (earliest instant).
    assert cal.due(at(2026, 9, 30, 14), 21, WH) == at(2026, 10, 10, 12)
    assert cal.elapsed_minutes(at(2026, 9, 30, 14), at(2026, 10, 10, 14)) == 1260


def test_elapsed_over_national_day_counts_only_working_time(cal):
    # Wed 09-30 17:00 → Thu 10-08 09:00: 30 + 30.
    assert cal.elapsed_minutes(at(2026, 9, 30, 17), at(2026, 10, 8, 9)) == 60
    assert cal.elapsed_minutes(at(2026, 10, 8, 9), at(2026, 9, 30, 17)) == -60


# --- starts outside working hours, boundaries ------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "amount", "unit", "expected"),
    [
        (at(2026, 3, 3, 19), 1, WH, at(2026, 3, 4, 9, 30)),  # Tue evening → Wed 08:30 + 1 h
        (at(2026, 3, 3, 7), 1, WH, at(2026, 3, 3, 9, 30)),  # early morning → 08:30 + 1 h
        (at(2026, 3, 3, 12, 30), 1, WH, at(2026, 3, 3, 15)),  # lunch break → 14:00 + 1 h
        (at(2026, 3, 3, 12), 30, WM, at(2026, 3, 3, 14, 30)),  # 12:00 is not working time
        (at(2026, 3, 3, 11, 30), 30, WM, at(2026, 3, 3, 12)),  # ends at 12:00, not 14:00
        (at(2026, 3, 6, 16, 30), 2, WH, at(2026, 3, 9, 9, 30)),  # Fri 60 min, Mon 08:30 + 60
        (at(2026, 3, 3, 19), 1, WD, at(2026, 3, 5, 8, 30)),  # counts from Wed 08:30 → Thu 08:30
        (at(2026, 3, 3, 12, 30), 1, WD, at(2026, 3, 4, 14)),  # counts from 14:00 → Wed 14:00
        (at(2026, 3, 3, 10), 0, WD, at(2026, 3, 3, 10)),
        (at(2026, 3, 3, 19), 0, WM, at(2026, 3, 3, 19)),
    ],
)
def test_due_from_various_starts(cal, start, amount, unit, expected):
    assert cal.due(start, amount, unit) == expected


def test_fractional_working_hours_and_utc_input(cal):
    start = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    due = cal.due(start, 1.5, WH)
    assert due == at(2026, 3, 3, 11, 30)
    assert due.utcoffset() == timedelta(hours=8)


def test_invalid_input_is_rejected(cal):
    with pytest.raises(CalendarError):
        cal.due(datetime(2026, 3, 3, 10), 1, WH)  # naive
    with pytest.raises(CalendarError):
        cal.due(at(2026, 3, 3, 10), -1, WH)
    with pytest.raises(CalendarError):
        cal.due(at(2026, 3, 3, 10), 1.5, WD)
    with pytest.raises(ValueError):
        cal.due(at(2026, 3, 3, 10), 1, "fortnights")


# --- natural time ----------------------------------------------------------------------------------


def test_urgent_natural_hours_ignore_the_calendar(cal):
    assert cal.due(at(2026, 10, 1, 10), 2, LimitUnit.NATURAL_HOURS) == at(2026, 10, 1, 12)
    assert cal.due(at(2026, 2, 17, 23, 50), 30, LimitUnit.NATURAL_MINUTES) == at(2026, 2, 18, 0, 20)
    assert cal.due(at(2026, 12, 31, 23), 24, LimitUnit.NATURAL_HOURS) == at(2027, 1, 1, 23)


# --- beyond the package: 2027 ----------------------------------------------------------------------


def test_year_without_data_falls_back_to_monday_to_friday(cal):
    # Thu 2026-12-31 16:00 + 1 working day: Fri 2027-01-01 counts as a working day (no data).
    assert cal.due(at(2026, 12, 31, 16), 1, WD) == at(2027, 1, 1, 16)
    # 7 working hours: 12-31 90 min; 2027-01-01 08:30–12:00 210 (300); 14:00 + 120 → 16:00.
    assert cal.due(at(2026, 12, 31, 16), 7, WH) == at(2027, 1, 1, 16)
    # Sat/Sun off: Fri 2027-01-08 17:00 + 1 h → Mon 01-11 09:00.
    assert cal.due(at(2027, 1, 8, 17), 1, WH) == at(2027, 1, 11, 9)
    assert calendar.day_source(date(2027, 1, 1)) == calendar.DaySource.FALLBACK
    assert calendar.day_source(date(2026, 12, 31)) == calendar.DaySource.PACKAGE


@pytest.mark.parametrize(
    ("today", "missing"),
    [
        (date(2026, 12, 25), [2027]),
        (date(2026, 11, 1), [2027]),
        (date(2026, 10, 31), []),  # next year is reported only from November on
        (date(2027, 3, 1), [2027]),  # the current year always
        (date(2027, 11, 2), [2027, 2028]),
        (date(2025, 12, 1), []),  # the package covers 2026
    ],
)
def test_missing_calendar_years(today, missing):
    assert missing_calendar_years(today) == missing


def test_days_entered_by_admins_change_the_same_computation(cal):
    start = at(2026, 12, 31, 16)
    assert cal.due(start, 1, WD) == at(2027, 1, 1, 16)  # fallback, and 2027 is now cached
    # 元旦 2027-01-01 off; Sun 2027-01-03 made a working day.
    CalendarDay.objects.create(date=date(2027, 1, 1), kind=DayKind.HOLIDAY, name="元旦")
    CalendarDay.objects.create(date=date(2027, 1, 3), kind=DayKind.WORKDAY, name="元旦调休")
    # Fri 01-01 off, Sat 01-02 off, Sun 01-03 working → day 1 = Sun 01-03, same clock time.
    assert cal.due(start, 1, WD) == at(2027, 1, 3, 16)
    # 7 working hours: 12-31 90; Sun 01-03 08:30–12:00 210 (300); 14:00 + 120 → 16:00.
    assert cal.due(start, 7, WH) == at(2027, 1, 3, 16)
    assert calendar.day_source(date(2027, 1, 1)) == calendar.DaySource.ADMIN
    # Days alone do not cover the year; marking it complete does.
    assert missing_calendar_years(date(2026, 12, 25)) == [2027]
    CalendarYear.objects.filter(year=2027).update(complete=True)  # no signal: notify by hand
    calendar.notify_calendar_changed({2027})
    assert missing_calendar_years(date(2026, 12, 25)) == []


def test_admin_days_override_the_package(cal):
    # A county declares Mon 2026-03-02 a local holiday: Fri 03-06 is not affected, Mon is.
    CalendarDay.objects.create(date=date(2026, 3, 2), kind=DayKind.HOLIDAY, name="地方假日")
    assert cal.due(at(2026, 2, 28, 17), 1, WH) == at(2026, 3, 3, 9)  # Sat 30 + Tue 08:30 + 30


def test_changes_are_cached_after_commit_and_lookups_do_not_query_per_day(
    cal, django_capture_on_commit_callbacks, django_assert_num_queries
):
    start = at(2026, 6, 1, 9)
    with django_assert_num_queries(4):  # 2026 and 2027: CalendarYear + CalendarDay each
        first = cal.due(start, 200, WD)
    with django_assert_num_queries(0):
        assert cal.due(start, 200, WD) == first
        cal.elapsed_minutes(start, first)
    with django_capture_on_commit_callbacks(execute=True):
        CalendarDay.objects.create(date=date(2027, 1, 4), kind=DayKind.HOLIDAY, name="测试")
    # Mon 2027-01-04 is now off: the 200th working day moves one working day later.
    second = cal.due(start, 200, WD)
    assert second > first
    with django_assert_num_queries(0):  # cached again after the commit
        assert cal.due(start, 200, WD) == second
    assert cal.elapsed_minutes(start, second) == 200 * 420


def test_deleting_a_day_invalidates_the_cache(cal):
    day = CalendarDay.objects.create(date=date(2027, 1, 1), kind=DayKind.HOLIDAY)
    assert not calendar.is_workday(date(2027, 1, 1))
    day.delete()
    assert calendar.is_workday(date(2027, 1, 1))


def test_moving_a_day_to_another_year_notifies_both_years(django_capture_on_commit_callbacks):
    day = CalendarDay.objects.create(date=date(2027, 1, 1), kind=DayKind.HOLIDAY)
    received = []
    calendar.calendar_changed.connect(lambda sender, years, **kw: received.append(years), weak=False)
    try:
        day = CalendarDay.objects.get(pk=day.pk)
        with django_capture_on_commit_callbacks(execute=True):
            day.date = date(2028, 1, 1)
            day.save()
    finally:
        calendar.calendar_changed.receivers.pop()
    assert received[-1] == {2027, 2028}
    assert day.calendar_year_id == 2028


def test_calendar_changed_is_sent_once_after_commit_and_enqueues_the_task(
    django_capture_on_commit_callbacks, monkeypatch
):
    from cases import tasks

    sent, enqueued = [], []
    monkeypatch.setattr(tasks.recompute_deadlines_for_years, "delay", lambda years: enqueued.append(years))
    calendar.calendar_changed.connect(lambda sender, years, **kw: sent.append(years), weak=False)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            CalendarDay.objects.create(date=date(2027, 1, 1), kind=DayKind.HOLIDAY)
            CalendarDay.objects.create(date=date(2027, 1, 3), kind=DayKind.WORKDAY)
            CalendarYear.objects.create(year=2028)
            assert sent == [] and enqueued == []  # nothing before commit
    finally:
        calendar.calendar_changed.receivers.pop()
    assert sent == [{2027, 2028}]
    assert enqueued == [[2027, 2028]]


# --- warnings in the admin -------------------------------------------------------------------------


def test_admin_index_warns_about_missing_year_until_marked_complete(client):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    with time_machine.travel(datetime(2026, 12, 25, 10, tzinfo=SH), tick=False):
        client.force_login(admin)  # inside the travel: sessions expire after two weeks
        page = client.get("/admin/").content.decode()
        assert WARNING_2027 in page
        assert "/admin/cases/calendaryear/add/?year=2027" in page
        CalendarDay.objects.create(date=date(2027, 1, 1), kind=DayKind.HOLIDAY, name="元旦")
        assert WARNING_2027 in client.get("/admin/").content.decode()  # days alone are partial
        year = CalendarYear.objects.get(year=2027)
        year.complete = True
        year.save()
        assert WARNING_2027 not in client.get("/admin/").content.decode()


def test_admin_index_shows_no_warning_before_november(client):
    with time_machine.travel(datetime(2026, 10, 20, 10, tzinfo=SH), tick=False):
        client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
        page = client.get("/admin/").content.decode()
    assert "年节假日安排尚未录入" not in page


def test_context_processor_only_for_staff():
    request = RequestFactory().get("/")
    request.user = UserFactory(username="plain")
    assert calendar_warnings(request) == {}
    request.user = UserFactory(username="staff", is_staff=True)
    with time_machine.travel(datetime(2026, 12, 25, 10, tzinfo=SH), tick=False):
        warnings = calendar_warnings(request)["calendar_warnings"]
    assert [str(w) for w in warnings] == [WARNING_2027]


# --- per-area working hours ------------------------------------------------------------------------


def test_working_hours_per_area_nearest_ancestor_wins():
    county = area("330127", "淳安县", AreaLevel.COUNTY)
    town = area("330127100", "千岛湖镇", AreaLevel.TOWN, county)
    other = area("330128", "建德市", AreaLevel.COUNTY)
    assert WorkingCalendar.for_area(town).periods == calendar.DEFAULT_PERIODS
    WorkingHours.objects.create(
        area=county,
        morning_start=time(9),
        morning_end=time(12),
        afternoon_start=time(13, 30),
        afternoon_end=time(17),
    )
    WorkingHours.objects.create(morning_start=time(8))  # the default row: 08:00–12:00, 14:00–17:30
    town_calendar = WorkingCalendar.for_area(town)
    assert town_calendar.daily_minutes == 390  # 180 + 210
    # Tue 2026-03-03 11:00 + 2 working hours: 60 until 12:00, 13:30 + 60 → 14:30.
    assert town_calendar.due(at(2026, 3, 3, 11), 2, WH) == at(2026, 3, 3, 14, 30)
    assert WorkingCalendar.for_area(other).periods == ((time(8), time(12)), (time(14), time(17, 30)))
    assert calendar.default_calendar().daily_minutes == 450


def test_only_one_default_working_hours_row():
    WorkingHours.objects.create()
    duplicate = WorkingHours()
    with pytest.raises(ValidationError):
        duplicate.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkingHours.objects.create()


def test_working_hours_must_be_ordered():
    with pytest.raises(ValidationError):
        WorkingHours(morning_start=time(12), morning_end=time(8, 30)).full_clean()


# --- property-based --------------------------------------------------------------------------------

PROPERTY_SETTINGS = hsettings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
instants = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31, 23, 59, 59)).map(
    lambda naive: naive.replace(tzinfo=SH)
)
working_minutes = st.integers(min_value=0, max_value=420 * 40)


@PROPERTY_SETTINGS
@given(start=instants, minutes=working_minutes)
def test_elapsed_is_the_inverse_of_due(start, minutes):
    cal = WorkingCalendar()
    due = cal.due(start, minutes, WM)
    assert due >= start
    assert cal.elapsed_minutes(start, due) == minutes
    if minutes:
        # the earliest such instant: one second earlier is not enough
        assert cal.working_time_between(start, due - timedelta(seconds=1)) < timedelta(minutes=minutes)


@PROPERTY_SETTINGS
@given(start=instants, days=st.integers(min_value=0, max_value=40))
def test_working_days_are_days_times_daily_minutes(start, days):
    cal = WorkingCalendar()
    due = cal.due(start, days, WD)
    assert cal.elapsed_minutes(start, due) == days * 420
    if days:
        assert cal.is_working_time(due)


@PROPERTY_SETTINGS
@given(start=instants, a=st.integers(0, 60 * 24 * 90), b=st.integers(0, 60 * 24 * 90))
def test_elapsed_is_monotonic_and_additive(start, a, b):
    cal = WorkingCalendar()
    t1 = start + timedelta(minutes=min(a, b))
    t2 = start + timedelta(minutes=max(a, b))
    assert cal.elapsed_minutes(start, t1) <= cal.elapsed_minutes(start, t2)
    assert cal.working_time_between(start, t1) + cal.working_time_between(t1, t2) == cal.working_time_between(start, t2)
    assert cal.due(start, min(a, b) // 4, WM) <= cal.due(start, max(a, b) // 4, WM)


# --- the year-schedule form and the import command -------------------------------------------------

SCHEDULE_2027 = """
元旦 2027-01-01 2027-01-03 休
春节 2027-02-06 2027-02-13 休
春节调休 2027-02-14 班
"""


def test_year_schedule_form_creates_the_days():
    form = CalendarYearForm(data={"year": 2027, "complete": True, "note": "国办发明电", "schedule": SCHEDULE_2027})
    assert form.is_valid(), form.errors
    form.save()
    days = dict(CalendarDay.objects.values_list("date", "kind"))
    assert len(days) == 3 + 8 + 1
    assert days[date(2027, 1, 3)] == DayKind.HOLIDAY
    assert days[date(2027, 2, 13)] == DayKind.HOLIDAY
    assert days[date(2027, 2, 14)] == DayKind.WORKDAY
    assert CalendarDay.objects.get(date=date(2027, 2, 14)).name == "春节调休"
    assert CalendarYear.objects.get(year=2027).complete
    assert missing_calendar_years(date(2026, 12, 25)) == []


def test_year_schedule_form_reports_line_numbers_and_creates_nothing():
    text = "元旦 2027-01-01 2027-01-03 休\n春节 2027-02-30 休\n春节调休 2027-02-14\n"
    form = CalendarYearForm(data={"year": 2027, "schedule": text})
    assert not form.is_valid()
    errors = form.errors["schedule"]
    assert any(e.startswith("第 2 行") and "2027-02-30" in e for e in errors)
    assert any(e.startswith("第 3 行") and "类型" in e for e in errors)
    assert not CalendarDay.objects.exists()
    assert not CalendarYear.objects.exists()


def test_year_schedule_via_admin_is_all_or_nothing(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    data = {
        "year": "2027",
        "note": "",
        "schedule": SCHEDULE_2027 + "国庆 2026-10-01 2026-10-07 休\n",
        "days-TOTAL_FORMS": "0",
        "days-INITIAL_FORMS": "0",
        "days-MIN_NUM_FORMS": "0",
        "days-MAX_NUM_FORMS": "1000",
    }
    response = client.post("/admin/cases/calendaryear/add/", data)
    assert response.status_code == 200
    assert "第 5 行：日期不在 2027 年内" in response.content.decode()
    assert not CalendarDay.objects.exists() and not CalendarYear.objects.exists()
    data["schedule"] = SCHEDULE_2027
    response = client.post("/admin/cases/calendaryear/add/", data)
    assert response.status_code == 302
    assert CalendarDay.objects.filter(calendar_year_id=2027).count() == 12
    year = CalendarYear.objects.get(year=2027)
    page = client.get(f"/admin/cases/calendaryear/{year.pk}/change/").content.decode()
    assert "春节调休" in page  # the inline lists the days
    for url in ("/admin/cases/calendaryear/", "/admin/cases/calendarday/", "/admin/cases/workinghours/"):
        assert client.get(url).status_code == 200


def test_days_inline_and_day_admin(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    year = CalendarYear.objects.create(year=2027)
    url = f"/admin/cases/calendaryear/{year.pk}/change/"
    data = {
        "note": "",
        "schedule": "",
        "days-TOTAL_FORMS": "1",
        "days-INITIAL_FORMS": "0",
        "days-MIN_NUM_FORMS": "0",
        "days-MAX_NUM_FORMS": "1000",
        "days-0-date": "2026-10-01",
        "days-0-kind": DayKind.HOLIDAY,
        "days-0-name": "国庆",
    }
    response = client.post(url, data)
    assert response.status_code == 200
    assert "不属于 2027 年" in response.content.decode()
    data["days-0-date"] = "2027-10-01"
    assert client.post(url, data).status_code == 302
    assert CalendarDay.objects.get(date=date(2027, 10, 1)).calendar_year_id == 2027
    response = client.post(
        "/admin/cases/calendarday/add/", {"date": "2028-01-01", "kind": DayKind.HOLIDAY, "name": "元旦"}
    )
    assert response.status_code == 302
    assert CalendarDay.objects.get(date=date(2028, 1, 1)).calendar_year.complete is False
    assert client.get("/admin/cases/calendarday/?calendar_year__year__exact=2027").status_code == 200


def test_replace_deletes_days_not_in_the_input():
    CalendarDay.objects.create(date=date(2027, 5, 6), kind=DayKind.HOLIDAY, name="错录")
    CalendarDay.objects.create(date=date(2026, 5, 6), kind=DayKind.HOLIDAY, name="另一年")
    form = CalendarYearForm(
        data={"schedule": SCHEDULE_2027, "replace_days": "on"}, instance=CalendarYear.objects.get(year=2027)
    )
    assert form.is_valid(), form.errors
    form.save()
    assert not CalendarDay.objects.filter(date=date(2027, 5, 6)).exists()
    assert CalendarDay.objects.filter(date=date(2026, 5, 6)).exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("元旦 2027-01-03 2027-01-01 休", "第 1 行：结束日期"),
        ("\n\n元旦 2027-01-01 2027-03-01 休", "第 3 行：日期范围超过"),
        ("元旦 2027-01-01 休\n元旦 2027-01-01 班", "第 2 行：日期 2027-01-01 与第 1 行重复"),
        ("元旦 2026-01-01 休", "第 1 行：日期不在 2027 年内"),
        ("元旦 休", "第 1 行：缺少日期"),
        ("元旦 2027-01-01 休 班", "第 1 行：类型只能写一个"),
    ],
)
def test_schedule_parser_errors(text, message):
    with pytest.raises(ValidationError) as excinfo:
        parse_schedule(text, year=2027)
    assert any(m.startswith(message) for m in excinfo.value.messages), excinfo.value.messages


def test_schedule_parser_accepts_csv_columns_and_other_spellings():
    text = "date,kind,name\n2027-10-09,workday,国庆节调休\n# comment\n2027/1/1~2027/1/2 放假\n20270214，班"
    entries = parse_schedule(text)
    assert [(e.date, e.kind, e.name, e.line) for e in entries] == [
        (date(2027, 10, 9), DayKind.WORKDAY, "国庆节调休", 2),
        (date(2027, 1, 1), DayKind.HOLIDAY, "", 4),
        (date(2027, 1, 2), DayKind.HOLIDAY, "", 4),
        (date(2027, 2, 14), DayKind.WORKDAY, "", 5),
    ]


def test_import_calendar_command(tmp_path):
    path = tmp_path / "2027.csv"
    path.write_bytes("date,kind,name\n2027-01-01,holiday,元旦\n2027-01-03,workday,元旦调休\n".encode("gb18030"))
    call_command("import_calendar", str(path), year=2027, complete=True)
    assert dict(CalendarDay.objects.values_list("date", "name")) == {
        date(2027, 1, 1): "元旦",
        date(2027, 1, 3): "元旦调休",
    }
    assert CalendarYear.objects.get(year=2027).complete
    assert missing_calendar_years(date(2027, 3, 1)) == []


def test_import_calendar_command_is_all_or_nothing(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("元旦 2027-01-01 2027-01-03 休\n春节 2027-13-01 休\n", encoding="utf-8")
    with pytest.raises(CommandError, match="第 2 行"):
        call_command("import_calendar", str(path), "--complete")
    assert not CalendarDay.objects.exists() and not CalendarYear.objects.exists()
