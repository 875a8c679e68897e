"""docs/assessment.md documents every measure of the registry and the default rule set as shipped."""

import re
from decimal import Decimal
from importlib import import_module
from pathlib import Path

from assessment.measures import REGISTRY

DOC = (Path(__file__).resolve().parents[2] / "docs" / "assessment.md").read_text(encoding="utf-8")


def test_every_measure_has_its_own_section():
    documented = set(re.findall(r"^### `([a-z_]+)`", DOC, flags=re.M))
    assert documented == set(REGISTRY)


def test_the_default_rule_table_matches_the_migration():
    shipped = import_module("assessment.migrations.0002_default_rules").DEFAULT_RULES
    rows = re.findall(
        r"^\| ([a-z]{2}_[a-z_]+) \| (.+?) \| ([a-z_]+) \| ([a-z_]+) \| (\S+) \| (\S+) \|$", DOC, flags=re.M
    )
    documented = [
        (code, name, kind, measure, Decimal(points.replace("−", "-").lstrip("+")), None if cap == "—" else Decimal(cap))
        for code, name, kind, measure, points, cap in rows
    ]
    expected = [
        (code, name, kind, measure, Decimal(points), Decimal(cap) if cap else None)
        for code, name, kind, measure, points, cap in shipped
    ]
    assert documented == expected
