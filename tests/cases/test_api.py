"""The case API: filing with idempotency keys, scope, actions and their error codes, events,
attachments, categories and notifications."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cases.models import Attachment, Case, Notification
from staff.choices import Role

pytestmark = pytest.mark.django_db
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF" + b"\x00" * 200


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def upload(client, content=JPEG, name="photo.jpg"):
    return client.post(reverse("attachment-list"), {"file": SimpleUploadedFile(name, content)}, format="multipart")


def file_case(client, tree, key=None, **extra):
    body = {"area": tree["grid_a"].pk, "category": "0202", "description": "路口有人聚集滋事", **extra}
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(reverse("case-list"), body, format="json", **headers)


def test_grid_worker_files_a_case_with_a_photo(tree, api_client):
    api_client.force_authenticate(tree.users[Role.GRID_WORKER])
    att = upload(api_client).json()
    response = file_case(api_client, tree, attachments=[att["id"]], latitude="29.6", longitude="119.0")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["state"] == "reported" and data["number"].startswith("20")
    assert data["allowed_actions"] == ["self_resolve"]
    assert [a["id"] for a in data["attachments"]] == [att["id"]]
    assert data["owner"] == "千岛湖镇"


def test_the_same_idempotency_key_files_once(tree, api_client):
    api_client.force_authenticate(tree.users[Role.GRID_WORKER])
    first = file_case(api_client, tree, key="k-123")
    again = file_case(api_client, tree, key="k-123")
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert Case.objects.count() == 1
    other = file_case(api_client, tree, key="k-123", description="另一件事")
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert Case.objects.count() == 1


def test_a_failed_attempt_does_not_burn_the_key(tree, api_client):
    api_client.force_authenticate(tree.users[Role.GRID_WORKER])
    bad = file_case(api_client, tree, key="k-9", description="")
    assert bad.status_code == 400 and "description" in bad.json()["errors"]
    good = file_case(api_client, tree, key="k-9")
    assert good.status_code == 201 and Case.objects.count() == 1


def test_filing_outside_scope_is_refused(tree, api_client):
    api_client.force_authenticate(tree.users[Role.GRID_WORKER])
    response = file_case(api_client, tree, area=tree["grid_b"].pk)
    assert response.status_code == 400 and "area" in response.json()["errors"]
    assert not Case.objects.exists()


def test_case_lists_and_details_are_scoped(tree, api_client):
    api_client.force_authenticate(tree.users[Role.GRID_WORKER])
    case_id = file_case(api_client, tree).json()["id"]
    api_client.force_authenticate(tree.users["worker_b"])
    assert api_client.get(reverse("case-list")).json()["results"] == []
    assert api_client.get(reverse("case-detail", args=[case_id])).status_code == 404
    assert api_client.get(reverse("case-events", args=[case_id])).status_code == 404
    response = api_client.post(reverse("case-act", args=[case_id, "accept"]), {}, format="json")
    assert response.status_code == 404
    api_client.force_authenticate(tree.users[Role.CENTRE_STAFF])
    listed = api_client.get(reverse("case-list"), {"state": "reported", "within": tree["town_a"].pk}).json()
    assert [c["id"] for c in listed["results"]] == [case_id]
    assert api_client.get(reverse("case-list"), {"within": tree["town_b"].pk}).json()["results"] == []


def test_action_errors_have_codes(tree, api_client):
    api_client.force_authenticate(tree.users[Role.GRID_WORKER])
    case = file_case(api_client, tree).json()
    url = lambda action: reverse("case-act", args=[case["id"], action])  # noqa: E731

    # Visible but not yours: 403.
    forbidden = api_client.post(url("accept"), {}, format="json")
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "permission_denied"
    # Not legal in this state: 409.
    illegal = api_client.post(url("verify"), {}, format="json")
    assert illegal.status_code == 409 and illegal.json()["code"] == "illegal_transition"
    # Unknown action: 404.
    assert api_client.post(url("teleport"), {}, format="json").status_code == 404

    api_client.force_authenticate(tree.users[Role.CENTRE_STAFF])
    # Missing reason: 400 with a Chinese field error.
    missing = api_client.post(url("reject"), {"version": case["version"]}, format="json")
    assert missing.status_code == 400 and missing.json()["errors"]["note"] == ["此项为必填项"]
    bad_target = api_client.post(url("dispatch"), {"target": {"area": tree["grid_b"].pk}}, format="json")
    assert bad_target.status_code == 400 and "target" in bad_target.json()["errors"]

    ok = api_client.post(url("accept"), {"version": case["version"]}, format="json")
    assert ok.status_code == 200 and ok.json()["state"] == "handling"
    stale = api_client.post(url("reject"), {"version": case["version"], "note": "重复"}, format="json")
    assert stale.status_code == 409 and stale.json()["code"] == "conflict"
    assert "a_centre_staff" in stale.json()["detail"]
    assert Case.objects.get(pk=case["id"]).state == "handling"


def test_dispatch_by_api_and_the_timeline(tree, api_client):
    api_client.force_authenticate(tree.users[Role.GRID_WORKER])
    case = file_case(api_client, tree).json()
    api_client.force_authenticate(tree.users[Role.CENTRE_STAFF])
    response = api_client.post(
        reverse("case-act", args=[case["id"], "dispatch"]),
        {"target": {"department": tree.departments["dept_a"].pk}, "note": "请核查处理"},
        format="json",
    )
    assert response.status_code == 200 and response.json()["owner"] == "千岛湖镇综合执法队"
    events = api_client.get(reverse("case-events", args=[case["id"]])).json()
    assert [(e["action"], e["to_state"]) for e in events] == [("report", "reported"), ("dispatch", "handling")]
    assert events[1]["action_display"] == "派遣" and events[1]["owner_after"] == "千岛湖镇综合执法队"


def test_wrong_file_type_and_oversize_are_refused_and_nothing_is_stored(tree, api_client, settings, media):
    api_client.force_authenticate(tree.users[Role.GRID_WORKER])
    fake = upload(api_client, content=b"MZ\x90\x00 not an image", name="photo.jpg")
    assert fake.status_code == 400 and fake.json()["code"] == "file_type"
    settings.GRIDGOV_MAX_UPLOAD_BYTES = 100
    big = upload(api_client)
    assert big.status_code == 400 and big.json()["code"] == "file_too_large"
    assert not Attachment.objects.exists()
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))


def test_attachment_download_is_scoped(tree, api_client):
    api_client.force_authenticate(tree.users[Role.GRID_WORKER])
    att = upload(api_client).json()
    file_case(api_client, tree, attachments=[att["id"]])
    download = api_client.get(att["url"])
    assert download.status_code == 200 and b"".join(download.streaming_content) == JPEG
    api_client.force_authenticate(tree.users["worker_b"])
    assert api_client.get(att["url"]).status_code == 404
    # Someone else's unattached upload cannot be used either.
    stray = upload(api_client).json()
    api_client.force_authenticate(tree.users[Role.GRID_WORKER])
    response = file_case(api_client, tree, attachments=[stray["id"]])
    assert response.status_code == 400 and "attachments" in response.json()["errors"]


def test_categories_and_notifications(tree, api_client, django_capture_on_commit_callbacks):
    api_client.force_authenticate(tree.users[Role.GRID_WORKER])
    categories = api_client.get(reverse("category-list")).json()
    assert {"code": "0202", "name": "治安隐患"}.items() <= next(c for c in categories if c["code"] == "0202").items()
    with django_capture_on_commit_callbacks(execute=True):
        case = file_case(api_client, tree).json()
    api_client.force_authenticate(tree.users[Role.CENTRE_STAFF])
    inbox = api_client.get(reverse("notification-list")).json()
    assert inbox["unread_count"] == 1 and case["number"] in inbox["results"][0]["message"]
    note_id = inbox["results"][0]["id"]
    assert api_client.post(reverse("notification-read", args=[note_id])).json()["is_read"] is True
    assert api_client.get(reverse("notification-list")).json()["unread_count"] == 0
    assert Notification.objects.filter(recipient=tree.users[Role.GRID_WORKER]).count() == 0


def test_admin_edits_the_catalogue_and_sees_cases_read_only(tree, client, api_client):
    api_client.force_authenticate(tree.users[Role.GRID_WORKER])
    case = file_case(api_client, tree).json()
    root = tree.users["nobody"]
    root.is_staff = root.is_superuser = True
    root.save()
    client.force_login(root)
    from cases.models import Category

    parent = Category.objects.get(code="02")
    assert client.get(reverse("admin:cases_category_change", args=[parent.pk])).status_code == 200
    page = client.get(reverse("admin:cases_case_change", args=[case["id"]])).content.decode()
    assert case["number"] in page and "上报" in page
    assert client.get(reverse("admin:cases_case_add")).status_code == 403
