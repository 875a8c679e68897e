"""Import and export of the area tree and of households/residents (grids.importing and the
import_areas / export_areas / import_households / export_households commands)."""

import csv
import io
import time
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from openpyxl import Workbook, load_workbook

from gridgov.pii import mask_id_number
from grids.choices import AreaLevel, Relation
from grids.importing import (
    AREA_COLUMNS,
    HOUSEHOLD_COLUMNS,
    export_area_rows,
    export_household_rows,
    import_areas,
    import_households,
)
from grids.models import Area, Household, Resident
from tests.factories import HouseholdFactory, ResidentFactory, area, make_id_number

pytestmark = pytest.mark.django_db


# --- helpers ----------------------------------------------------------------------------------


def write_csv(path: Path, rows, header=AREA_COLUMNS, encoding="utf-8") -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def write_xlsx(path: Path, rows, header=AREA_COLUMNS) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    workbook.save(path)
    return path


def area_snapshot() -> list[tuple]:
    return list(
        Area.objects.order_by("code").values_list("code", "name", "level", "parent__code", "tree_id", "lft", "rght")
    )


def tree_fields() -> list[tuple]:
    return list(Area.objects.order_by("pk").values_list("pk", "tree_id", "lft", "rght", "depth"))


def error_keys(report) -> set[tuple[int, str]]:
    return {(e.line, e.code) for e in report.errors}


def id_number(seq: int, birth: str = "19900215") -> str:
    """IDs with a birth date the tree fixture's residents do not use."""
    return make_id_number(birth=birth, seq=seq)


# Children listed before their parents on purpose: the import orders inserts itself.
GOOD_ROWS = [
    ("330127100201001001", "上村组", "组", "330127100201001"),
    ("330127100201001", "梦姑塘第一网格", "网格", "330127100201"),
    ("330127100201", "梦姑塘村", "行政村", "330127100001"),
    ("330127100001", "城中片区", "片区", "330127100"),
    ("330127100", "千岛湖镇", "镇/乡/街道", "330127"),
    ("330127", "淳安县", "县", ""),
    ("330127100002", "工业园专属网格", "special_grid", "330127100"),
    ("330127100002001", "工业园子网格", "sub_grid", "330127100002"),
    ("330127101", "文昌镇", "town", "330127"),
    ("330127101001", "文昌社区", "社区", "330127101"),
    ("330127101001001", "文昌第一网格", "grid", "330127101001"),
]


def good_file(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "areas.csv", GOOD_ROWS)


def plain_tree() -> dict[str, Area]:
    """Areas only (no records), so the tests can delete them to get an empty table."""
    county = area("330127", "淳安县", AreaLevel.COUNTY)
    town = area("330127100", "千岛湖镇", AreaLevel.TOWN, county)
    zone = area("330127100001", "城中片区", AreaLevel.ZONE, town)
    village = area("330127100201", "梦姑塘村", AreaLevel.VILLAGE, zone)
    grid = area("330127100201001", "梦姑塘第一网格", AreaLevel.GRID, village)
    group = area("330127100201001001", "上村组", AreaLevel.GROUP, grid)
    special = area("330127100002", "工业园专属网格", AreaLevel.SPECIAL_GRID, town)
    town_b = area("330127101", "文昌镇", AreaLevel.TOWN, county)
    return {a.code: a for a in (county, town, zone, village, grid, group, special, town_b)}


def delete_all_areas() -> None:
    for pk in Area.objects.order_by("-depth").values_list("pk", flat=True):
        Area.objects.filter(pk=pk).delete()


# --- import_areas: good files -----------------------------------------------------------------


def test_good_csv_creates_the_tree_with_consistent_mptt_fields(tmp_path):
    report = import_areas(good_file(tmp_path))

    assert report.errors == []
    assert (report.created, report.updated, report.moved, report.unchanged) == (11, 0, 0, 0)
    assert Area.objects.count() == 11
    grid = Area.objects.get(code="330127100201001")
    assert grid.level == AreaLevel.GRID and grid.parent.code == "330127100201"
    assert [a.code for a in grid.get_ancestors()] == ["330127", "330127100", "330127100001", "330127100201"]
    assert Area.objects.get(code="330127100").level == AreaLevel.TOWN
    assert Area.objects.get(code="330127101001").level == AreaLevel.COMMUNITY
    county = Area.objects.get(code="330127")
    assert county.get_descendant_count() == 10
    before = tree_fields()
    Area.objects.rebuild()
    assert tree_fields() == before


