"""The rule engine, in memory: who is assessed (subjects), which facts reach which subject under
each rule, and the monthly caps. No writes here; `services.compute_month` loads the facts (one
grouped query per measure over the whole county), runs this and writes the result in bulk."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from grids.choices import GRID_LEVELS, PATH_COLUMN

from .choices import KIND_ROLE, PERSON_KINDS, UNIT_LEVELS, SubjectKind
from .measures import HOLDER_LEVELS, Context, Fact, Match, Measure

K = SubjectKind
ROLE_KIND = {role: kind for kind, role in KIND_ROLE.items()}
ZERO = Decimal("0")


@dataclass(frozen=True, slots=True)
class Subject:
    key: str
    kind: str
    area_id: int
    user_id: int | None = None
    department_id: int | None = None


def load_subjects(ctx: Context, kinds: Iterable[str]) -> list[Subject]:
    """Everybody and everything assessed this month under the given kinds: active posts of active
    users in active areas/departments, active grids/zones/towns, active departments."""
    from staff.models import Post

    kinds = set(kinds)
    tree, depts = ctx.tree, ctx.departments
    subjects: dict[str, Subject] = {}
    roles = [KIND_ROLE[k] for k in PERSON_KINDS if k in kinds]
    if roles:
        posts = (
            Post.objects.active()
            .filter(role__in=roles, user__is_active=True)
            .order_by("user_id", "role", "area_id", "department_id")
            .values_list("user_id", "role", "area_id", "department_id")
        )
        for user_id, role, area_id, department_id in posts:
            kind = ROLE_KIND[role]
            if area_id:
                if not tree.is_active(area_id):
                    continue
                if kind in (K.GRID_WORKER, K.GRID_CHIEF) and tree.level(area_id) not in GRID_LEVELS:
                    continue
                key = f"{kind}:u{user_id}:a{area_id}"
                subjects[key] = Subject(key, kind, area_id, user_id=user_id)
            elif department_id:
                row = depts.rows.get(department_id)
                if not row or not row[2]:
                    continue
                key = f"{kind}:u{user_id}:d{department_id}"
                subjects[key] = Subject(key, kind, row[1], user_id=user_id, department_id=department_id)
    for kind, levels in UNIT_LEVELS.items():
        if kind not in kinds:
            continue
        for area_id, (_parent, level, _name, active) in tree.nodes.items():
            if active and level in levels:
                key = f"{kind}:a{area_id}"
                subjects[key] = Subject(key, kind, area_id)
    if K.DEPARTMENT in kinds:
        for department_id, (_name, area_id, active) in depts.rows.items():
            if active:
                key = f"{K.DEPARTMENT}:d{department_id}"
                subjects[key] = Subject(key, K.DEPARTMENT, area_id, department_id=department_id)
    return sorted(subjects.values(), key=lambda s: s.key)


class Matcher:
    """Which subjects of a kind a fact reaches under a measure's matching (see measures.py).
    Indexes built once; results cached per distinct (kind, anchor)."""

    def __init__(self, ctx: Context, subjects: list[Subject]) -> None:
        self.tree = ctx.tree
        self.depts = ctx.departments
        self.by_area: dict[tuple, list[Subject]] = defaultdict(list)
        self.by_user: dict[tuple, list[Subject]] = defaultdict(list)
        self.by_dept: dict[tuple, list[Subject]] = defaultdict(list)
        for s in subjects:
            if s.department_id is not None:
                self.by_dept[(s.kind, s.department_id)].append(s)
            else:
                self.by_area[(s.kind, s.area_id)].append(s)
            if s.user_id is not None:
                self.by_user[(s.kind, s.user_id)].append(s)
        self._cache: dict[tuple, tuple[Subject, ...]] = {}

    def _above(self, kind: str, area_id: int | None) -> tuple[Subject, ...]:
        """Subjects of `kind` indexed at the area or any area above it."""
        key = ("above", kind, area_id)
        found = self._cache.get(key)
        if found is None:
            found = tuple(s for a in self.tree.ancestors(area_id) for s in self.by_area.get((kind, a), ()))
            self._cache[key] = found
        return found

    def match(self, fact: Fact, kind: str, measure: Measure) -> tuple[Subject, ...]:
        mode = measure.person_match if kind in PERSON_KINDS else measure.unit_match
        if mode == Match.PLACE:
            if kind in (K.DEPARTMENT_STAFF, K.DEPARTMENT):
                return ()
            return self._above(kind, fact.place_id)
        if mode == Match.HOLDER:
            return self._holder(fact, kind)
        return self._person(fact, kind)

    def _holder(self, fact: Fact, kind: str) -> tuple[Subject, ...]:
        if kind in (K.DEPARTMENT_STAFF, K.DEPARTMENT):
            if fact.holder_department_id is None:
                return ()
            return tuple(self.by_dept.get((kind, fact.holder_department_id), ()))
        if kind == K.GRID_WORKER:
            return ()  # grid workers report and verify; they never hold a case
        if kind in HOLDER_LEVELS:
            if fact.holder_area_id is None or self.tree.level(fact.holder_area_id) not in HOLDER_LEVELS[kind]:
                return ()
            return self._above(kind, fact.holder_area_id)
        # Area units: everything held inside the unit (a department counts where it is attached).
        anchor = fact.holder_area_id or self.depts.area_of(fact.holder_department_id)
        if anchor is None:
            return ()
        return self._above(kind, anchor)

    def _person(self, fact: Fact, kind: str) -> tuple[Subject, ...]:
        if fact.user_id is None:
            return ()
        candidates = self.by_user.get((kind, fact.user_id), ())
        if not candidates:
            return ()
        if kind == K.DEPARTMENT_STAFF:
            return tuple(s for s in candidates if s.department_id == fact.holder_department_id)
        path = self.tree.ancestors(fact.place_id)
        return tuple(s for s in candidates if s.area_id in path)


@dataclass(slots=True)
class LineRow:
    rule: object  # assessment.models.Rule
    fact: Fact
    points: Decimal = ZERO
    capped: bool = False
    voided: bool = False

    @property
    def key(self) -> str:
        return line_key(self.rule.code, self.fact)


def line_key(rule_code: str, fact: Fact) -> str:
    return f"{rule_code}:{fact.ref}"


def fact_order(fact: Fact) -> tuple:
    return (fact.occurred_on, fact.source_model, fact.source_id)


def allocate(rows: list, raw_of, cap: Decimal | None) -> None:
    """Apply one rule's monthly cap to its lines of one subject, in order (oldest first): each line
    counts its full value until the cap is reached, the line that reaches it counts the rest,
    later lines count 0 (`capped`). Voided lines count 0 and use none of the cap.
    `rows` have .points/.capped/.voided; `raw_of(row)` is the rule's value for the row."""
    remaining = abs(cap) if cap is not None else None
    for row in rows:
        raw = raw_of(row)
        row.capped = False
        if row.voided:
            row.points = ZERO
            continue
        if remaining is None or abs(raw) <= remaining:
            row.points = raw
            if remaining is not None:
                remaining -= abs(raw)
        else:
            row.points = remaining if raw > 0 else -remaining
            row.capped = True
            remaining = ZERO


