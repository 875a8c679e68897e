"""Assessment months: the first day of the month in the database, "YYYY-MM" in URLs and commands,
[start, end) as aware datetimes in the project's time zone for event times."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

_MONTH_RE = re.compile(r"^(\d{4})-(\d{1,2})$")


@dataclass(frozen=True, order=True)
class Period:
    month: dt.date  # always the first day

    @classmethod
    def of(cls, day: dt.date) -> Period:
        return cls(day.replace(day=1))

    @classmethod
    def parse(cls, text: str) -> Period:
        """'2026-11' → Period(2026-11-01); ValueError with a Chinese message otherwise."""
        match = _MONTH_RE.match((text or "").strip())
        if not match or not (1 <= int(match.group(2)) <= 12) or not (2000 <= int(match.group(1)) <= 2100):
            raise ValueError(_("月份格式应为 YYYY-MM，例如 2026-11"))
        return cls(dt.date(int(match.group(1)), int(match.group(2)), 1))

    @classmethod
    def current(cls, now: dt.datetime | None = None) -> Period:
        return cls.of(timezone.localdate(now or timezone.now()))

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(settings.TIME_ZONE)

    @property
    def first_day(self) -> dt.date:
        return self.month

    @property
    def last_day(self) -> dt.date:
        return self.next().month - dt.timedelta(days=1)

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.month, dt.time.min, tzinfo=self.tz)

    @property
    def end(self) -> dt.datetime:
        return self.next().start

    def next(self) -> Period:
        y, m = self.month.year, self.month.month
        return Period(dt.date(y + (m == 12), m % 12 + 1, 1))

    def previous(self) -> Period:
        y, m = self.month.year, self.month.month
        return Period(dt.date(y - (m == 1), (m - 2) % 12 + 1, 1))

    def days(self) -> list[dt.date]:
        return [self.month + dt.timedelta(days=i) for i in range(self.last_day.day)]

    @property
    def key(self) -> str:
        return f"{self.month:%Y-%m}"

    @property
    def label(self) -> str:
        return _("%(y)d年%(m)d月") % {"y": self.month.year, "m": self.month.month}

    def __str__(self) -> str:
        return self.key