def test_import_into_an_existing_tree_keeps_mptt_fields_consistent(tree, tmp_path):
    rows = [
        ("330127100201002", "梦姑塘第二网格", "grid", "330127100201"),
        ("330127100201002001", "下村组", "group", "330127100201002"),
        ("330127102", "新设镇", "town", "330127"),
    ]
    report = import_areas(write_csv(tmp_path / "more.csv", rows))

    assert report.created == 3 and report.unchanged == 0
    before = tree_fields()
    Area.objects.rebuild()
    assert tree_fields() == before
    assert Area.objects.get(code="330127100201002001").get_ancestors().count() == 5


def test_chinese_headers_with_bom_are_accepted(tmp_path):
    path = tmp_path / "areas.csv"
    write_csv(path, GOOD_ROWS, header=("编码", "名称", "层级", "上级编码"), encoding="utf-8-sig")

    assert import_areas(path).created == 11


def test_gb18030_csv_is_accepted(tmp_path):
    path = write_csv(
        tmp_path / "areas.csv", GOOD_ROWS, header=("Code", "NAME", "Level", "Parent_Code"), encoding="gb18030"
    )

    report = import_areas(path)

    assert report.created == 11
    assert Area.objects.get(code="330127100201001001").name == "上村组"


def test_xlsx_import_builds_the_tree(tmp_path):
    rows = [(int(code), name, level, int(parent) if parent else None) for code, name, level, parent in GOOD_ROWS]
    path = write_xlsx(tmp_path / "areas.xlsx", rows)

    report = import_areas(path)

    assert report.errors == [] and report.created == 11
    assert Area.objects.get(code="330127101001001").parent.code == "330127101001"


def test_xlsx_errors_carry_sheet_row_numbers(tmp_path):
    rows = [("330127", "淳安县", "县", None), ("330127100", "千岛湖镇", "村委会", "330127")]
    report = import_areas(write_xlsx(tmp_path / "areas.xlsx", rows))

    assert error_keys(report) == {(3, "bad_level")}
    assert not Area.objects.exists()


def test_reimporting_the_same_file_changes_nothing(tmp_path):
    path = good_file(tmp_path)
    import_areas(path)
    before = list(Area.objects.order_by("pk").values_list("pk", "name", "level", "parent_id", "lft", "updated_at"))

    report = import_areas(path)

    assert (report.created, report.updated, report.moved, report.unchanged) == (0, 0, 0, 11)
    after = list(Area.objects.order_by("pk").values_list("pk", "name", "level", "parent_id", "lft", "updated_at"))
    assert after == before


def test_reimport_renames_and_moves_and_refreshes_household_paths(tree, tmp_path):
    exported = list(export_area_rows())
    changed = []
    for code, name, level, parent in exported:
        if code == tree["village_a"].code:  # move the village (with its grid and group) to town B
            name, parent = "梦姑塘新村", tree["zone_b"].code
        if code == tree["grid_b"].code:
            name = "文昌一网格"
        changed.append((code, name, level, parent))

    report = import_areas(write_csv(tmp_path / "areas.csv", changed))

    assert (report.created, report.updated, report.moved) == (0, 1, 1)
    assert report.unchanged == len(exported) - 2
    village = Area.objects.get(code=tree["village_a"].code)
    assert village.name == "梦姑塘新村" and village.parent_id == tree["zone_b"].pk
    assert Area.objects.get(code=tree["grid_b"].code).name == "文昌一网格"
    for key in ("grid_a", "group_a"):
        household = Household.objects.get(pk=tree.households[key].pk)
        assert (household.town_id, household.zone_id) == (tree["town_b"].pk, tree["zone_b"].pk)
        assert household.village_id == village.pk and household.grid_id == tree["grid_a"].pk
        resident = Resident.objects.get(pk=tree.residents[key].pk)
        assert (resident.town_id, resident.zone_id) == (tree["town_b"].pk, tree["zone_b"].pk)
    untouched = Household.objects.get(pk=tree.households["special_a"].pk)
    assert untouched.town_id == tree["town_a"].pk
    assert village.get_ancestors().filter(pk=tree["town_b"].pk).exists()
    before = tree_fields()
    Area.objects.rebuild()
    assert tree_fields() == before