def build_lines(
    ctx: Context,
    rules: list,
    subjects: list[Subject],
    facts: dict[str, list[Fact]],
    measures: dict[str, Measure],
    voided: set[tuple[str, str]],
) -> dict[str, list[LineRow]]:
    """Lines per subject key, in rule order then fact order, caps applied."""
    matcher = Matcher(ctx, subjects)
    lines: dict[str, list[LineRow]] = defaultdict(list)
    voided_subjects = {subject_key for subject_key, _key in voided}
    for rule in rules:
        measure = measures[rule.measure]
        per_subject: dict[str, list[LineRow]] = defaultdict(list)
        for fact in facts[rule.measure]:
            for subject in matcher.match(fact, rule.subject_kind, measure):
                row = LineRow(rule, fact)
                if subject.key in voided_subjects and (subject.key, row.key) in voided:
                    row.voided = True
                per_subject[subject.key].append(row)
        for subject_key, rows in per_subject.items():
            allocate(rows, lambda row: row.rule.points, rule.cap)
            lines[subject_key].extend(rows)
    return lines


def path_of(ctx: Context, area_id: int) -> dict[str, int | None]:
    """Denormalised ancestor ids (county … grid) of an area, from the in-memory tree."""
    path: dict[str, int | None] = dict.fromkeys(("county", "town", "zone", "village", "grid"))
    for node in ctx.tree.ancestors(area_id):  # nearest first: the nearest of a column wins
        column = PATH_COLUMN.get(ctx.tree.level(node))
        if column and path[column] is None:
            path[column] = node
    return path


def sums(points: Iterable[Decimal]) -> tuple[Decimal, Decimal]:
    """(deductions ≤ 0, bonuses ≥ 0)."""
    deductions = bonuses = ZERO
    for p in points:
        if p < 0:
            deductions += p
        else:
            bonuses += p
    return deductions, bonuses
