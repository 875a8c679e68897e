"""Household.last_visited_on, kept by triggers on grids_visit.

The latest visit date of each household is needed by the dashboard's household rollup
(cases/dashboard/rollup.py): the households visited in a period that ends today are those whose
latest visit falls in it. Every write to grids_visit (the ORM, bulk loads, raw SQL) goes through
the triggers, so the column cannot drift from the visits: on PostgreSQL one statement-level
trigger per event recomputes the households a statement touched; on SQLite row-level triggers do
the same per row.
"""

from django.db import migrations, models

_LATEST = "(SELECT max(v.date) FROM grids_visit v WHERE v.household_id = grids_household.id)"

POSTGRES = [
    f"""
    CREATE OR REPLACE FUNCTION grids_visit_latest() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            UPDATE grids_household SET last_visited_on = {_LATEST}
            WHERE id IN (SELECT household_id FROM new_rows)
              AND last_visited_on IS DISTINCT FROM {_LATEST};
        ELSIF TG_OP = 'UPDATE' THEN
            UPDATE grids_household SET last_visited_on = {_LATEST}
            WHERE id IN (SELECT household_id FROM new_rows UNION SELECT household_id FROM old_rows)
              AND last_visited_on IS DISTINCT FROM {_LATEST};
        ELSE
            UPDATE grids_household SET last_visited_on = {_LATEST}
            WHERE id IN (SELECT household_id FROM old_rows)
              AND last_visited_on IS DISTINCT FROM {_LATEST};
        END IF;
        RETURN NULL;
    END
    $fn$
    """,
    "CREATE TRIGGER grids_visit_latest_ins AFTER INSERT ON grids_visit REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION grids_visit_latest()",
    "CREATE TRIGGER grids_visit_latest_upd AFTER UPDATE ON grids_visit "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION grids_visit_latest()",
    "CREATE TRIGGER grids_visit_latest_del AFTER DELETE ON grids_visit REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION grids_visit_latest()",
]
POSTGRES_DROP = [
    *(f"DROP TRIGGER IF EXISTS grids_visit_latest_{s} ON grids_visit" for s in ("ins", "upd", "del")),
    "DROP FUNCTION IF EXISTS grids_visit_latest()",
]


def _sqlite_latest(ref: str) -> str:
    return (
        f"UPDATE grids_household SET last_visited_on = "
        f"(SELECT max(v.date) FROM grids_visit v WHERE v.household_id = {ref}.household_id) "
        f"WHERE id = {ref}.household_id;"
    )


SQLITE = [
    f"CREATE TRIGGER grids_visit_latest_ins AFTER INSERT ON grids_visit BEGIN {_sqlite_latest('NEW')} END",
    f"CREATE TRIGGER grids_visit_latest_upd AFTER UPDATE ON grids_visit BEGIN "
    f"{_sqlite_latest('NEW')} {_sqlite_latest('OLD')} END",
    f"CREATE TRIGGER grids_visit_latest_del AFTER DELETE ON grids_visit BEGIN {_sqlite_latest('OLD')} END",
]
SQLITE_DROP = [f"DROP TRIGGER IF EXISTS grids_visit_latest_{s}" for s in ("ins", "upd", "del")]


def _run(schema_editor, statements: dict[str, list[str]]) -> None:
    for sql in statements.get(schema_editor.connection.vendor, []):
        schema_editor.execute(sql)


def install(apps, schema_editor):
    _run(schema_editor, {"postgresql": POSTGRES, "sqlite": SQLITE})
    schema_editor.execute(
        f"UPDATE grids_household SET last_visited_on = {_LATEST} "
        "WHERE id IN (SELECT household_id FROM grids_visit)"
    )


def uninstall(apps, schema_editor):
    _run(schema_editor, {"postgresql": POSTGRES_DROP, "sqlite": SQLITE_DROP})


class Migration(migrations.Migration):
    dependencies = [("grids", "0004_boundaries")]

    operations = [
        migrations.AddField(
            model_name="household",
            name="last_visited_on",
            field=models.DateField(blank=True, editable=False, null=True, verbose_name="最近走访日期"),
        ),
        migrations.RunPython(install, uninstall),
    ]
