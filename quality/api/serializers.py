"""Shapes of the ingest API, for the OpenAPI schema. Validation is the contract's job
(quality.checks.readings), which reports per-row errors these serializers cannot."""

from drf_spectacular.extensions import OpenApiSerializerExtension
from rest_framework import serializers

from fleetmon.sensors import SENSORS


def _reading_fields() -> dict[str, serializers.Field]:
    return {
        s.name: (
            serializers.BooleanField(required=False, allow_null=True)
            if s.kind == "boolean"
            else serializers.FloatField(
                required=False, allow_null=True, help_text=f"{s.unit}, valid {s.low}…{s.high}"
            )
        )
        for s in SENSORS
    }


ReadingsSerializer = type("ReadingsSerializer", (serializers.Serializer,), _reading_fields())


class IngestMessageSerializer(serializers.Serializer):
    device_id = serializers.CharField(max_length=64, help_text="e.g. REF-US-W-00042371")
    timestamp = serializers.DateTimeField(
        help_text="ISO-8601 with a UTC offset (Z, or one that is converted); "
        "a timestamp without an offset is a row error"
    )
    readings = ReadingsSerializer(help_text="sensor name -> value; a missing sensor is omitted")
    event_id = serializers.UUIDField(
        required=False, help_text="dedup key; derived from device and timestamp when absent"
    )


class _ClosedObject(OpenApiSerializerExtension):
    """A message or its readings with a key of its own is a row error: the schema says so."""

    target_class = IngestMessageSerializer

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        return {**schema, "additionalProperties": False}


class _ClosedReadings(_ClosedObject):
    target_class = ReadingsSerializer


class RowErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="position of the message in the batch")
    field = serializers.CharField()
    reason = serializers.CharField()


class IngestResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="written to clean_sensor_readings")
    flagged = serializers.IntegerField(help_text="accepted rows with quality flags")
    quarantined = serializers.IntegerField(help_text="unknown device: quarantine_sensor_readings")
    dead_lettered = serializers.IntegerField(help_text="every sensor null: dead letter")
    duplicates = serializers.IntegerField(help_text="already stored or repeated in the batch")
    rejected = serializers.IntegerField(help_text="rows that failed the type checks, not stored")
    errors = RowErrorSerializer(many=True)