def test_moving_a_subtree_to_another_county_rebuilds_both_trees(tmp_path):
    plain_tree()
    other = area("330128", "建德市", AreaLevel.COUNTY)
    rows = [("330127100201", "梦姑塘村", "village", "330128100"), ("330128100", "新安江街道", "town", other.code)]

    report = import_areas(write_csv(tmp_path / "areas.csv", rows))

    assert (report.created, report.moved) == (1, 1)
    group = Area.objects.get(code="330127100201001001")
    assert [a.code for a in group.get_ancestors()] == [
        "330128",
        "330128100",
        "330127100201",
        "330127100201001",
    ]
    before = tree_fields()
    Area.objects.rebuild()
    assert tree_fields() == before


def test_level_change_refreshes_paths_of_records_below(tree, tmp_path):
    # The zone of town B becomes a community: households below now carry it as their village.
    row = (tree["zone_b"].code, "文昌社区", "community", tree["town_b"].code)
    report = import_areas(write_csv(tmp_path / "areas.csv", [row]))

    assert report.updated == 1
    household = Household.objects.get(pk=tree.households["grid_b"].pk)
    assert household.village_id == tree["zone_b"].pk and household.zone_id is None


# --- import_areas: bad files ------------------------------------------------------------------


def assert_rejected(path: Path, expected: set[tuple[int, str]]) -> None:
    before = area_snapshot()
    report = import_areas(path)
    assert error_keys(report) == expected
    assert area_snapshot() == before
    # The command reports the same lines and exits non-zero.
    err = io.StringIO()
    with pytest.raises(CommandError, match=r"导入失败：共 \d+ 行有错误，未写入任何数据"):
        call_command("import_areas", str(path), stdout=io.StringIO(), stderr=err)
    for line, _code in expected:
        assert f"第 {line} 行：" in err.getvalue()
    assert area_snapshot() == before


def test_cycle_with_the_database_is_reported_and_nothing_written(tree, tmp_path):
    # Town A under its own village, which is under town A's zone.
    rows = [
        ("330127101002", "新片区", "zone", "330127101"),
        ("330127100", "千岛湖镇", "town", tree["village_a"].code),
    ]
    assert_rejected(write_csv(tmp_path / "cycle.csv", rows), {(3, "cycle")})


def test_cycle_within_the_file_reports_every_row_on_it(db, tmp_path):
    rows = [
        ("330127", "淳安县", "county", ""),
        ("330127100", "甲镇", "town", "330127101"),
        ("330127101", "乙镇", "town", "330127100"),
    ]
    assert_rejected(write_csv(tmp_path / "cycle.csv", rows), {(3, "cycle"), (4, "cycle")})


def test_unknown_parent_duplicate_code_and_bad_level_are_reported_by_line(tree, tmp_path):
    rows = [
        ("330127100201002", "第二网格", "grid", "330127100299"),  # line 2: parent nowhere
        ("330127100201003", "第三网格", "grid", "330127100201"),  # line 3: fine
        ("330127100201003", "第三网格", "grid", "330127100201"),  # line 4: duplicate
        ("330127100201004", "第四网格", "大网格", "330127100201"),  # line 5: bad level
    ]
    assert_rejected(
        write_csv(tmp_path / "bad.csv", rows),
        {(2, "unknown_parent"), (4, "duplicate_code"), (5, "bad_level")},
    )
    assert not Area.objects.filter(code="330127100201003").exists()


def test_level_out_of_order_and_code_rules_are_reported(tree, tmp_path):
    rows = [
        ("330127100201901", "错层片区", "zone", "330127100201"),  # line 2: zone under a village
        ("330127102", "无上级镇", "town", ""),  # line 3: only a county may be a root
        ("33012710", "短编码镇", "town", "330127"),  # line 4: town code must be 9 digits
        ("330127101009", "不带前缀网格", "grid", "330127101001"),  # line 5: grid must extend parent
        ("", "无编码", "grid", "330127101001"),  # line 6: empty code
        ("33012710100A", "字母编码", "grid", "330127101001"),  # line 7: not digits
    ]
    assert_rejected(
        write_csv(tmp_path / "bad.csv", rows),
        {
            (2, "level_order"),
            (3, "level_order"),
            (4, "code_rule"),
            (5, "code_rule"),
            (6, "empty"),
            (7, "bad_code"),
        },
    )


