"""TimescaleDB when the database has it, plain PostgreSQL when it does not."""

from django.db.backends.base.base import BaseDatabaseWrapper


def timescaledb_available(connection: BaseDatabaseWrapper) -> bool:
    """Say whether the server can load the timescaledb extension."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")
        return cursor.fetchone() is not None


def timescaledb_installed(connection: BaseDatabaseWrapper) -> bool:
    """Say whether the extension is created in this database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
        return cursor.fetchone() is not None


def is_hypertable(connection: BaseDatabaseWrapper, table: str) -> bool:
    if not timescaledb_installed(connection):
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_name = %s",
            [table],
        )
        return cursor.fetchone() is not None


def make_hypertables(schema_editor, tables: dict[str, str], chunk_interval: str) -> None:
    """Turn `tables` ({table: time column}) into hypertables if TimescaleDB is there.

    On plain PostgreSQL this does nothing: every query FleetMon runs is portable SQL
    (`date_bin`, ordinary indexes), so the tables simply stay ordinary tables.
    """
    connection = schema_editor.connection
    if not timescaledb_available(connection):
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    for table, time_column in tables.items():
        schema_editor.execute(
            "SELECT create_hypertable(%s, by_range(%s, %s::interval),"
            " create_default_indexes => false, migrate_data => true)",
            [table, time_column, chunk_interval],
        )
