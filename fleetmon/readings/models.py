"""Readings tables in wide form, named as their data contracts name them (domain §2.1, §2.2).

They are TimescaleDB hypertables when the extension is there (see the migrations), so
every primary key and unique constraint includes the time column. Rows are written by
`quality.ingest` with COPY, never one by one through the ORM.
"""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models.functions import Now

from fleetmon.sensors import SENSOR_NAMES


# Field order is column order, and Django orders fields by definition: the key columns are
# defined before the sensors so that `SELECT *` reads naturally.
class ReadingKeys(models.Model):
    event_id = models.UUIDField()
    device_id = models.CharField(max_length=64)
    # The device's clock corrected to UTC, or the ingestion time when it drifted > 24 h.
    timestamp_utc = models.DateTimeField()

    class Meta:
        abstract = True


class LandingTimes(models.Model):
    timestamp_device = models.DateTimeField()
    timestamp_ingested = models.DateTimeField()

    class Meta:
        abstract = True


class SensorColumns(models.Model):
    """The 14 sensors of fleetmon.sensors.SENSORS, nullable, in catalogue order."""

    temperature_evaporator = models.FloatField(null=True)
    temperature_condenser = models.FloatField(null=True)
    temperature_ambient = models.FloatField(null=True)
    temperature_discharge = models.FloatField(null=True)
    temperature_suction = models.FloatField(null=True)
    pressure_high_side = models.FloatField(null=True)
    pressure_low_side = models.FloatField(null=True)
    current_compressor = models.FloatField(null=True)
    vibration_compressor = models.FloatField(null=True)
    humidity = models.FloatField(null=True)
    door_open_close = models.BooleanField(null=True)
    defrost_cycle = models.BooleanField(null=True)
    superheat = models.FloatField(null=True)
    subcooling = models.FloatField(null=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.device_id} @ {self.timestamp_utc:%Y-%m-%d %H:%M:%S}"

    def sensor_values(self) -> dict[str, float | bool | None]:
        return {name: getattr(self, name) for name in SENSOR_NAMES}


class ReadingBase(ReadingKeys, SensorColumns):
    """Columns shared by clean, quarantined and dead-lettered readings.

    The key leads with (device, time): it is also the index every per-device time-range
    query uses, so these tables carry one index. event_id uniqueness is enforced upstream,
    by the landing table's key.
    """

    pk = models.CompositePrimaryKey("device_id", "timestamp_utc", "event_id")
    quality_flags = ArrayField(models.TextField(), default=list)
    sensor_null_count = models.SmallIntegerField()

    class Meta:
        abstract = True


class RawSensorReading(ReadingKeys, LandingTimes, SensorColumns):
    """C1 landing zone: every message that passed the type checks, values as received.

    Partitioned by `timestamp_utc` like the clean table, so dedup look-ups prune chunks.
    """

    pk = models.CompositePrimaryKey("event_id", "timestamp_utc")
    partition_key = models.CharField(max_length=64, db_column="_partition_key")
    sequence_number = models.BigIntegerField(
        db_column="_sequence_number",
        db_default=models.Func(
            models.Value("raw_sensor_readings_seq"),
            function="nextval",
            output_field=models.BigIntegerField(),
        ),
    )

    class Meta:
        db_table = "raw_sensor_readings"
        constraints = [
            # Also the (device, device timestamp) dedup index; see quality.ingest.
            models.UniqueConstraint(
                fields=["device_id", "timestamp_utc", "timestamp_device"],
                name="raw_device_time_unique",
            )
        ]


class CleanSensorReading(ReadingBase):
    """C2: deduplicated, registry-checked, range-validated readings with quality flags."""

    class Meta:
        db_table = "clean_sensor_readings"


class StreamOutbox(models.Model):
    """A readings-stream message committed with its readings, not yet appended to Redis.

    Written in the ingest transaction, deleted once in the stream (fleetmon.streams).
    """

    partition = models.SmallIntegerField()
    payload = models.BinaryField(help_text="the readings of the message, JSON")
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        db_table = "stream_outbox"
        indexes = [models.Index(fields=["partition", "id"], name="stream_outbox_partition")]

    def __str__(self) -> str:
        return f"outbox {self.pk} (partition {self.partition})"


class StreamProgress(models.Model):
    """How far the streaming rules got for a device: its last reading with committed alerts."""

    device_id = models.CharField(max_length=64, primary_key=True)
    evaluated_through = models.DateTimeField()

    class Meta:
        db_table = "stream_progress"

    def __str__(self) -> str:
        return f"{self.device_id} evaluated through {self.evaluated_through:%Y-%m-%d %H:%M:%S}"
