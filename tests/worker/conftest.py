"""Fixtures for the grid worker's phone pages: the two-town tree, the grid worker of grid_a logged
in, photos as bytes, and helpers that prepare cases through the services."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from cases import services
from cases.models import Category
from staff.choices import Role

# The magic bytes are all validate_upload looks at; the rest only has to be non-empty.
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"


def jpeg(name="scene.jpg", data=JPEG):
    return SimpleUploadedFile(name, data, content_type="image/jpeg")


@pytest.fixture
def worker(tree):
    return tree.users[Role.GRID_WORKER]


@pytest.fixture
def wclient(client, worker):
    client.force_login(worker)
    return client


def file_case(tree, *, area="grid_a", code="1401", who=Role.GRID_WORKER, **kw):
    kw.setdefault("description", "路边垃圾堆积")
    return services.case_report(
        reporter=tree.users[who], area=tree[area], category=Category.objects.get(code=code), **kw
    )


def fed_back_case(tree, *, area="grid_a", who=Role.GRID_WORKER):
    """A town-level case dispatched by the centre to dept_a, which fed back a result: waiting for
    the grid worker's on-the-spot check (核查)."""
    case = file_case(tree, area=area, code="1001", who=who, description="店门口占道经营")
    services.case_act(
        case_id=case.pk,
        action="dispatch",
        actor=tree.users[Role.CENTRE_STAFF],
        target=tree.departments["dept_a"],
    )
    return services.case_act(
        case_id=case.pk, action="submit_feedback", actor=tree.users[Role.DEPARTMENT], note="已劝离，恢复通行"
    )
