"""GeoJSON import (dry run vs apply, matching by code or unique name, all-or-nothing, checked
against the tree as it will be) and export (commands, pages)."""

import datetime as dt
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from grids.boundaries import BoundaryFileError, export_boundaries, import_boundaries
from grids.boundary_models import BoundaryVersion
from grids.models import Area
from staff.choices import Role
from tests.boundaries.conftest import LAYOUT, add_grid, rect

pytestmark = pytest.mark.django_db


def feature(geometry, **properties) -> dict:
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def collection(*features) -> dict:
    return {"type": "FeatureCollection", "features": list(features)}


@pytest.fixture
def town_file(tree):
    """The whole of LAYOUT by code, as a vendor would deliver it."""
    return collection(*(feature(geometry, code=tree[key].code) for key, geometry in LAYOUT.items()))


def test_dry_run_lists_every_feature_and_writes_nothing(tree, town_file):
    report = import_boundaries(town_file, dry_run=True)
    assert report.ok and len(report.matched) == len(LAYOUT)
    assert not BoundaryVersion.objects.exists()
    assert not Area.objects.filter(boundary__isnull=False).exists()


def test_apply_writes_one_version_per_area_in_one_go(tree, town_file, django_user_model):
    user = tree.users[Role.ADMIN]
    report = import_boundaries(town_file, author=user, effective_from=dt.date(2026, 1, 1), note="2026 年划分")
    assert report.applied and report.versions == len(LAYOUT)
    version = BoundaryVersion.objects.get(area=tree["grid_a"])
    assert version.kind == "import" and version.author == user and version.note == "2026 年划分"
    assert version.effective_from == dt.date(2026, 1, 1)
    tree["grid_a"].refresh_from_db()
    assert tree["grid_a"].boundary == version.geometry
    # Importing the same file again is a no-op: every feature unchanged.
    again = import_boundaries(town_file)
    assert len(again.unchanged) == len(LAYOUT) and again.versions == 0


def test_one_bad_feature_blocks_the_whole_file(tree, town_file):
    bow_tie = {
        "type": "Polygon",
        "coordinates": [[[119.0, 29.6], [119.01, 29.61], [119.01, 29.6], [119.0, 29.61], [119.0, 29.6]]],
    }
    town_file["features"].append(feature(bow_tie, name="文昌片区"))  # zone_b again, by name
    town_file["features"].append(feature(rect(0, 0, 10, 10), code="999999"))
    report = import_boundaries(town_file)
    assert not report.ok and not report.applied
    assert [(f.index, f.status) for f in report.invalid] == [(len(LAYOUT) + 1, "invalid")]
    assert "同一区域" in report.invalid[0].reasons[0]
    assert [f.index for f in report.unmatched] == [len(LAYOUT) + 2]
    assert "999999 不存在" in report.unmatched[0].reasons[0]
    assert not BoundaryVersion.objects.exists()
    assert "未写入任何数据" in report.failure_message()


def test_features_are_matched_by_unique_name_when_there_is_no_code(tree):
    add_grid(tree, "002", "梦姑塘第一网格", parent_key="zone_a")  # a second area of that name (another parent)
    report = import_boundaries(
        collection(
            feature(LAYOUT["zone_b"], name="文昌片区"),
            feature(LAYOUT["grid_a"], name="梦姑塘第一网格"),
            feature(LAYOUT["grid_a"], 名称="不存在的网格"),
            feature(LAYOUT["grid_a"]),
        ),
        dry_run=True,
    )
    statuses = [(f.index, f.status) for f in report.features]
    assert statuses == [(1, "matched"), (2, "unmatched"), (3, "unmatched"), (4, "unmatched")]
    assert "多个区域" in report.features[1].reasons[0]
    assert "不存在" in report.features[2].reasons[0]
    assert "properties.code" in report.features[3].reasons[0]


def test_geometry_problems_are_reported_per_feature(tree, town_file):
    swapped = {"type": "Polygon", "coordinates": [[[29.6, 119.0], [29.61, 119.0], [29.61, 119.01], [29.6, 119.0]]]}
    town_file["features"][-1]["geometry"] = swapped  # grid_b
    town_file["features"][4]["geometry"] = rect(0, 5000, 5000, 10000)  # special_a overlaps zone_a by 1000 m
    report = import_boundaries(town_file, dry_run=True)
    invalid = {f.code: f.reasons for f in report.invalid}
    assert "经纬度" in invalid[tree["grid_b"].code][0]
    assert any("重叠" in r for r in invalid[tree["special_a"].code])
    assert any("重叠" in r for r in invalid[tree["zone_a"].code])  # and the other way round


def test_siblings_are_checked_against_the_file_not_the_old_boundaries(tree):
    # Given two grids already drawn side by side,
    second = add_grid(tree, "002", "二网格")
    import_boundaries(
        collection(
            feature(LAYOUT["village_a"], code=tree["village_a"].code),
            feature(rect(0, 0, 2500, 6000), code=tree["grid_a"].code),
            feature(rect(2500, 0, 5000, 6000), code=second.code),
        )
    )
    # when a new file moves their shared edge, each new boundary overlaps the other's old one,
    # but not its new one: the import passes.
    report = import_boundaries(
        collection(
            feature(rect(0, 0, 3000, 6000), code=tree["grid_a"].code),
            feature(rect(3000, 0, 5000, 6000), code=second.code),
        )
    )
    assert report.applied, [str(f) for f in report.features]