def test_level_change_that_breaks_existing_children_is_rejected(tree, tmp_path):
    # Zone A as a grid would sit above its village.
    row = (tree["zone_a"].code, "城中片区", "grid", tree["town_a"].code)
    report = import_areas(write_csv(tmp_path / "bad.csv", [row]))

    assert error_keys(report) == {(2, "level_order")}
    assert tree["village_a"].code in report.errors[0].message
    assert Area.objects.get(pk=tree["zone_a"].pk).level == AreaLevel.ZONE


def test_grid_with_households_cannot_become_a_zone(tree, tmp_path):
    row = (tree["special_a"].code, "工业园片区", "zone", tree["town_a"].code)
    report = import_areas(write_csv(tmp_path / "bad.csv", [row]))

    assert error_keys(report) == {(2, "in_use")}


def test_missing_column_is_a_header_error(db, tmp_path):
    path = write_csv(tmp_path / "bad.csv", [("330127", "淳安县")], header=("code", "name"))

    assert error_keys(import_areas(path)) == {(1, "bad_header")}


def test_unreadable_file_is_a_command_error(db, tmp_path):
    path = tmp_path / "areas.txt"
    path.write_text("code,name\n")
    with pytest.raises(CommandError, match=r"\.csv"):
        call_command("import_areas", str(path))


# --- dry run and command output ---------------------------------------------------------------


def test_dry_run_reports_counts_and_writes_nothing(tree, tmp_path):
    rows = [
        ("330127100201002", "梦姑塘第二网格", "grid", "330127100201"),
        (tree["grid_b"].code, "文昌一网格", "grid", tree["zone_b"].code),
        (tree["special_a"].code, "工业园专属网格", "special_grid", tree["town_a"].code),
    ]
    path = write_csv(tmp_path / "areas.csv", rows)
    before = area_snapshot()

    report = import_areas(path, dry_run=True)

    assert report.dry_run and (report.created, report.updated, report.moved, report.unchanged) == (1, 1, 0, 1)
    assert area_snapshot() == before
    out = io.StringIO()
    call_command("import_areas", str(path), "--dry-run", stdout=out)
    assert "试运行" in out.getvalue() and "新增 1，更新 1，移动 0，未变 1" in out.getvalue()
    assert area_snapshot() == before


def test_command_prints_a_chinese_summary(db, tmp_path):
    out = io.StringIO()
    call_command("import_areas", str(good_file(tmp_path)), stdout=out)

    assert "新增 11，更新 0，移动 0，未变 0" in out.getvalue()


# --- export_areas -----------------------------------------------------------------------------


def test_export_then_import_into_an_empty_tree_reproduces_it(db, tmp_path):
    plain_tree()
    original = area_snapshot()
    path = tmp_path / "export.csv"
    call_command("export_areas", "--output", str(path), stderr=io.StringIO())
    delete_all_areas()
    assert not Area.objects.exists()

    report = import_areas(path)

    assert report.created == len(original)
    assert [row[:4] for row in area_snapshot()] == [row[:4] for row in original]
    assert area_snapshot() == original  # the same lft/rght too


