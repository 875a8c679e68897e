"""Data in and out: the area tree and households/residents as CSV or XLSX tables.

The management commands (`import_areas`, `export_areas`, `import_households`,
`export_households`) are thin wrappers around this module; every rule lives here.

Imports are all-or-nothing. The whole file is read and validated first, every problem collected
with its line number (header = line 1, so the first data row is line 2); only a file without a
single error is written, in one transaction under the area tree lock. Rows are matched by their
codes, so re-importing a file is idempotent: identical rows are counted as unchanged and nothing
is written for them.

Exports write the same columns the imports read. The household export masks ID numbers and
phones by default so it can be handed around; a masked file cannot be re-imported (the masked
values fail validation) — re-importing needs the raw export (`include_raw=True`,
`--include-id-numbers` on the command line).
"""

from __future__ import annotations

import csv
import io
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple, TextIO

from django.core.exceptions import ValidationError
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov import pii

from .choices import GRID_LEVELS, LEVEL_RANK, AreaLevel, Relation
from .models import Area, Household, Resident, Tag
from .paths import PATH_FIELDS, PathCache, refresh_paths_below
from .rules import code_rule_error, level_order_error
from .tree import tree_write_lock

BATCH_SIZE = 1000
TAG_SEPARATORS = (";", "；")

AREA_COLUMNS = ("code", "name", "level", "parent_code")
HOUSEHOLD_COLUMNS = (
    "household_code",
    "area_code",
    "address",
    "household_tags",
    "name",
    "id_number",
    "phone",
    "relation",
    "resident_tags",
)

# Header aliases (compared case-insensitively, surrounding blanks ignored).
AREA_HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "code": ("code", "编码", "区域编码"),
    "name": ("name", "名称", "区域名称"),
    "level": ("level", "层级"),
    "parent_code": ("parent_code", "parent", "上级编码"),
}
HOUSEHOLD_HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "household_code": ("household_code", "户编号", "户编码"),
    "area_code": ("area_code", "区域编码", "所属区域编码", "所属区域"),
    "address": ("address", "地址"),
    "household_tags": ("household_tags", "户标签"),
    "name": ("name", "姓名"),
    "id_number": ("id_number", "身份证号", "身份证号码"),
    "phone": ("phone", "电话", "联系电话"),
    "relation": ("relation", "与户主关系", "关系"),
    "resident_tags": ("resident_tags", "居民标签", "人员标签"),
}
HOUSEHOLD_REQUIRED = ("household_code", "area_code", "address", "name")

# Spellings accepted besides the internal values and the labels of AreaLevel / Relation.
LEVEL_ALIASES: dict[str, str] = {
    "县": AreaLevel.COUNTY,
    "镇/街道": AreaLevel.TOWN,
    "镇/乡/街道": AreaLevel.TOWN,
    "乡/镇/街道": AreaLevel.TOWN,
    "乡镇/街道": AreaLevel.TOWN,
    "乡镇": AreaLevel.TOWN,
    "镇": AreaLevel.TOWN,
    "乡": AreaLevel.TOWN,
    "街道": AreaLevel.TOWN,
    "片区": AreaLevel.ZONE,
    "行政村": AreaLevel.VILLAGE,
    "村": AreaLevel.VILLAGE,
    "社区": AreaLevel.COMMUNITY,
    "网格": AreaLevel.GRID,
    "专属网格": AreaLevel.SPECIAL_GRID,
    "子网格": AreaLevel.SUB_GRID,
    "组": AreaLevel.GROUP,
    "村民小组": AreaLevel.GROUP,
}
RELATION_ALIASES: dict[str, str] = {
    "户主": Relation.HEAD,
    "本人": Relation.HEAD,
    "配偶": Relation.SPOUSE,
    "妻子": Relation.SPOUSE,
    "丈夫": Relation.SPOUSE,
    "子女": Relation.CHILD,
    "儿子": Relation.CHILD,
    "女儿": Relation.CHILD,
    "父母": Relation.PARENT,
    "父亲": Relation.PARENT,
    "母亲": Relation.PARENT,
    "孙辈": Relation.GRANDCHILD,
    "孙子": Relation.GRANDCHILD,
    "孙女": Relation.GRANDCHILD,
    "兄弟姐妹": Relation.SIBLING,
    "其他": Relation.OTHER,
}


class ImportFileError(Exception):
    """The file cannot be read at all (missing, wrong type, undecodable)."""


class RowError(NamedTuple):
    """One problem of one row. `code` is machine-readable, `message` a Chinese sentence."""

    line: int
    code: str
    message: str

    def __str__(self) -> str:
        return _("第 %(line)d 行：%(message)s") % {"line": self.line, "message": self.message}


@dataclass
class _BaseReport:
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def error_line_count(self) -> int:
        return len({e.line for e in self.errors})

    def error_messages(self) -> list[str]:
        return [str(e) for e in sorted(self.errors, key=lambda e: e.line)]

    def failure_message(self) -> str:
        return _("导入失败：共 %(n)d 行有错误，未写入任何数据") % {"n": self.error_line_count}


@dataclass
class ImportReport(_BaseReport):
    """Result of an area import. Every row is counted once: a row that moves and is renamed
    counts as moved; `actions` lists (line, code, action) with action in
    create/update/move/unchanged."""

    created: int = 0
    updated: int = 0
    moved: int = 0
    unchanged: int = 0
    actions: list[tuple[int, str, str]] = field(default_factory=list)

    def summary(self) -> str:
        return _("新增 %(created)d，更新 %(updated)d，移动 %(moved)d，未变 %(unchanged)d") % {
            "created": self.created,
            "updated": self.updated,
            "moved": self.moved,
            "unchanged": self.unchanged,
        }


