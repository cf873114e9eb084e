"""Where readings go when they cannot go on: quarantine and dead letter (contract C2)."""

from django.db import models

from fleetmon.readings.models import ReadingBase


class QuarantineReason(models.TextChoices):
    DEVICE_UNKNOWN = "DEVICE_UNKNOWN"


class DeadLetterReason(models.TextChoices):
    ALL_SENSORS_NULL = "ALL_SENSORS_NULL"


class QuarantineSensorReading(ReadingBase):
    """Readings from devices the registry does not know; kept so they can be replayed."""

    reason = models.CharField(max_length=32, choices=QuarantineReason.choices)
    timestamp_ingested = models.DateTimeField()

    class Meta:
        db_table = "quarantine_sensor_readings"


class DeadLetterSensorReading(ReadingBase):
    """Readings with no usable sensor value. Sensor columns hold the values as received."""

    reason = models.CharField(max_length=32, choices=DeadLetterReason.choices)
    timestamp_ingested = models.DateTimeField()

    class Meta:
        db_table = "dead_letter_sensor_readings"
