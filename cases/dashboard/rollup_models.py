"""Tables of the dashboard rollup (cases/dashboard/rollup.py): case counts per local day, kept exact by
PostgreSQL triggers on cases_case. Rows are deltas: a trigger appends (+1 for the case as it is
now, -1 for the case as it was) and `compact` folds them; a figure is always the SUM over rows.

The count columns are the dated case measures of cases/dashboard/kpis.py (a test keeps the two in
step): `DAY_COLUMNS` are counted on the day of the measure's anchor date; `d_<key>` are the due
family counted on the day of the handling deadline; `PAIR_COLUMNS` are the due family of closed
cases keyed by (day closed, day of the deadline) as well, the part of D that one day cannot place;
`OPEN_COLUMNS` are the snapshot counts that do not read the clock, with no day at all.
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
OPEN_COLUMNS = ("open", "overdue", "supervised")

# Grains: which of (child, 小类, source) a row is kept by, as GROUPING(child_key, category_id,
# source) numbers them (a bit set: that key summed away, its column 0 or ''). A page without a
# 小类/source filter reads the CHILD, CATEGORY and SOURCE rows (a county's 30 days: ~5k rows
# instead of ~50k cells); a filtered page reads the CELL rows.
GRAIN_CELL = 0b000
GRAIN_CHILD = 0b011
GRAIN_CATEGORY = 0b101
GRAIN_SOURCE = 0b110


class CaseDayStat(models.Model):
    """Counts of the cases of one child of a county or town node, 小类 and source on one local day."""

    id = models.BigAutoField(primary_key=True)
    day = models.DateField()
    grain = models.SmallIntegerField(default=GRAIN_CELL)
    node_key = models.IntegerField()  # the county or town counted under (rollup.NODES)
    child_key = models.IntegerField()  # the node's child the case is under (0: none, the node itself)
    category_id = models.IntegerField()
    source = models.CharField(max_length=16)
    compacted = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("事件日统计")
        verbose_name_plural = _("事件日统计")
        indexes = [
            # a page reads (node, days); compaction finds each key (the same index, all of it)
            models.Index(
                fields=["node_key", "grain", "day", "child_key", "category_id", "source"], name="casedaystat_grain_key"
            ),
            models.Index(fields=["day"], name="casedaystat_dirty", condition=models.Q(compacted=False)),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.node_key}/{self.child_key} {self.category_id} {self.source}"


class CaseClosePair(models.Model):
    """The due family of closed problem cases of one child of a node, 小类 and source by (day closed,
    day of deadline)."""

    id = models.BigAutoField(primary_key=True)
    closed_day = models.DateField()
    deadline_day = models.DateField(null=True)
    grain = models.SmallIntegerField(default=GRAIN_CELL)  # CELL or CHILD (the due family is per child)
    node_key = models.IntegerField()
    child_key = models.IntegerField()
    category_id = models.IntegerField()
    source = models.CharField(max_length=16)
    compacted = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("结案期限统计")
        verbose_name_plural = _("结案期限统计")
        indexes = [
            models.Index(
                fields=["node_key", "grain", "closed_day", "child_key", "category_id", "source"],
                name="closepair_grain_key",
            ),
            models.Index(fields=["closed_day"], name="closepair_dirty", condition=models.Q(compacted=False)),
        ]

    def __str__(self) -> str:
        return f"{self.closed_day} ({self.deadline_day}) {self.node_key}/{self.child_key}"


class CaseOpenStat(models.Model):
    """The snapshot counts that do not move with the clock (open, overdue, supervised) of one child
    of a node, 小类 and source, now."""

    id = models.BigAutoField(primary_key=True)
    grain = models.SmallIntegerField(default=GRAIN_CELL)
    node_key = models.IntegerField()
    child_key = models.IntegerField()
    category_id = models.IntegerField()
    source = models.CharField(max_length=16)
    compacted = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("在办事件统计")
        verbose_name_plural = _("在办事件统计")
        indexes = [
            models.Index(fields=["node_key", "grain", "child_key", "category_id", "source"], name="openstat_grain_key")
        ]

    def __str__(self) -> str:
        return f"{self.node_key}/{self.child_key} {self.category_id} {self.source}"


class HouseholdStat(models.Model):
    """Active households of one child of a county or town node by the date of their latest visit
    (none: never visited), kept from grids_household (Household.last_visited_on is itself kept
    from the visits): the households are the sum over every row, those visited in a period that
    ends today the sum over the rows whose date is in it."""

    id = models.BigAutoField(primary_key=True)
    node_key = models.IntegerField()
    child_key = models.IntegerField()
    last_visit_day = models.DateField(null=True)
    households = models.IntegerField(default=0)
    compacted = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("户数统计")
        verbose_name_plural = _("户数统计")
        indexes = [
            models.Index(fields=["node_key", "child_key", "last_visit_day"], name="householdstat_key"),
            models.Index(fields=["node_key"], name="householdstat_dirty", condition=models.Q(compacted=False)),
        ]

    def __str__(self) -> str:
        return f"{self.node_key}/{self.child_key} {self.last_visit_day}: {self.households}"


for _column in DAY_COLUMNS:
    CaseDayStat.add_to_class(_column, models.IntegerField(default=0))
for _column in PAIR_COLUMNS:
    CaseClosePair.add_to_class(_column, models.IntegerField(default=0))
for _column in OPEN_COLUMNS:
    CaseOpenStat.add_to_class(_column, models.IntegerField(default=0))