@dataclass
class HouseholdImportReport(_BaseReport):
    households_created: int = 0
    households_updated: int = 0
    households_unchanged: int = 0
    residents_created: int = 0
    residents_updated: int = 0
    residents_unchanged: int = 0

    def summary(self) -> str:
        return _("户：新增 %(hc)d，更新 %(hu)d，未变 %(hn)d；居民：新增 %(rc)d，更新 %(ru)d，未变 %(rn)d") % {
            "hc": self.households_created,
            "hu": self.households_updated,
            "hn": self.households_unchanged,
            "rc": self.residents_created,
            "ru": self.residents_updated,
            "rn": self.residents_unchanged,
        }


# =============================================================================================
# Reading and writing tables
# =============================================================================================


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[tuple[int, list[str]]]  # (line number, cells); blank rows are left out


def read_table(path: str | Path) -> Table:
    """Read a .csv (UTF-8 with or without BOM, else GB18030) or .xlsx (first sheet) file."""
    path = Path(path)
    if not path.is_file():
        raise ImportFileError(_("文件不存在：%(path)s") % {"path": path})
    suffix = path.suffix.lower()
    if suffix == ".csv":
        records = list(csv.reader(io.StringIO(_decode(path.read_bytes()))))
    elif suffix == ".xlsx":
        records = _xlsx_records(path)
    else:
        raise ImportFileError(_("只支持 .csv 或 .xlsx 文件"))
    if not records:
        return Table(header=[], rows=[])
    header = [cell.strip().lower() for cell in records[0]]
    rows = [
        (number, [cell.strip() for cell in cells])
        for number, cells in enumerate(records[1:], start=2)
        if any(cell.strip() for cell in cells)
    ]
    return Table(header=header, rows=rows)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise ImportFileError(_("无法识别文件编码（支持 UTF-8 和 GB18030）")) from None


