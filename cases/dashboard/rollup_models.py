"""Tables of the county rollup (cases/dashboard/rollup.py): case counts per local day, kept exact by
PostgreSQL triggers on cases_case. Rows are deltas: a trigger appends (+1 for the case as it is
now, -1 for the case as it was) and `compact` folds them; a figure is always the SUM over rows.

The count columns are the dated case measures of cases/dashboard/kpis.py (a test keeps the two in
step): `DAY_COLUMNS` are counted on the day of the measure's anchor date; `d_<key>` are the due
family counted on the day of the handling deadline; `PAIR_COLUMNS` are the due family of closed
cases keyed by (day closed, day of the deadline), the part of D that one day cannot place.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from ..choices import CaseState

DUE_COLUMNS = ("due", "due_closed", "due_closed_on_time", "due_late", "extended")
DAY_COLUMNS = (
    "reported",
    "reported_problem",
    "reported_information",
    *(f"state_{s.value}" for s in CaseState),
    "closed",
    "reworked",
    "dispatched",
    "returned",
    "accepted",
    "accepted_on_time",
    "rated",
    "satisfied",
    *(f"d_{key}" for key in DUE_COLUMNS),
)
PAIR_COLUMNS = DUE_COLUMNS


class CaseDayStat(models.Model):
    """Counts of the cases of one county child (town), 小类 and source on one local day."""

    id = models.BigAutoField(primary_key=True)
    day = models.DateField()
    county_key = models.IntegerField()  # cases.county_id (0: none)
    child_key = models.IntegerField()  # the county's child: COALESCE(town, zone, village, grid) (0: none)
    category_id = models.IntegerField()
    source = models.CharField(max_length=16)
    compacted = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("事件日统计")
        verbose_name_plural = _("事件日统计")
        indexes = [
            models.Index(fields=["county_key", "day"], name="casedaystat_county_day"),
            models.Index(fields=["day"], name="casedaystat_dirty", condition=models.Q(compacted=False)),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.county_key}/{self.child_key} {self.category_id} {self.source}"


class CaseClosePair(models.Model):
    """The due family of closed problem cases of one county child by (day closed, day of deadline)."""

    id = models.BigAutoField(primary_key=True)
    closed_day = models.DateField()
    deadline_day = models.DateField(null=True)
    county_key = models.IntegerField()
    child_key = models.IntegerField()
    compacted = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("结案期限统计")
        verbose_name_plural = _("结案期限统计")
        indexes = [
            models.Index(fields=["county_key", "closed_day"], name="closepair_county_day"),
            models.Index(fields=["closed_day"], name="closepair_dirty", condition=models.Q(compacted=False)),
        ]

    def __str__(self) -> str:
        return f"{self.closed_day} ({self.deadline_day}) {self.county_key}/{self.child_key}"


for _column in DAY_COLUMNS:
    CaseDayStat.add_to_class(_column, models.IntegerField(default=0))
for _column in PAIR_COLUMNS:
    CaseClosePair.add_to_class(_column, models.IntegerField(default=0))