def test_export_to_stdout_then_reimport_is_all_unchanged(tree, tmp_path):
    out = io.StringIO()
    call_command("export_areas", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "code,name,level,parent_code"
    assert lines[1].startswith("330127,淳安县,county,")
    path = tmp_path / "export.csv"
    path.write_text(out.getvalue(), encoding="utf-8")

    report = import_areas(path)

    assert report.unchanged == Area.objects.count() and report.created == report.updated == report.moved == 0


def test_export_lists_parents_before_children_and_respects_root(tree):
    rows = list(export_area_rows(Area.objects.get(code=tree["town_a"].code)))
    codes = [row[0] for row in rows]
    assert codes[0] == tree["town_a"].code and tree["town_b"].code not in codes
    for index, (_code, _name, _level, parent) in enumerate(rows[1:], start=1):
        assert parent in codes[:index]


def test_export_xlsx_round_trips(tree, tmp_path):
    path = tmp_path / "areas.xlsx"
    call_command("export_areas", "--output", str(path), stderr=io.StringIO())
    sheet = load_workbook(path).worksheets[0]
    assert [c.value for c in sheet[1]] == list(AREA_COLUMNS)
    assert sheet.cell(row=2, column=1).value == "330127"  # codes stay text

    assert import_areas(path).unchanged == Area.objects.count()


# --- households -------------------------------------------------------------------------------


def household_rows(tree) -> list[tuple]:
    grid, group = tree["grid_b"].code, tree["group_a"].code
    return [
        ("HH0001", grid, "文昌路 1 号", "低保户;dibao", "张三", id_number(1), "13800000001", "户主", "党员"),
        ("HH0001", grid, "文昌路 1 号", "", "李四", id_number(2), "", "配偶", ""),
        ("HH0001", grid, "文昌路 1 号", "", "张小", "", "", "child", "留守儿童；liushou-ertong"),
        ("HH0002", group, "上村 5 号", "独居老人", "王五", id_number(3), "0571-12345678", "", ""),
        ("HH0003", group, "上村 6 号", "", "", "", "", "", ""),  # a household without residents
    ]


def write_households(tmp_path: Path, rows, name="households.csv") -> Path:
    return write_csv(tmp_path / name, rows, header=HOUSEHOLD_COLUMNS)


def household_snapshot() -> tuple[list, list]:
    households = list(Household.objects.order_by("pk").values_list("pk", "code", "area_id", "address"))
    residents = list(
        Resident.objects.order_by("pk").values_list("pk", "household_id", "name", "id_number", "phone", "relation")
    )
    return households, residents


def test_good_household_file_creates_households_and_residents(tree, tmp_path):
    report = import_households(write_households(tmp_path, household_rows(tree)))

    assert report.errors == []
    assert (report.households_created, report.residents_created) == (3, 4)
    household = Household.objects.get(code="HH0001")
    assert household.area_id == tree["grid_b"].pk
    assert (household.county_id, household.town_id, household.zone_id, household.grid_id) == (
        tree["county"].pk,
        tree["town_b"].pk,
        tree["zone_b"].pk,
        tree["grid_b"].pk,
    )
    assert set(household.tags.values_list("code", flat=True)) == {"dibao"}
    head = Resident.objects.get(id_number=id_number(1))
    assert head.household_id == household.pk and head.relation == Relation.HEAD
    assert head.area_id == tree["grid_b"].pk and head.town_id == tree["town_b"].pk
    assert str(head.birth_date) == "1990-02-15" and head.gender in {"M", "F"}
    assert set(head.tags.values_list("code", flat=True)) == {"dangyuan"}
    child = Resident.objects.get(name="张小")
    assert child.relation == Relation.CHILD and child.id_number == "" and child.gender == ""
    assert set(child.tags.values_list("code", flat=True)) == {"liushou-ertong"}
    in_group = Resident.objects.get(name="王五")
    assert (in_group.grid_id, in_group.area_id) == (tree["grid_a"].pk, tree["group_a"].pk)
    assert in_group.relation == Relation.HEAD and in_group.phone == "0571-12345678"
    assert Household.objects.get(code="HH0003").residents.count() == 0


def test_bad_id_checksum_is_reported_with_its_line_and_nothing_written(tree, tmp_path):
    rows = household_rows(tree)
    good = id_number(4)
    bad_check = "0" if good[-1] != "0" else "1"
    rows[2] = (*rows[2][:5], good[:17] + bad_check, *rows[2][6:])
    before = household_snapshot()

    report = import_households(write_households(tmp_path, rows))

    assert error_keys(report) == {(4, "bad_id_number")}
    assert "校验位" in report.errors[0].message
    assert household_snapshot() == before
    err = io.StringIO()
    with pytest.raises(CommandError, match="导入失败：共 1 行有错误"):
        call_command("import_households", str(tmp_path / "households.csv"), stderr=err)
    assert "第 4 行：身份证号校验位错误" in err.getvalue()
    assert household_snapshot() == before


def test_household_rows_with_problems_are_all_reported(tree, tmp_path):
    taken = tree.residents["grid_a"]
    grid = tree["grid_b"].code
    rows = [
        ("HX01", "330127999", "某地", "", "甲", "", "", "", ""),  # 2 unknown area
        ("HX02", tree["village_a"].code, "某地", "", "乙", "", "", "", ""),  # 3 village: no households
        ("HX03", grid, "某地", "", "丙", id_number(5), "", "", ""),  # 4 fine
        ("HX03", grid, "某地", "", "丁", id_number(5), "", "", ""),  # 5 ID repeats line 4
        ("HX04", grid, "别处", "", "戊", taken.id_number, "", "", ""),  # 6 ID is someone else's
        ("HX05", grid, "某地", "不存在的标签", "己", "", "", "", ""),  # 7 unknown tag
        ("HX06", grid, "某地", "", "庚", "", "", "表亲", ""),  # 8 bad relation
        ("HX03", grid, "另一个地址", "", "辛", "", "", "", ""),  # 9 address disagrees with line 4
        ("HX07", grid, "某地", "", "壬", "", "12345", "", ""),  # 10 bad phone
        ("HX08", grid, "某地", "", "癸", "33012719900215001", "", "", ""),  # 11 17 digits
    ]
    before = household_snapshot()

    report = import_households(write_households(tmp_path, rows))

    assert error_keys(report) == {
        (2, "unknown_area"),
        (3, "bad_area_level"),
        (5, "duplicate_id_number"),
        (7, "unknown_tag"),
        (8, "bad_relation"),
        (9, "household_mismatch"),
        (10, "bad_phone"),
        (11, "bad_id_number"),
    }
    assert household_snapshot() == before
    # The ID conflict with the database is found once the file itself is clean.
    report = import_households(write_households(tmp_path, [rows[4]], name="conflict.csv"))
    assert error_keys(report) == {(2, "id_number_taken")}
    assert household_snapshot() == before


def test_household_reimport_is_idempotent_and_updates_in_place(tree, tmp_path):
    rows = household_rows(tree)
    path = write_households(tmp_path, rows)
    import_households(path)
    before = household_snapshot()

    again = import_households(path)

    assert (again.households_created, again.households_updated, again.households_unchanged) == (0, 0, 3)
    assert (again.residents_created, again.residents_updated, again.residents_unchanged) == (0, 0, 4)
    assert household_snapshot() == before

    rows[0] = (*rows[0][:6], "13900000009", *rows[0][7:])  # new phone for 张三
    rows[2] = (*rows[2][:5], id_number(6), *rows[2][6:])  # 张小 gets an ID number
    rows[3] = (rows[3][0], tree["grid_a"].code, *rows[3][2:])  # household HH0002 moves up to the grid
    report = import_households(write_households(tmp_path, rows, name="changed.csv"))

    assert (report.households_updated, report.residents_updated, report.residents_created) == (1, 3, 0)
    assert Resident.objects.get(id_number=id_number(1)).phone == "13900000009"
    child = Resident.objects.get(name="张小")
    assert child.id_number == id_number(6) and str(child.birth_date) == "1990-02-15"
    moved = Resident.objects.get(name="王五")
    assert moved.area_id == tree["grid_a"].pk and moved.household.area_id == tree["grid_a"].pk
    assert Resident.objects.count() == len(before[1])


def test_household_dry_run_writes_nothing(tree, tmp_path):
    before = household_snapshot()
    out = io.StringIO()

    call_command("import_households", str(write_households(tmp_path, household_rows(tree))), "--dry-run", stdout=out)

    assert "户：新增 3" in out.getvalue() and "居民：新增 4" in out.getvalue()
    assert household_snapshot() == before


def test_household_export_masks_id_numbers_by_default(tree, tmp_path):
    import_households(write_households(tmp_path, household_rows(tree)))
    out, err = io.StringIO(), io.StringIO()

    call_command("export_households", stdout=out, stderr=err)

    text = out.getvalue()
    assert id_number(1) not in text and "13800000001" not in text
    assert mask_id_number(id_number(1)) in text and "138****0001" in text
    assert "脱敏" in err.getvalue()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(HOUSEHOLD_COLUMNS)
    assert ["HH0003", tree["group_a"].code, "上村 6 号", "", "", "", "", "", ""] in rows


def test_raw_household_export_reimports_unchanged(tree, tmp_path):
    import_households(write_households(tmp_path, household_rows(tree)))
    path = tmp_path / "export.csv"
    call_command("export_households", "--include-id-numbers", "--output", str(path), stderr=io.StringIO())
    text = path.read_text(encoding="utf-8-sig")
    assert id_number(1) in text and "13800000001" in text

    report = import_households(path)

    assert report.errors == []
    assert report.households_created == report.households_updated == 0
    assert report.residents_created == report.residents_updated == 0
    assert report.residents_unchanged == Resident.objects.count()


def test_masked_household_export_cannot_be_reimported(tree, tmp_path):
    path = tmp_path / "masked.csv"
    call_command("export_households", "--output", str(path), stderr=io.StringIO())

    report = import_households(path)

    assert {code for _line, code in error_keys(report)} == {"bad_id_number", "bad_phone"}


def test_household_export_respects_root_and_xlsx(tree, tmp_path):
    path = tmp_path / "households.xlsx"
    call_command("export_households", "--root", tree["town_b"].code, "--output", str(path), stderr=io.StringIO())
    rows = list(load_workbook(path).worksheets[0].iter_rows(values_only=True))
    assert [r[0] for r in rows[1:]] == [tree.households["grid_b"].code]
    assert next(export_household_rows(tree["grid_b"]))[4] == tree.residents["grid_b"].name


def test_resident_matched_by_household_and_name_without_id(tree, tmp_path):
    household = HouseholdFactory(area=tree["grid_b"])
    person = ResidentFactory(household=household, id_number="", name="赵六")
    row = (household.code, tree["grid_b"].code, household.address, "", "赵六", id_number(7), "", "", "")

    report = import_households(write_households(tmp_path, [row]))

    assert (report.residents_created, report.residents_updated) == (0, 1)
    person.refresh_from_db()
    assert person.id_number == id_number(7) and person.gender


def test_household_moved_by_import_takes_unlisted_residents_along(tree, tmp_path):
    household, resident = tree.households["grid_b"], tree.residents["grid_b"]
    row = (household.code, tree["grid_a"].code, household.address, "", "", "", "", "", "")

    report = import_households(write_households(tmp_path, [row]))

    assert (report.households_updated, report.residents_created) == (1, 0)
    resident.refresh_from_db()
    assert resident.area_id == tree["grid_a"].pk
    assert (resident.town_id, resident.village_id) == (tree["town_a"].pk, tree["village_a"].pk)


# --- scale ------------------------------------------------------------------------------------


def generated_county(grids: int) -> list[tuple]:
    """One county, 10 towns, a zone each, a village per two grids, `grids` grids with 3 groups each."""
    rows = [("330127", "淳安县", "county", "")]
    per_village = 2
    villages = grids // per_village
    for t in range(10):
        town = f"330127{100 + t:03d}"
        rows.append((town, f"镇{t}", "town", "330127"))
        zone = f"{town}9{t:02d}"
        rows.append((zone, f"片区{t}", "zone", town))
        for v in range(villages // 10):
            village = f"{town}{200 + v:03d}"
            rows.append((village, f"村{t}-{v}", "village", zone))
            for g in range(per_village):
                grid = f"{village}{g + 1:03d}"
                rows.append((grid, f"网格{t}-{v}-{g}", "grid", village))
                rows.extend((f"{grid}{k + 1:03d}", f"组{k}", "group", grid) for k in range(3))
    return rows


def test_a_thousand_grid_file_imports_quickly(db, tmp_path):
    rows = generated_county(1000)
    path = write_csv(tmp_path / "county.csv", rows)
    assert sum(1 for r in rows if r[2] == "grid") == 1000

    started = time.perf_counter()
    report = import_areas(path)
    elapsed = time.perf_counter() - started

    assert report.created == len(rows) > 4000
    assert elapsed < 60, f"import of {len(rows)} areas took {elapsed:.1f}s"
    before = tree_fields()
    Area.objects.rebuild()
    assert tree_fields() == before
    started = time.perf_counter()
    assert import_areas(path).unchanged == len(rows)
    assert time.perf_counter() - started < 30


@pytest.mark.django_db
def test_reimport_moves_an_existing_grid_to_another_village_keeping_its_code(tree, tmp_path):
    """A moved grid keeps its code (its identity); only new areas must extend the parent's code."""
    from django.core.management import call_command

    path = tmp_path / "move.csv"
    path.write_text("code,name,level,parent_code\n330127100201001,梦姑塘第一网格,grid,330127101001\n", encoding="utf-8")
    call_command("import_areas", str(path), stdout=io.StringIO())
    grid = Area.objects.get(code="330127100201001")
    assert grid.parent.code == "330127101001"
    assert Household.objects.get(pk=tree.households["grid_a"].pk).town_id == tree["town_b"].pk
