from django.conf import settings
from django.db import migrations

from fleetmon.timescale import make_hypertables


def forwards(apps, schema_editor):
    make_hypertables(
        schema_editor,
        {
            "quarantine_sensor_readings": "timestamp_utc",
            "dead_letter_sensor_readings": "timestamp_utc",
        },
        settings.FLEETMON_CHUNK_INTERVAL,
    )


class Migration(migrations.Migration):
    dependencies = [("quality", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
