"""Shapes of the scoring API: input serializers parse requests, output serializers render
rows. Rules (roles, reasons, what may be rolled back) belong to scoring.services."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from scoring.detectors.registry import DETECTORS
from scoring.models import (
    ModelRole,
    ModelScore,
    ModelVersion,
    ModelVersionEvent,
    RunStatus,
    ScoringRun,
    ScoringShard,
)

KINDS = sorted(DETECTORS)
# Names the allowed kinds, so a typo is answered with the list to choose from.
INVALID_KIND = f'"{{input}}" is not a model kind; choose one of {", ".join(KINDS)}'


def _kind_field(**kwargs) -> serializers.ChoiceField:
    return serializers.ChoiceField(
        choices=KINDS, error_messages={"invalid_choice": INVALID_KIND}, **kwargs
    )


# TRICKY: documented as plain strings. As an enum, the list would repeat the `kind` choice
# set under a second name (KindsEnum), which drf-spectacular warns about; fixing that needs
# ENUM_NAME_OVERRIDES in settings. Validation is unchanged: each item is a ChoiceField.
@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string"},
        "description": f"any of {', '.join(KINDS)}; default: every kind with a scoring role",
    }
)
class KindListField(serializers.ListField):
    pass


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


# ---------------------------------------------------------------- model registry


class ModelVersionFilterSerializer(serializers.Serializer):
    kind = _kind_field(required=False)
    role = serializers.ChoiceField(choices=ModelRole.choices, required=False)


class ModelVersionEventOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelVersionEvent
        fields = ["at", "actor", "action", "from_role", "to_role", "reason", "details"]


class ModelVersionOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelVersion
        fields = [
            "model_id",
            "kind",
            "version",
            "role",
            "granularity",
            "window_minutes",
            "threshold",
            "training_window_start",
            "training_window_end",
            "training_rows",
            "training_devices",
            "created_at",
            "created_by",
            "promoted_at",
        ]


class ModelVersionDetailOutputSerializer(serializers.ModelSerializer):
    events = ModelVersionEventOutputSerializer(many=True, read_only=True)

    class Meta:
        model = ModelVersion
        fields = ModelVersionOutputSerializer.Meta.fields + [
            "feature_names",
            "imputation_method",
            "params",
            "training_statistics",
            "artifact_sha256",
            "artifact_format_version",
            "events",
        ]


class ModelPromoteInputSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=ModelRole.choices)
    # Optional here on purpose: the registry refuses a blank reason with its own message.
    reason = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="required by the registry"
    )


class ModelRollbackInputSerializer(serializers.Serializer):
    kind = _kind_field()
    reason = serializers.CharField(help_text="recorded in the audit trail")


class ModelTrainInputSerializer(serializers.Serializer):
    kind = _kind_field()


class TaskOutputSerializer(serializers.Serializer):
    task_id = serializers.CharField()


# ---------------------------------------------------------------- scoring runs


class ScoringRunInputSerializer(serializers.Serializer):
    kinds = KindListField(child=_kind_field(), required=False)
    device_id = serializers.CharField(
        max_length=64, required=False, allow_blank=True, default="", help_text="default: all"
    )
    window_end = serializers.DateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="end of the 15-minute window to score; default: the last closed window",
    )


class ScoringShardOutputSerializer(serializers.ModelSerializer):
    model_id = serializers.CharField(source="model_version.model_id", read_only=True)

    class Meta:
        model = ScoringShard
        fields = [
            "id",
            "model_id",
            "deployment_role",
            "device_from",
            "device_to",
            "status",
            "attempts",
            "started_at",
            "heartbeat_at",
            "finished_at",
            "devices_scored",
            "devices_skipped",
            "rows_written",
            "error",
        ]


class ScoringRunOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = ScoringRun
        fields = [
            "id",
            "trigger",
            "window_minutes",
            "window_end",
            "device_id",
            "requested_by",
            "status",
            "created_at",
            "started_at",
            "finished_at",
            "devices_scored",
            "devices_skipped",
            "rows_written",
            "alerts_created",
            "alerted_at",
            "error",
        ]


class RunProgressOutputSerializer(serializers.Serializer):
    shards = serializers.IntegerField()
    done = serializers.IntegerField(help_text=f"shards {RunStatus.SUCCEEDED} or {RunStatus.FAILED}")
    fraction = serializers.FloatField()


class ScoringRunDetailOutputSerializer(serializers.ModelSerializer):
    progress = RunProgressOutputSerializer(read_only=True, help_text="from run_progress")
    shards = ScoringShardOutputSerializer(many=True, read_only=True)

    class Meta:
        model = ScoringRun
        fields = ScoringRunOutputSerializer.Meta.fields + ["comparison", "progress", "shards"]


# ---------------------------------------------------------------- scores


class DeviceScoresQuerySerializer(serializers.Serializer):
    since = serializers.DateTimeField(required=False, help_text="default: until - 24 h")
    until = serializers.DateTimeField(required=False, help_text="default: now")
    model_id = serializers.CharField(max_length=64, required=False)


class ModelScoreOutputSerializer(serializers.ModelSerializer):
    """Contract C5."""

    class Meta:
        model = ModelScore
        fields = [
            "score_id",
            "device_id",
            "model_id",
            "model_version",
            "granularity",
            "deployment_role",
            "window_start",
            "window_end",
            "anomaly_score",
            "anomaly_flag",
            "threshold_used",
            "top_contributors",
            "contributor_scores",
            "scored_at",
            "sensor_completeness",
        ]


class ModelStalenessSerializer(serializers.Serializer):
    model_id = serializers.CharField()
    kind = serializers.CharField()
    latest_window_end = serializers.DateTimeField(allow_null=True)
    latest_scored_at = serializers.DateTimeField(allow_null=True)
    age_minutes = serializers.FloatField(allow_null=True)
    state = serializers.CharField()


class StalenessOutputSerializer(serializers.Serializer):
    as_of = serializers.DateTimeField()
    state = serializers.ChoiceField(
        choices=["fresh", "delayed", "rules_fallback", "streaming_only"]
    )
    age_minutes = serializers.FloatField(allow_null=True)
    models = ModelStalenessSerializer(many=True)