def _xlsx_records(path: Path) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several unrelated types for a broken file
        raise ImportFileError(_("无法读取 Excel 文件：%(error)s") % {"error": exc}) from None
    try:
        sheet = workbook.worksheets[0]
        return [[_cell_text(value) for value in row] for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a code typed as a number
    return str(value)


def _column_map(
    header: Sequence[str], aliases: dict[str, tuple[str, ...]], required: Iterable[str]
) -> tuple[dict[str, int], list[RowError]]:
    """Column index of each known field, and a line-1 error per missing required column."""
    columns: dict[str, int] = {}
    for index, title in enumerate(header):
        for name, names in aliases.items():
            if title in names and name not in columns:
                columns[name] = index
    errors = [
        RowError(1, "bad_header", _("缺少列：%(column)s") % {"column": " / ".join(aliases[name])})
        for name in required
        if name not in columns
    ]
    return columns, errors


def _cells_by_name(columns: dict[str, int], cells: list[str]) -> dict[str, str]:
    return {name: (cells[i] if i < len(cells) else "") for name, i in columns.items()}


def write_table(
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    fmt: str = "csv",
    output: str | Path | None = None,
    stream: TextIO | None = None,
) -> int:
    """Write rows as CSV (to `output`, with a BOM so Excel reads the Chinese, or to `stream`) or
    as XLSX (to `output`; every cell a string so long codes keep their digits). Returns the
    number of data rows written."""
    if fmt == "xlsx":
        if output is None:
            raise ImportFileError(_("导出 xlsx 时必须用 --output 指定文件"))
        return _write_xlsx(header, rows, Path(output))
    if output is not None:
        with open(output, "w", encoding="utf-8-sig", newline="") as handle:
            return _write_csv(header, rows, handle)
    return _write_csv(header, rows, stream or sys.stdout)


def _write_csv(header: Sequence[str], rows: Iterable[Sequence[str]], handle: TextIO) -> int:
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return count


def _write_xlsx(header: Sequence[str], rows: Iterable[Sequence[str]], path: Path) -> int:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(list(header))
    count = 0
    for row in rows:
        sheet.append([str(value) for value in row])
        count += 1
    workbook.save(path)
    return count


def _batches(items: Sequence, size: int = BATCH_SIZE) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _normalise_choice(value: str) -> str:
    return "".join(value.split()).lower().replace("／", "/")


def _choice_lookup(choices: Iterable[tuple[str, Any]], aliases: dict[str, str]) -> dict[str, str]:
    lookup = {_normalise_choice(k): v for k, v in aliases.items()}
    for value, label in choices:
        lookup[_normalise_choice(value)] = value
        lookup[_normalise_choice(str(label))] = value
    return lookup


def parse_level(value: str) -> str | None:
    """Internal level value for `value` (internal value, Chinese label or alias), else None."""
    return _choice_lookup(AreaLevel.choices, LEVEL_ALIASES).get(_normalise_choice(value))


def parse_relation(value: str) -> str | None:
    return _choice_lookup(Relation.choices, RELATION_ALIASES).get(_normalise_choice(value))


@cache
def _max_length(model: type[Model], field_name: str) -> int | None:
    return model._meta.get_field(field_name).max_length


def _too_long(line: int, value: str, model: type[Model], field_name: str) -> RowError | None:
    limit = _max_length(model, field_name)
    if limit and len(value) > limit:
        label = model._meta.get_field(field_name).verbose_name
        return RowError(line, "too_long", _("%(field)s最长 %(n)d 个字符") % {"field": label, "n": limit})
    return None


# =============================================================================================
# Areas
# =============================================================================================


@dataclass
class AreaRow:
    line: int
    code: str
    name: str
    level: str | None  # None when the level could not be read
    parent_code: str  # "" for a root


@dataclass(frozen=True)
class _DbArea:
    pk: int
    code: str
    name: str
    level: str
    parent_id: int | None
    tree_id: int


class _AreaSnapshot:
    """The area table as it is now: one read, under the tree lock."""

    def __init__(self) -> None:
        rows = Area.objects.values_list("pk", "code", "name", "level", "parent_id", "tree_id")
        self.by_code: dict[str, _DbArea] = {}
        self.by_pk: dict[int, _DbArea] = {}
        self.children: dict[int, list[_DbArea]] = defaultdict(list)
        for row in rows:
            node = _DbArea(*row)
            self.by_code[node.code] = node
            self.by_pk[node.pk] = node
            if node.parent_id is not None:
                self.children[node.parent_id].append(node)

    def parent_code(self, code: str) -> str:
        parent_id = self.by_code[code].parent_id
        return self.by_pk[parent_id].code if parent_id is not None else ""


class _FinalTree:
    """The tree as it would be after the import: file rows over the database rows."""

    def __init__(self, rows: dict[str, AreaRow], db: _AreaSnapshot) -> None:
        self.rows = rows
        self.db = db

    def exists(self, code: str) -> bool:
        return code in self.rows or code in self.db.by_code

    def parent(self, code: str) -> str:
        return self.rows[code].parent_code if code in self.rows else self.db.parent_code(code)

    def level(self, code: str) -> str | None:
        return self.rows[code].level if code in self.rows else self.db.by_code[code].level

    def ancestors(self, code: str) -> Iterator[str]:
        """Parent, grandparent … up to a root; stops at an unknown code or on a loop."""
        seen = {code}
        current = self.parent(code)
        while current and self.exists(current) and current not in seen:
            yield current
            seen.add(current)
            current = self.parent(current)

    def cycle(self, code: str) -> list[str] | None:
        """The loop through `code` (code … code) if its parent chain comes back to it."""
        chain = [code]
        for ancestor in self.ancestors(code):
            chain.append(ancestor)
        last = chain[-1]
        if self.exists(last) and self.parent(last) == code:
            return [*chain, code]
        return None

    def root(self, code: str) -> str:
        top = code
        for top in self.ancestors(code):  # noqa: B007 - the last one is the root
            pass
        return top


def import_areas(path: str | Path, *, dry_run: bool = False) -> ImportReport:
    """Validate and import an area file; see the module docstring. Raises ImportFileError only
    when the file cannot be read; every other problem is a RowError in the report."""
    table = read_table(path)
    return import_area_table(table, dry_run=dry_run)


def import_area_table(table: Table, *, dry_run: bool = False) -> ImportReport:
    report = ImportReport(dry_run=dry_run)
    columns, report.errors = _column_map(table.header, AREA_HEADER_ALIASES, AREA_COLUMNS[:3])
    if report.errors:
        return report
    levels = _choice_lookup(AreaLevel.choices, LEVEL_ALIASES)
    rows: list[AreaRow] = []
    for line, cells in table.rows:
        row, errors = _parse_area_row(line, _cells_by_name(columns, cells), levels)
        report.errors.extend(errors)
        if row is not None:
            rows.append(row)
    with tree_write_lock():
        db = _AreaSnapshot()
        unique_rows, duplicate_errors = _dedupe_area_rows(rows)
        report.errors.extend(duplicate_errors)
        final = _FinalTree(unique_rows, db)
        for row in unique_rows.values():
            report.errors.extend(_check_area_row(row, final))
        report.errors.extend(_check_existing_children(unique_rows, db))
        if report.errors:
            return report
        plan = _plan_area_changes(rows, db, report)
        if not dry_run:
            _apply_area_plan(plan, final, db)
    return report


def _parse_area_row(line: int, cells: dict[str, str], levels: dict[str, str]) -> tuple[AreaRow | None, list[RowError]]:
    """Field-level checks of one row. The row is returned (for tree checks) if its code is
    usable, even when other fields have errors."""
    errors: list[RowError] = []
    code, name = cells.get("code", ""), cells.get("name", "")
    level_text, parent_code = cells.get("level", ""), cells.get("parent_code", "")
    if not code:
        errors.append(RowError(line, "empty", _("编码不能为空")))
    elif not code.isdigit():
        errors.append(RowError(line, "bad_code", _("编码只能包含数字：%(code)s") % {"code": code}))
    elif error := _too_long(line, code, Area, "code"):
        errors.append(error)
    if not name:
        errors.append(RowError(line, "empty", _("名称不能为空")))
    elif error := _too_long(line, name, Area, "name"):
        errors.append(error)
    level = levels.get(_normalise_choice(level_text))
    if level is None:
        errors.append(RowError(line, "bad_level", _("无法识别的层级：“%(level)s”") % {"level": level_text}))
    if not code or not code.isdigit():
        return None, errors
    return AreaRow(line=line, code=code, name=name, level=level, parent_code=parent_code), errors


def _dedupe_area_rows(rows: list[AreaRow]) -> tuple[dict[str, AreaRow], list[RowError]]:
    first: dict[str, AreaRow] = {}
    errors = []
    for row in rows:
        if row.code in first:
            errors.append(
                RowError(
                    row.line,
                    "duplicate_code",
                    _("编码 %(code)s 与第 %(line)d 行重复") % {"code": row.code, "line": first[row.code].line},
                )
            )
        else:
            first[row.code] = row
    return first, errors


def _check_area_row(row: AreaRow, final: _FinalTree) -> list[RowError]:
    """Tree rules for one row against the final tree (file over database)."""
    parent = row.parent_code
    if parent and not final.exists(parent):
        return [
            RowError(
                row.line,
                "unknown_parent",
                _("上级编码 %(parent)s 不存在（文件和系统中都没有）") % {"parent": parent},
            )
        ]
    cycle = final.cycle(row.code) if parent else None
    if cycle:
        return [RowError(row.line, "cycle", _("上级关系形成循环：%(chain)s") % {"chain": " → ".join(cycle)})]
    if row.level is None:
        return []
    errors = []
    if error := _level_order_error(row, final.level(parent) if parent else None):
        errors.append(error)
    if error := code_rule_error(row.code, row.level, parent, new=row.code not in final.db.by_code):
        errors.append(RowError(row.line, "code_rule", error))
    return errors


def _level_order_error(row: AreaRow, parent_level: str | None) -> RowError | None:
    if not row.parent_code:
        if row.level != AreaLevel.COUNTY:
            return RowError(row.line, "level_order", _("只有县级区域可以没有上级"))
        return None
    if parent_level is None:
        return None  # the parent's own row already reports its bad level
    if LEVEL_RANK[row.level] <= LEVEL_RANK[parent_level]:
        return RowError(row.line, "level_order", level_order_error(row.level, parent_level))
    return None


def _check_existing_children(rows: dict[str, AreaRow], db: _AreaSnapshot) -> list[RowError]:
    """An existing area whose level changes must still rank above the database children that the
    file leaves under it, and may not stop being a grid/group while households hang from it."""
    errors = []
    changed = [
        (row, db.by_code[code])
        for code, row in rows.items()
        if code in db.by_code and row.level is not None and row.level != db.by_code[code].level
    ]
    for row, node in changed:
        for child in db.children.get(node.pk, []):
            if child.code in rows:
                continue  # the child's own row is checked against the final tree
            if LEVEL_RANK[child.level] <= LEVEL_RANK[row.level]:
                errors.append(
                    RowError(
                        row.line,
                        "level_order",
                        _("修改层级后，现有下级区域 %(child)s（%(name)s）的层级顺序错误：%(reason)s")
                        % {
                            "child": child.code,
                            "name": child.name,
                            "reason": level_order_error(child.level, row.level),
                        },
                    )
                )
    household_levels = {*GRID_LEVELS, AreaLevel.GROUP}
    leaving = {node.pk: row for row, node in changed if row.level not in household_levels}
    in_use = Household.objects.filter(area_id__in=list(leaving)).values_list("area_id", flat=True)
    for area_id in sorted(set(in_use)) if leaving else []:
        row = leaving[area_id]
        errors.append(RowError(row.line, "in_use", _("该区域下已登记户，层级只能是网格或组")))
    return errors


@dataclass
class _AreaPlan:
    create: list[AreaRow] = field(default_factory=list)
    update: list[AreaRow] = field(default_factory=list)  # name/level, same parent
    move: list[AreaRow] = field(default_factory=list)  # parent changed (maybe name/level too)


def _plan_area_changes(rows: list[AreaRow], db: _AreaSnapshot, report: ImportReport) -> _AreaPlan:
    plan = _AreaPlan()
    for row in rows:
        node = db.by_code.get(row.code)
        if node is None:
            action = "create"
            plan.create.append(row)
        elif db.parent_code(row.code) != row.parent_code:
            action = "move"
            plan.move.append(row)
        elif (node.name, node.level) != (row.name, row.level):
            action = "update"
            plan.update.append(row)
        else:
            action = "unchanged"
        report.actions.append((row.line, row.code, action))
    report.created, report.moved = len(plan.create), len(plan.move)
    report.updated = len(plan.update)
    report.unchanged = len(rows) - report.created - report.moved - report.updated
    return plan


def _apply_area_plan(plan: _AreaPlan, final: _FinalTree, db: _AreaSnapshot) -> None:
    """Write the plan. Runs inside the caller's tree_write_lock() transaction."""
    new_tree_ids = _new_tree_ids(plan, final, db)
    with Area.objects.disable_mptt_updates():
        ids = {code: node.pk for code, node in db.by_code.items()}
        _insert_areas(plan.create, ids, final, db)
        _update_areas(plan.update + plan.move, ids)
    if plan.create or plan.move:
        if new_tree_ids is None:
            Area.objects.rebuild()
        else:
            for tree_id in sorted(new_tree_ids):
                Area.objects.partial_rebuild(tree_id)
    _refresh_record_paths(plan, final, db)


def _new_tree_ids(plan: _AreaPlan, final: _FinalTree, db: _AreaSnapshot) -> set[int] | None:
    """Trees to rebuild, or None when only a full rebuild will do (a new root, or a subtree that
    changes tree)."""
    affected: set[int] = set()
    for row in plan.create:
        root = db.by_code.get(final.root(row.code))
        if root is None:
            return None
        affected.add(root.tree_id)
    for row in plan.move:
        root = db.by_code.get(final.root(row.code))
        if root is None or root.tree_id != db.by_code[row.code].tree_id:
            return None
        affected.add(root.tree_id)
    return affected


def _insert_areas(rows: list[AreaRow], ids: dict[str, int], final: _FinalTree, db: _AreaSnapshot) -> None:
    """bulk_create new areas, parents before children; tree fields are placeholders until the
    rebuild (tree_id is already the final tree's, for a partial rebuild)."""
    pending = rows
    while pending:
        ready = [row for row in pending if not row.parent_code or row.parent_code in ids]
        if not ready:  # impossible after validation; guards against an endless loop
            raise RuntimeError("area import: unresolved parents")
        objects = []
        for row in ready:
            root = db.by_code.get(final.root(row.code))
            objects.append(
                Area(
                    code=row.code,
                    name=row.name,
                    level=row.level,
                    parent_id=ids.get(row.parent_code),
                    lft=0,
                    rght=0,
                    depth=0,
                    tree_id=root.tree_id if root else 0,
                )
            )
        for created in Area.objects.bulk_create(objects, batch_size=BATCH_SIZE):
            ids[created.code] = created.pk
        ready_lines = {row.line for row in ready}
        pending = [row for row in pending if row.line not in ready_lines]


def _update_areas(rows: list[AreaRow], ids: dict[str, int]) -> None:
    now = timezone.now()
    objects = [
        Area(
            pk=ids[row.code],
            name=row.name,
            level=row.level,
            parent_id=ids.get(row.parent_code),
            updated_at=now,
        )
        for row in rows
    ]
    Area.objects.bulk_update(objects, ["name", "level", "parent", "updated_at"], batch_size=BATCH_SIZE)


def _refresh_record_paths(plan: _AreaPlan, final: _FinalTree, db: _AreaSnapshot) -> None:
    """Rewrite the path columns of records below every moved area and every area whose level
    changed (the level decides which path column an area fills). A subtree is refreshed once,
    from its top-most changed area."""
    changed = {row.code for row in plan.move}
    changed |= {row.code for row in plan.update if row.level != db.by_code[row.code].level}
    tops = [code for code in changed if not any(a in changed for a in final.ancestors(code))]
    for area in Area.objects.filter(code__in=tops):  # fresh lft/rght after the rebuild
        refresh_paths_below(area)


def export_area_rows(root: Area | None = None) -> Iterator[list[str]]:
    """code, name, level, parent_code in tree order (parents before children)."""
    areas = Area.objects.all()
    if root is not None:
        areas = areas.filter(tree_id=root.tree_id, lft__gte=root.lft, rght__lte=root.rght)
    for code, name, level, parent_code in areas.order_by("tree_id", "lft").values_list(
        "code", "name", "level", "parent__code"
    ):
        yield [code, name, level, parent_code or ""]


def export_areas(
    root_code: str | None = None,
    *,
    fmt: str = "csv",
    output: str | Path | None = None,
    stream: TextIO | None = None,
) -> int:
    root = _export_root(root_code)
    return write_table(AREA_COLUMNS, export_area_rows(root), fmt=fmt, output=output, stream=stream)


def _export_root(root_code: str | None) -> Area | None:
    if not root_code:
        return None
    try:
        return Area.objects.get(code=root_code)
    except Area.DoesNotExist:
        raise ImportFileError(_("区域编码 %(code)s 不存在") % {"code": root_code}) from None


# =============================================================================================
# Households and residents
# =============================================================================================


@dataclass
class ResidentRow:
    line: int
    household_code: str
    area_code: str
    address: str
    household_tags: set[int]
    name: str
    id_number: str
    phone: str
    relation: str
    resident_tags: set[int]

    @property
    def has_resident(self) -> bool:
        return bool(self.name)


@dataclass
class _HouseholdInput:
    code: str
    line: int
    area_id: int
    address: str
    tags: set[int] = field(default_factory=set)


@dataclass
class _DbHousehold:
    pk: int
    area_id: int
    address: str
    path: dict[str, int | None]
    tags: set[int] = field(default_factory=set)


@dataclass
class _DbResident:
    pk: int
    household_id: int
    name: str
    id_number: str
    phone: str
    relation: str
    gender: str
    birth_date: Any
    area_id: int
    path: dict[str, int | None]
    tags: set[int] = field(default_factory=set)


class _HouseholdContext:
    """Lookups read once per import: areas, tags."""

    def __init__(self) -> None:
        self.areas = {code: (pk, level) for pk, code, level in Area.objects.values_list("pk", "code", "level")}
        self.tags: dict[str, int] = {}
        for pk, code, name in Tag.objects.values_list("pk", "code", "name"):
            self.tags[code.lower()] = pk
            self.tags[name] = pk
        self.relations = _choice_lookup(Relation.choices, RELATION_ALIASES)


def import_households(path: str | Path, *, dry_run: bool = False) -> HouseholdImportReport:
    table = read_table(path)
    return import_household_table(table, dry_run=dry_run)


def import_household_table(table: Table, *, dry_run: bool = False) -> HouseholdImportReport:
    report = HouseholdImportReport(dry_run=dry_run)
    columns, report.errors = _column_map(table.header, HOUSEHOLD_HEADER_ALIASES, HOUSEHOLD_REQUIRED)
    if report.errors:
        return report
    # The tree lock keeps areas from moving between path computation and commit.
    with tree_write_lock():
        context = _HouseholdContext()
        rows: list[ResidentRow] = []
        for line, cells in table.rows:
            row, errors = _parse_resident_row(line, _cells_by_name(columns, cells), context)
            report.errors.extend(errors)
            if row is not None:
                rows.append(row)
        households, errors = _group_households(rows, context)
        report.errors.extend(errors)
        report.errors.extend(_check_duplicates_in_file(rows))
        if report.errors:
            return report
        db_households = _load_households(list(households))
        db_residents = _load_residents(rows, db_households)
        matches, errors = _match_residents(rows, db_households, db_residents)
        report.errors.extend(errors)
        if report.errors:
            return report
        writer = _HouseholdWriter(households, db_households, db_residents, report)
        writer.plan(rows, matches)
        if not dry_run:
            writer.write()
    return report


def _parse_resident_row(
    line: int, cells: dict[str, str], context: _HouseholdContext
) -> tuple[ResidentRow | None, list[RowError]]:
    errors: list[RowError] = []
    household_code, area_code, address = cells["household_code"], cells["area_code"], cells["address"]
    name = cells["name"]
    id_number = pii.normalize_id_number(cells.get("id_number", ""))
    phone = pii.normalize_phone(cells.get("phone", ""))
    relation_text = cells.get("relation", "")
    resident_tag_text = cells.get("resident_tags", "")
    if not household_code:
        errors.append(RowError(line, "empty", _("户编号不能为空")))
    if not area_code:
        errors.append(RowError(line, "empty", _("区域编码不能为空")))
    if not address:
        errors.append(RowError(line, "empty", _("地址不能为空")))
    for value, model, field_name in (
        (household_code, Household, "code"),
        (address, Household, "address"),
        (name, Resident, "name"),
    ):
        if error := _too_long(line, value, model, field_name):
            errors.append(error)
    if area_code:
        errors.extend(_check_household_area(line, area_code, context))
    if not name and (id_number or phone or relation_text or resident_tag_text):
        errors.append(RowError(line, "empty", _("姓名不能为空")))
    if id_number:
        errors.extend(_validation_errors(line, "bad_id_number", pii.validate_id_number, id_number))
    if phone:
        errors.extend(_validation_errors(line, "bad_phone", pii.validate_phone, phone))
    relation = context.relations.get(_normalise_choice(relation_text)) if relation_text else Relation.HEAD
    if relation is None:
        errors.append(RowError(line, "bad_relation", _("无法识别的与户主关系：“%(value)s”") % {"value": relation_text}))
    household_tags, tag_errors = _parse_tags(line, cells.get("household_tags", ""), context)
    errors.extend(tag_errors)
    resident_tags, tag_errors = _parse_tags(line, resident_tag_text, context)
    errors.extend(tag_errors)
    if errors:
        return None, errors
    row = ResidentRow(
        line=line,
        household_code=household_code,
        area_code=area_code,
        address=address,
        household_tags=household_tags,
        name=name,
        id_number=id_number,
        phone=phone,
        relation=relation,
        resident_tags=resident_tags,
    )
    return row, []


def _check_household_area(line: int, area_code: str, context: _HouseholdContext) -> list[RowError]:
    if area_code not in context.areas:
        return [RowError(line, "unknown_area", _("区域编码 %(code)s 不存在") % {"code": area_code})]
    level = context.areas[area_code][1]
    if level not in (*GRID_LEVELS, AreaLevel.GROUP):
        return [
            RowError(
                line,
                "bad_area_level",
                _("户只能登记在网格或组下（%(code)s 是%(level)s）")
                % {"code": area_code, "level": AreaLevel(level).label},
            )
        ]
    return []


def _validation_errors(line: int, code: str, validator, value: str) -> list[RowError]:
    try:
        validator(value)
    except ValidationError as exc:
        return [RowError(line, code, "；".join(str(m) for m in exc.messages))]
    return []


def _parse_tags(line: int, text: str, context: _HouseholdContext) -> tuple[set[int], list[RowError]]:
    for separator in TAG_SEPARATORS[1:]:
        text = text.replace(separator, TAG_SEPARATORS[0])
    tags, errors = set(), []
    for item in (part.strip() for part in text.split(TAG_SEPARATORS[0])):
        if not item:
            continue
        tag_id = context.tags.get(item, context.tags.get(item.lower()))
        if tag_id is None:
            errors.append(RowError(line, "unknown_tag", _("未知标签：“%(tag)s”") % {"tag": item}))
        else:
            tags.add(tag_id)
    return tags, errors


def _group_households(
    rows: list[ResidentRow], context: _HouseholdContext
) -> tuple[dict[str, _HouseholdInput], list[RowError]]:
    """One entry per household code; its rows must agree on area and address. Household tags are
    the union of the rows' tags (an export repeats them on every row)."""
    households: dict[str, _HouseholdInput] = {}
    errors = []
    for row in rows:
        household = households.get(row.household_code)
        if household is None:
            households[row.household_code] = _HouseholdInput(
                code=row.household_code,
                line=row.line,
                area_id=context.areas[row.area_code][0],
                address=row.address,
                tags=set(row.household_tags),
            )
            continue
        if household.area_id != context.areas[row.area_code][0] or household.address != row.address:
            errors.append(
                RowError(
                    row.line,
                    "household_mismatch",
                    _("同一户（%(code)s）的区域编码或地址与第 %(line)d 行不一致")
                    % {"code": row.household_code, "line": household.line},
                )
            )
        household.tags |= row.household_tags
    return households, errors


def _check_duplicates_in_file(rows: list[ResidentRow]) -> list[RowError]:
    errors = []
    by_id: dict[str, int] = {}
    by_name: dict[tuple[str, str], int] = {}
    for row in rows:
        if not row.has_resident:
            continue
        if row.id_number:
            if row.id_number in by_id:
                errors.append(
                    RowError(
                        row.line,
                        "duplicate_id_number",
                        _("身份证号与第 %(line)d 行重复") % {"line": by_id[row.id_number]},
                    )
                )
            else:
                by_id[row.id_number] = row.line
        else:
            key = (row.household_code, row.name)
            if key in by_name:
                errors.append(
                    RowError(
                        row.line,
                        "duplicate_resident",
                        _("同一户中已有同名居民（第 %(line)d 行），请填写身份证号区分") % {"line": by_name[key]},
                    )
                )
            else:
                by_name[key] = row.line
    return errors


def _path_of(values: dict[str, Any]) -> dict[str, int | None]:
    return {name: values[f"{name}_id"] for name in PATH_FIELDS}


def _path_columns() -> list[str]:
    return [f"{name}_id" for name in PATH_FIELDS]


def _load_households(codes: list[str]) -> dict[str, _DbHousehold]:
    found: dict[str, _DbHousehold] = {}
    for batch in _batches(codes):
        for values in Household.objects.filter(code__in=batch).values(
            "pk", "code", "area_id", "address", *_path_columns()
        ):
            found[values["code"]] = _DbHousehold(
                pk=values["pk"], area_id=values["area_id"], address=values["address"], path=_path_of(values)
            )
    by_pk = {h.pk: h for h in found.values()}
    through = Household.tags.through
    for batch in _batches(list(by_pk)):
        for household_id, tag_id in through.objects.filter(household_id__in=batch).values_list(
            "household_id", "tag_id"
        ):
            by_pk[household_id].tags.add(tag_id)
    return found


def _load_residents(rows: list[ResidentRow], households: dict[str, _DbHousehold]) -> dict[int, _DbResident]:
    """Residents that rows may match: those with the file's ID numbers and those of the file's
    existing households."""
    fields = (
        "pk",
        "household_id",
        "name",
        "id_number",
        "phone",
        "relation",
        "gender",
        "birth_date",
        "area_id",
    )
    found: dict[int, _DbResident] = {}

    def add(queryset) -> None:
        for values in queryset.values(*fields, *_path_columns()):
            path = _path_of(values)
            found[values["pk"]] = _DbResident(**{f: values[f] for f in fields}, path=path)

    id_numbers = sorted({row.id_number for row in rows if row.id_number})
    for batch in _batches(id_numbers):
        add(Resident.objects.filter(id_number__in=batch))
    household_ids = [h.pk for h in households.values()]
    for batch in _batches(household_ids):
        add(Resident.objects.filter(household_id__in=batch))
    through = Resident.tags.through
    for batch in _batches(list(found)):
        for resident_id, tag_id in through.objects.filter(resident_id__in=batch).values_list("resident_id", "tag_id"):
            found[resident_id].tags.add(tag_id)
    return found


def _match_residents(
    rows: list[ResidentRow], households: dict[str, _DbHousehold], residents: dict[int, _DbResident]
) -> tuple[dict[int, int], list[RowError]]:
    """line → pk of the existing resident each row updates (rows not in the result are new).

    A row with an ID number matches the resident holding that number (whose name must then be the
    row's name), else an ID-less namesake in the same household; a row without one matches by
    (household, name)."""
    by_id = {r.id_number: r for r in residents.values() if r.id_number}
    by_name: dict[tuple[int, str], list[_DbResident]] = defaultdict(list)
    for resident in residents.values():
        by_name[(resident.household_id, resident.name)].append(resident)
    matches: dict[int, int] = {}
    claimed: dict[int, int] = {}  # resident pk → line
    errors = []
    for row in (r for r in rows if r.has_resident):
        resident, error = _match_one(row, households, by_id, by_name)
        if error:
            errors.append(error)
            continue
        if resident is None:
            continue
        if resident.pk in claimed:
            errors.append(
                RowError(
                    row.line,
                    "duplicate_resident",
                    _("与第 %(line)d 行是同一位已登记居民") % {"line": claimed[resident.pk]},
                )
            )
            continue
        claimed[resident.pk] = row.line
        matches[row.line] = resident.pk
    return matches, errors


def _match_one(
    row: ResidentRow,
    households: dict[str, _DbHousehold],
    by_id: dict[str, _DbResident],
    by_name: dict[tuple[int, str], list[_DbResident]],
) -> tuple[_DbResident | None, RowError | None]:
    if row.id_number and row.id_number in by_id:
        resident = by_id[row.id_number]
        if resident.name != row.name:
            return None, RowError(
                row.line,
                "id_number_taken",
                _("身份证号已登记给另一位居民（%(name)s）") % {"name": resident.name},
            )
        return resident, None
    household = households.get(row.household_code)
    if household is None:
        return None, None
    namesakes = by_name.get((household.pk, row.name), [])
    if row.id_number:
        namesakes = [r for r in namesakes if not r.id_number]
    if len(namesakes) > 1:
        return None, RowError(
            row.line,
            "ambiguous_resident",
            _("该户已有多位同名居民“%(name)s”，请填写身份证号区分") % {"name": row.name},
        )
    return (namesakes[0] if namesakes else None), None


class _HouseholdWriter:
    """Turns validated rows into bulk inserts/updates and counts them in the report."""

    HOUSEHOLD_FIELDS = ("area", "address", *PATH_FIELDS, "updated_at")
    RESIDENT_FIELDS = (
        "household",
        "area",
        *PATH_FIELDS,
        "name",
        "id_number",
        "phone",
        "relation",
        "gender",
        "birth_date",
        "updated_at",
    )

    def __init__(
        self,
        households: dict[str, _HouseholdInput],
        db_households: dict[str, _DbHousehold],
        db_residents: dict[int, _DbResident],
        report: HouseholdImportReport,
    ) -> None:
        self.households = households
        self.db_households = db_households
        self.db_residents = db_residents
        self.report = report
        self.paths = PathCache()
        self.now = timezone.now()
        self.new_households: list[Household] = []
        self.changed_households: list[Household] = []
        self.household_tags: dict[str, set[int]] = {}  # household code → tags to set
        self.new_residents: list[tuple[Resident, ResidentRow]] = []
        self.changed_residents: list[tuple[Resident, ResidentRow]] = []
        self.resident_tags: dict[int, set[int]] = {}  # existing resident pk → tags to set
        self.relocated_households: dict[int, int] = {}  # household pk → its new area id

    # --- planning -----------------------------------------------------------------------------
    def plan(self, rows: list[ResidentRow], matches: dict[int, int]) -> None:
        for household in self.households.values():
            self._plan_household(household)
        for row in (r for r in rows if r.has_resident):
            self._plan_resident(row, matches.get(row.line))

    def _plan_household(self, data: _HouseholdInput) -> None:
        path = self.paths(data.area_id)
        current = self.db_households.get(data.code)
        if current is None:
            self.new_households.append(
                Household(code=data.code, area_id=data.area_id, address=data.address, **_path_kwargs(path))
            )
            self.household_tags[data.code] = data.tags
            self.report.households_created += 1
            return
        changed = False
        if (current.area_id, current.address, current.path) != (data.area_id, data.address, path):
            self.changed_households.append(
                Household(
                    pk=current.pk,
                    area_id=data.area_id,
                    address=data.address,
                    updated_at=self.now,
                    **_path_kwargs(path),
                )
            )
            if (current.area_id, current.path) != (data.area_id, path):
                self.relocated_households[current.pk] = data.area_id
            changed = True
        if current.tags != data.tags:
            self.household_tags[data.code] = data.tags
            changed = True
        if changed:
            self.report.households_updated += 1
        else:
            self.report.households_unchanged += 1

    def _plan_resident(self, row: ResidentRow, pk: int | None) -> None:
        household = self.households[row.household_code]
        current = self.db_residents.get(pk) if pk else None
        values = self._resident_values(row, household, current)
        if current is None:
            self.new_residents.append((Resident(**values), row))
            self.report.residents_created += 1
            return
        changed = False
        stored = {
            "household_id": current.household_id,
            "area_id": current.area_id,
            **_path_kwargs(current.path),
            "name": current.name,
            "id_number": current.id_number,
            "phone": current.phone,
            "relation": current.relation,
            "gender": current.gender,
            "birth_date": current.birth_date,
        }
        household_pk = self._household_pk(row.household_code)
        comparable = {**values, "household_id": household_pk}
        if comparable != stored:
            self.changed_residents.append((Resident(pk=current.pk, updated_at=self.now, **values), row))
            changed = True
        if current.tags != row.resident_tags:
            self.resident_tags[current.pk] = row.resident_tags
            changed = True
        if changed:
            self.report.residents_updated += 1
        else:
            self.report.residents_unchanged += 1

    def _household_pk(self, code: str) -> int | None:
        current = self.db_households.get(code)
        return current.pk if current else None

    def _resident_values(
        self, row: ResidentRow, household: _HouseholdInput, current: _DbResident | None
    ) -> dict[str, Any]:
        """Field values a resident gets from its row. An empty ID number never erases a stored
        one (it is the resident's key); gender and birth date follow the ID number."""
        id_number = row.id_number or (current.id_number if current else "")
        gender = current.gender if current else ""
        birth_date = current.birth_date if current else None
        if len(id_number) == 18:
            try:
                gender, birth_date = pii.id_gender(id_number), pii.id_birth_date(id_number)
            except ValueError:  # a stored number from before validation; keep what is there
                pass
        return {
            "household_id": self._household_pk(row.household_code),  # None for a new household
            "area_id": household.area_id,
            **_path_kwargs(self.paths(household.area_id)),
            "name": row.name,
            "id_number": id_number,
            "phone": row.phone,
            "relation": row.relation,
            "gender": gender,
            "birth_date": birth_date,
        }

    # --- writing ------------------------------------------------------------------------------
    def write(self) -> None:
        created = Household.objects.bulk_create(self.new_households, batch_size=BATCH_SIZE)
        household_ids = {h.code: h.pk for h in created}
        household_ids.update({code: h.pk for code, h in self.db_households.items()})
        Household.objects.bulk_update(self.changed_households, self.HOUSEHOLD_FIELDS, batch_size=BATCH_SIZE)
        _replace_tags(
            Household.tags.through,
            "household_id",
            {household_ids[code]: tags for code, tags in self.household_tags.items()},
            fresh={household_ids[h.code] for h in created},
        )
        # Households created above get their pks only now.
        for resident, row in (*self.new_residents, *self.changed_residents):
            resident.household_id = household_ids[row.household_code]
        made = Resident.objects.bulk_create([r for r, _ in self.new_residents], batch_size=BATCH_SIZE)
        new_tags = {r.pk: row.resident_tags for r, (_, row) in zip(made, self.new_residents, strict=True)}
        changed = [r for r, _ in self.changed_residents]
        Resident.objects.bulk_update(changed, self.RESIDENT_FIELDS, batch_size=BATCH_SIZE)
        _replace_tags(Resident.tags.through, "resident_id", new_tags, fresh=set(new_tags))
        _replace_tags(Resident.tags.through, "resident_id", self.resident_tags, fresh=set())
        self._follow_relocated_households()

    def _follow_relocated_households(self) -> None:
        """Residents the file does not list still live where their household now is."""
        by_area: dict[int, list[int]] = defaultdict(list)
        for household_pk, area_id in self.relocated_households.items():
            by_area[area_id].append(household_pk)
        for area_id, household_pks in by_area.items():
            values = {"area_id": area_id, **_path_kwargs(self.paths(area_id))}
            for batch in _batches(household_pks):
                Resident.objects.filter(household_id__in=batch).update(**values)


def _path_kwargs(path: dict[str, int | None]) -> dict[str, int | None]:
    return {f"{name}_id": value for name, value in path.items()}


def _replace_tags(through: type[Model], owner: str, tags: dict[int, set[int]], *, fresh: set[int]) -> None:
    """Set the tag rows of each owner to exactly `tags[owner]`; `fresh` owners have none yet."""
    stale = [pk for pk in tags if pk not in fresh]
    for batch in _batches(stale):
        through.objects.filter(**{f"{owner}__in": batch}).delete()
    rows = [through(**{owner: pk, "tag_id": tag_id}) for pk, tag_ids in tags.items() for tag_id in tag_ids]
    through.objects.bulk_create(rows, batch_size=BATCH_SIZE)


# --- export -----------------------------------------------------------------------------------


def export_household_rows(root: Area | None = None, *, include_raw: bool = False) -> Iterator[list[str]]:
    """One row per resident (a household without residents gets one row with empty resident
    columns), households ordered by code. ID numbers and phones are masked unless include_raw."""
    households = Household.objects.all()
    residents = Resident.objects.all()
    if root is not None:
        subtree = {"tree_id": root.tree_id, "lft__gte": root.lft, "rght__lte": root.rght}
        households = households.filter(**{f"area__{k}": v for k, v in subtree.items()})
        residents = residents.filter(**{f"household__area__{k}": v for k, v in subtree.items()})
    tag_names = dict(Tag.objects.values_list("pk", "name"))
    household_tags = _tag_map(Household.tags.through, "household_id", tag_names)
    resident_tags = _tag_map(Resident.tags.through, "resident_id", tag_names)
    members: dict[int, list[tuple]] = defaultdict(list)
    for values in residents.order_by("household_id", "pk").values_list(
        "household_id", "pk", "name", "id_number", "phone", "relation"
    ):
        members[values[0]].append(values[1:])
    mask_id = (lambda v: v) if include_raw else pii.mask_id_number
    mask_phone = (lambda v: v) if include_raw else pii.mask_phone
    for pk, code, area_code, address in households.order_by("code").values_list("pk", "code", "area__code", "address"):
        head = [code, area_code, address, ";".join(household_tags.get(pk, []))]
        people = members.get(pk)
        if not people:
            yield [*head, "", "", "", "", ""]
            continue
        for resident_pk, name, id_number, phone, relation in people:
            tags = ";".join(resident_tags.get(resident_pk, []))
            yield [*head, name, mask_id(id_number), mask_phone(phone), relation, tags]


def _tag_map(through: type[Model], owner: str, names: dict[int, str]) -> dict[int, list[str]]:
    result: dict[int, list[str]] = defaultdict(list)
    for owner_id, tag_id in through.objects.order_by(owner, "tag_id").values_list(owner, "tag_id"):
        result[owner_id].append(names[tag_id])
    return result


def export_households(
    root_code: str | None = None,
    *,
    include_raw: bool = False,
    fmt: str = "csv",
    output: str | Path | None = None,
    stream: TextIO | None = None,
) -> int:
    root = _export_root(root_code)
    rows = export_household_rows(root, include_raw=include_raw)
    return write_table(HOUSEHOLD_COLUMNS, rows, fmt=fmt, output=output, stream=stream)
