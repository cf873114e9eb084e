from django.conf import settings
from django.db import migrations

from fleetmon.timescale import make_hypertables


def forwards(apps, schema_editor):
    make_hypertables(
        schema_editor,
        {"device_features": "window_start", "model_scores": "window_end"},
        settings.FLEETMON_CHUNK_INTERVAL,
    )


class Migration(migrations.Migration):
    dependencies = [("scoring", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
