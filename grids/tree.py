"""Serialised writes to the area tree.

MPTT keeps lft/rght in every row of a tree; two writers moving nodes at once would each shift
ranges computed from a stale view and leave overlapping intervals. Every tree write takes one
lock first: a transaction-scoped advisory lock on PostgreSQL; on SQLite the IMMEDIATE transaction
mode (see settings) already takes the database write lock at BEGIN.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction

# An arbitrary 64-bit key shared by every process that writes the area tree.
AREA_TREE_LOCK_KEY = 0x67726964_74726565  # "gridtree"


@contextmanager
def tree_write_lock() -> Iterator[None]:
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [AREA_TREE_LOCK_KEY])
        yield
