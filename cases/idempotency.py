"""Idempotent filing: the first result of (user, Idempotency-Key) is kept, and a retry with the same
key gets that result back and creates nothing. Shared by the API (CaseViewSet.create) and the grid
worker's report form, which sends a key generated when the form was rendered, so a double tap, a
browser retry or a draft resent from the phone files one case.

Concurrency: the key row is created in the same transaction as the case. A second request with the
same key blocks on the unique (user, key) index until the first commits, then reads its row and
replays it; if the first attempt fails, its transaction (key row included) rolls back and the key
can be used again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from .models import IdempotencyKey

MAX_KEY_LENGTH = 100


def clean_key(value: str | None) -> str:
    return (value or "").strip()[:MAX_KEY_LENGTH]


def request_hash(data: Any) -> str:
    """A digest of what was submitted, to tell a retry from a different submission under the same key."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class Recorded:
    """What a first attempt produced: `value` goes back to the caller, the rest is stored for replays."""

    value: Any
    case_id: int | None
    status_code: int
    response: Any


@dataclass
class Outcome:
    row: IdempotencyKey
    replayed: bool
    #: A replay whose request differs from the first one under this key (the first result stands).
    mismatch: bool = False
    #: The first attempt's `Recorded.value` (None on replay).
    value: Any = None

    @property
    def case_id(self) -> int | None:
        return self.row.case_id

    @property
    def status_code(self) -> int | None:
        return self.row.status_code

    @property
    def response(self) -> Any:
        return self.row.response


def run_once(*, user, key: str, digest: str, action: Callable[[], Recorded]) -> Outcome:
    """Run `action` once per (user, key). `action` returns a Recorded, or raises to roll back (the
    key is then free for a retry) — the exception propagates to the caller."""
    with transaction.atomic():
        row, created = IdempotencyKey.objects.get_or_create(user=user, key=key, defaults={"request_hash": digest})
        if created:
            result = action()
            row.case_id = result.case_id
            row.status_code = result.status_code
            row.response = result.response
            row.save(update_fields=["case", "status_code", "response"])
            return Outcome(row=row, replayed=False, value=result.value)
    return Outcome(row=row, replayed=True, mismatch=row.request_hash != digest)


class RolledBack(Exception):
    """Raise from an action to roll the attempt back and hand `value` to the caller (e.g. an API
    response with status ≥ 400 that must not be stored under the key)."""

    def __init__(self, value: Any) -> None:
        super().__init__("rolled back")
        self.value = value