def test_an_unreadable_file_is_a_file_error(tmp_path):
    bad = tmp_path / "bad.geojson"
    bad.write_text("{ not json", encoding="utf-8")
    with pytest.raises(BoundaryFileError, match="JSON"):
        import_boundaries(bad)
    with pytest.raises(BoundaryFileError, match="FeatureCollection"):
        import_boundaries({"type": "Polygon", "coordinates": []})
    with pytest.raises(BoundaryFileError, match="不存在"):
        import_boundaries(tmp_path / "missing.geojson")


def test_only_areas_the_user_administers_are_matched(tree):
    from staff.models import Post

    town_admin = tree.users[Role.CENTRE_STAFF]
    Post.objects.create(user=town_admin, role=Role.ADMIN, area=tree["town_a"])
    report = import_boundaries(
        collection(
            feature(LAYOUT["grid_a"], code=tree["grid_a"].code), feature(LAYOUT["grid_b"], code=tree["grid_b"].code)
        ),
        dry_run=True,
        user=town_admin,
    )
    assert [f.status for f in report.features] == ["matched", "unmatched"]
    assert "管理范围" in report.features[1].reasons[0]


# --- commands -------------------------------------------------------------------------------


def test_commands_round_trip(tree, town_file, tmp_path, capsys):
    path = tmp_path / "county.geojson"
    path.write_text(json.dumps(town_file, ensure_ascii=False), encoding="utf-8")
    call_command("import_boundaries", str(path), "--dry-run")
    out = capsys.readouterr().out
    assert "试运行：未写入任何数据" in out and "匹配 9" in out
    assert not BoundaryVersion.objects.exists()
    call_command("import_boundaries", str(path), "--effective-from", "2026-01-01")
    assert BoundaryVersion.objects.count() == len(LAYOUT)
    exported = tmp_path / "town.geojson"
    call_command("export_boundaries", "--root", tree["town_a"].code, "--output", str(exported))
    data = json.loads(exported.read_text(encoding="utf-8"))
    codes = [f["properties"]["code"] for f in data["features"]]
    assert codes == [tree[k].code for k in ("town_a", "zone_a", "village_a", "grid_a", "special_a")]
    assert data["features"][0]["properties"]["effective_from"] == "2026-01-01"
    # The export reads back as unchanged.
    report = import_boundaries(exported, dry_run=True)
    assert len(report.unchanged) == 5
    everything = export_boundaries()
    assert len(everything["features"]) == len(LAYOUT)


def test_import_command_fails_loudly_and_lists_the_bad_features(tree, tmp_path, capsys):
    path = tmp_path / "bad.geojson"
    path.write_text(json.dumps(collection(feature(rect(0, 0, 10, 10), code="42"))), encoding="utf-8")
    with pytest.raises(CommandError, match="未写入任何数据"):
        call_command("import_boundaries", str(path))
    assert "42 不存在" in capsys.readouterr().err
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("import_boundaries", str(path), "--effective-from", "next week")


def test_export_command_unknown_root(tree):
    with pytest.raises(CommandError, match="不存在"):
        call_command("export_boundaries", "--root", "1")


# --- the admin page -------------------------------------------------------------------------


def upload(data: dict) -> SimpleUploadedFile:
    return SimpleUploadedFile("county.geojson", json.dumps(data).encode(), content_type="application/geo+json")


def test_import_page_dry_run_then_apply(tree, town_file, client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(tree.users[Role.ADMIN])
    url = reverse("boundaries:import")
    assert client.get(url).status_code == 200
    page = client.post(url, {"action": "dry_run", "file": upload(town_file), "effective_from": "2026-01-01"})
    html = page.content.decode()
    assert page.status_code == 200 and html.count('data-status="matched"') == len(LAYOUT)
    assert not BoundaryVersion.objects.exists()
    token = page.context["token"]
    page = client.post(url, {"action": "apply", "token": token, "effective_from": "2026-01-01", "note": ""})
    assert page.status_code == 200
    assert BoundaryVersion.objects.count() == len(LAYOUT)
    assert not list((tmp_path / "boundary_imports").iterdir())
    # The same token cannot be applied twice.
    page = client.post(url, {"action": "apply", "token": token})
    assert page.status_code == 302 and BoundaryVersion.objects.count() == len(LAYOUT)


def test_import_page_shows_reasons_and_offers_no_apply(tree, client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(tree.users[Role.ADMIN])
    page = client.post(reverse("boundaries:import"), {"file": upload(collection(feature(rect(0, 0, 9, 9), code="7")))})
    html = page.content.decode()
    assert 'data-status="unmatched"' in html and "7 不存在" in html and 'id="apply"' not in html


def test_import_page_is_for_admins_only(tree, client):
    client.force_login(tree.users[Role.CENTRE_STAFF])
    assert client.get(reverse("boundaries:import")).status_code == 403


def test_export_page_downloads_the_subtree(tree, town_file, client):
    import_boundaries(town_file)
    client.force_login(tree.users[Role.CENTRE_STAFF])
    response = client.get(reverse("boundaries:export", args=[tree["zone_a"].pk]))
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    assert len(json.loads(response.content)["features"]) == 3
    client.force_login(tree.users["worker_b"])
    assert client.get(reverse("boundaries:export", args=[tree["zone_a"].pk])).status_code == 404
