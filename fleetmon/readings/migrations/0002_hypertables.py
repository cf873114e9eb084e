from django.conf import settings
from django.db import migrations

from fleetmon.timescale import make_hypertables


def forwards(apps, schema_editor):
    make_hypertables(
        schema_editor,
        {"raw_sensor_readings": "timestamp_utc", "clean_sensor_readings": "timestamp_utc"},
        settings.FLEETMON_CHUNK_INTERVAL,
    )


class Migration(migrations.Migration):
    dependencies = [("readings", "0001_initial")]

    # A hypertable cannot be turned back into a plain table; unapplying drops the tables.
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
