"""Triage queue API: the list (keyset pages, storms as one row), CSV export, bulk actions
and saved views. Scope is applied by alerts.queue; roles by the permission classes."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.db import IntegrityError
from django.http import QueryDict, StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts import shelving, workflow
from alerts.models import AlertStatus, AlertType, DeviceAlert, SavedView, Severity
from alerts.queue import (
    ALERT_FIELDS,
    DEFAULT_LIMIT,
    FILTER_NAMES,
    MAX_LIMIT,
    WINDOWS,
    InvalidCursor,
    QueueFilters,
    queue_export,
    queue_page,
)
from fleetmon.accounts.permissions import CanTriageOrReadOnly, HasProfile
from fleetmon.accounts.scopes import scoped_alerts
from fleetmon.registry.models import Region

BULK_LIMIT = 500
NOT_FOUND = "no such alert in your scope"
CSV_COLUMNS = (*ALERT_FIELDS[:3], "site_name", *ALERT_FIELDS[3:])


# ---------------------------------------------------------------- filters


class QueueFilterSerializer(serializers.Serializer):
    """The queue filters, as query parameters (repeat a parameter for several values) or as
    the JSON of a saved view."""

    severity = serializers.MultipleChoiceField(choices=Severity.choices, required=False)
    status = serializers.MultipleChoiceField(
        choices=AlertStatus.choices,
        required=False,
        help_text="default: the active statuses (open, acknowledged, in_progress)",
    )
    site = serializers.ListField(
        child=serializers.CharField(max_length=32), required=False, help_text="site ids"
    )
    region = serializers.MultipleChoiceField(choices=Region.choices, required=False)
    alert_type = serializers.MultipleChoiceField(choices=AlertType.choices, required=False)
    source = serializers.MultipleChoiceField(choices=DeviceAlert.Source.choices, required=False)
    model_id = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        help_text="model version, model kind (all its versions) or streaming rule id",
    )
    window = serializers.ChoiceField(
        choices=list(WINDOWS),
        required=False,
        allow_blank=True,
        help_text="only alerts created within this time before now",
    )
    created_after = serializers.DateTimeField(required=False, allow_null=True)
    created_before = serializers.DateTimeField(required=False, allow_null=True)
    q = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        help_text="text in the device id, site id, site name or title",
    )
    include_suppressed = serializers.BooleanField(
        required=False, default=False, help_text="also list alerts suppressed as duplicates"
    )
    shelved = serializers.BooleanField(
        required=False,
        default=False,
        help_text="the Shelved view: only shelved alerts (otherwise shelved ones are left out)",
    )

    def validate(self, attrs):
        after, before = attrs.get("created_after"), attrs.get("created_before")
        if after and before and after >= before:
            raise ValidationError({"created_before": ["must be later than created_after"]})
        return attrs

    def queue_filters(self, **navigation) -> QueueFilters:
        data = self.validated_data
        return QueueFilters(
            **{
                name: tuple(sorted(data.get(name) or ()))
                for name in ("severity", "status", "site", "region", "alert_type", "source")
                + ("model_id",)
            },
            window=data.get("window") or "",
            created_after=data.get("created_after"),
            created_before=data.get("created_before"),
            q=(data.get("q") or "").strip(),
            include_suppressed=data.get("include_suppressed", False),
            shelved=data.get("shelved", False),
            **navigation,
        )

    def saved_json(self) -> dict:
        """The non-empty filters as plain JSON, in FILTER_NAMES order."""
        saved = {}
        for name in FILTER_NAMES:
            value = self.validated_data.get(name)
            if isinstance(value, set | list | tuple):
                value = sorted(value)
            elif isinstance(value, datetime):
                value = value.isoformat()
            if value not in (None, "", [], False):
                saved[name] = value
        return saved


class QueuePageQuerySerializer(QueueFilterSerializer):
    cursor = serializers.CharField(
        required=False, allow_blank=True, help_text="next_cursor of the previous page"
    )
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT
    )
    storm = serializers.IntegerField(
        required=False, min_value=1, help_text="list the members of this storm (not collapsed)"
    )
    alert_id = serializers.UUIDField(
        required=False, help_text="only this alert, if it matches the filters (live updates)"
    )


# ---------------------------------------------------------------- rows


class AlertRowSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text='"alert"')
    alert_id = serializers.UUIDField()
    device_id = serializers.CharField()
    site_id = serializers.CharField()
    site_name = serializers.CharField()
    region = serializers.CharField()
    severity = serializers.ChoiceField(choices=Severity.choices)
    status = serializers.ChoiceField(choices=AlertStatus.choices)
    alert_type = serializers.ChoiceField(choices=AlertType.choices)
    source = serializers.ChoiceField(choices=DeviceAlert.Source.choices)
    model_id = serializers.CharField()
    title = serializers.CharField()
    anomaly_score = serializers.FloatField(allow_null=True)
    alert_created_at = serializers.DateTimeField()
    first_detected_at = serializers.DateTimeField()
    sla_deadline = serializers.DateTimeField()
    sla_breached = serializers.BooleanField()
    escalation_level = serializers.CharField()
    storm_id = serializers.IntegerField(allow_null=True)
    shelved_until = serializers.DateTimeField(allow_null=True, help_text="set while shelved")
    device_out_of_service_until = serializers.DateTimeField(
        allow_null=True, required=False, help_text="set while the device is out of service"
    )


class StormRowSerializer(serializers.Serializer):
    """A storm: its members in the current filters, shown as one row (expand with
    ?storm=<storm_id>)."""

    kind = serializers.CharField(help_text='"storm"')
    storm_id = serializers.IntegerField()
    scope = serializers.CharField()
    site_id = serializers.CharField(allow_null=True)
    site_name = serializers.CharField()
    region = serializers.CharField()
    severity = serializers.ChoiceField(choices=Severity.choices, help_text="of its worst member")
    alert_count = serializers.IntegerField(help_text="members matching the filters")
    total_alert_count = serializers.IntegerField(help_text="all members, in any scope")
    started_at = serializers.DateTimeField()
    last_alert_at = serializers.DateTimeField()
    latest_member_created_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)
    sla_deadline = serializers.DateTimeField(help_text="the earliest of its members'")
    title = serializers.CharField()
    runbook_url = serializers.CharField()


ROW_SERIALIZERS = {"alert": AlertRowSerializer, "storm": StormRowSerializer}


class QueuePageSerializer(serializers.Serializer):
    results = PolymorphicProxySerializer(
        component_name="QueueRow",
        serializers=ROW_SERIALIZERS,
        resource_type_field_name="kind",
        many=True,
    )
    next_cursor = serializers.CharField(allow_null=True)


def rows_data(rows: list[dict]) -> list[dict]:
    return [ROW_SERIALIZERS[row["kind"]](row).data for row in rows]


# ---------------------------------------------------------------- list


def without_blanks(params: QueryDict) -> QueryDict:
    """The query without empty values: a form's "any" choice sends `alert_type=`."""
    kept = QueryDict(mutable=True)
    for key, values in params.lists():
        kept.setlist(key, [v for v in values if v.strip()])
        if not kept.getlist(key):
            del kept[key]
    return kept


def _query(serializer_class, request) -> QueueFilterSerializer:
    query = serializer_class(data=without_blanks(request.query_params))
    query.is_valid(raise_exception=True)
    return query


class AlertQueueView(APIView):
    """The triage queue: alerts in scope, most severe first, then by SLA deadline; storms
    as one row. Keyset pages: pass next_cursor as cursor for the next one."""

    permission_classes = [HasProfile]

    @extend_schema(
        operation_id="alerts_queue",
        parameters=[QueuePageQuerySerializer],
        responses={200: QueuePageSerializer},
    )
    def get(self, request):
        query = _query(QueuePageQuerySerializer, request)
        data = query.validated_data
        filters = query.queue_filters(storm=data.get("storm"), alert_id=data.get("alert_id"))
        try:
            page = queue_page(
                request.profile, filters, cursor=data.get("cursor") or None, limit=data["limit"]
            )
        except InvalidCursor as exc:
            raise ValidationError({"cursor": [str(exc)]}) from exc
        return Response({"results": rows_data(page.rows), "next_cursor": page.next_cursor})


# ---------------------------------------------------------------- CSV


class AlertExportView(APIView):
    """Every alert matching the filters (storm members included), in queue order, as CSV."""

    permission_classes = [HasProfile]

    def perform_content_negotiation(self, request, force=False):
        # The answer is CSV whatever was asked for; refusals are JSON, like every API error.
        return (JSONRenderer(), JSONRenderer.media_type)

    @extend_schema(
        operation_id="alerts_export_csv",
        parameters=[QueueFilterSerializer],
        responses={
            (200, "text/csv"): OpenApiResponse(
                response=OpenApiTypes.STR,
                description=f"header row, then one row per alert: {', '.join(CSV_COLUMNS)}",
            )
        },
    )
    def get(self, request):
        query = _query(QueueFilterSerializer, request)
        rows = queue_export(request.profile, query.queue_filters()).iterator(chunk_size=2000)
        lines = _csv_chunks(rows)
        # Under ASGI a sync iterator would be read whole into memory before sending; an
        # async one that pulls each chunk in the request's thread streams for real.
        if isinstance(request._request, ASGIRequest):
            lines = _pulled_async(lines)
        response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response["Content-Disposition"] = f'attachment; filename="fleetmon-alerts-{stamp}.csv"'
        return response


def _csv_chunks(rows, chunk_bytes: int = 64 * 1024):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([_cell(row[column]) for column in CSV_COLUMNS])
        if buffer.tell() >= chunk_bytes:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    # A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


async def _pulled_async(chunks):
    iterator = iter(chunks)
    pull = sync_to_async(lambda: next(iterator, None), thread_sensitive=True)
    while (chunk := await pull()) is not None:
        yield chunk


# ---------------------------------------------------------------- bulk actions


class BulkActionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(
        choices=["acknowledge", "mark_false_positive", "resolve", "shelve", "unshelve"]
    )
    alert_ids = serializers.ListField(
        child=serializers.UUIDField(), min_length=1, max_length=BULK_LIMIT
    )
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=2000,
        help_text="acknowledge: optional note; resolve: the resolution notes (required)",
    )
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=2000,
        help_text="mark_false_positive: why (required; goes to the retraining labels); "
        "shelve: why (required)",
    )
    duration = serializers.ChoiceField(
        choices=shelving.DURATIONS, required=False, help_text="shelve: how long (required)"
    )
    until = serializers.DateTimeField(
        required=False, allow_null=True, help_text="shelve with duration=until: at most 24 h"
    )

    def validate(self, attrs):
        if attrs["action"] == "shelve":
            if not attrs["reason"].strip():
                raise ValidationError({"reason": ["a reason is required to shelve"]})
            if "duration" not in attrs:
                raise ValidationError({"duration": ["how long to shelve is required"]})
            try:  # the same checks the service makes, answered before touching any alert
                shelving.shelve_expiry(
                    duration=attrs["duration"],
                    region="",
                    now=timezone.now(),
                    until=attrs.get("until"),
                )
            except shelving.InvalidShelve as invalid:
                raise ValidationError({invalid.field: [str(invalid)]}) from invalid
        if attrs["action"] == "mark_false_positive" and not attrs["reason"].strip():
            raise ValidationError({"reason": ["a reason is required to mark false positives"]})
        if attrs["action"] == "resolve" and not attrs["note"].strip():
            raise ValidationError({"note": ["resolution notes are required to resolve"]})
        return attrs


class BulkResultSerializer(serializers.Serializer):
    alert_id = serializers.UUIDField()
    result = serializers.ChoiceField(choices=["ok", "conflict", "not_found"])
    http_status = serializers.IntegerField(help_text="200, 409 or 404: as a single action")
    detail = serializers.CharField(allow_blank=True)
    status = serializers.CharField(allow_null=True, help_text="the alert's status afterwards")
    shelved_until = serializers.DateTimeField(
        required=False, allow_null=True, help_text="afterwards"
    )


class BulkResponseSerializer(serializers.Serializer):
    action = serializers.CharField()
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()
    results = BulkResultSerializer(many=True)


def _bulk_one(data: dict, alert_id, actor: str) -> workflow.Outcome:
    action = data["action"]
    if action == "acknowledge":
        return workflow.acknowledge(alert_id=alert_id, actor=actor, note=data["note"])
    if action == "mark_false_positive":
        return workflow.mark_false_positive(alert_id=alert_id, actor=actor, reason=data["reason"])
    if action == "shelve":
        return shelving.alert_shelve(
            alert_id=alert_id,
            actor=actor,
            duration=data["duration"],
            until=data.get("until"),
            reason=data["reason"],
        )
    if action == "unshelve":
        return shelving.alert_unshelve(alert_id=alert_id, actor=actor, note=data["note"])
    return workflow.resolve(alert_id=alert_id, actor=actor, note=data["note"])


class AlertBulkView(APIView):
    """One action on many alerts. Each alert succeeds or fails on its own (an illegal
    transition is a 409 for that alert, an alert outside the scope a 404)."""

    permission_classes = [CanTriageOrReadOnly]

    @extend_schema(
        operation_id="alerts_bulk_action",
        request=BulkActionSerializer,
        responses={200: BulkResponseSerializer},
    )
    def post(self, request):
        body = BulkActionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        ids = list(dict.fromkeys(data["alert_ids"]))  # once each, in the order given
        visible = set(
            scoped_alerts(request.profile).filter(pk__in=ids).values_list("pk", flat=True)
        )
        actor = request.user.get_username()
        results = []
        for alert_id in ids:
            result = {"alert_id": alert_id, "status": None}
            if alert_id not in visible:
                result |= {"result": "not_found", "http_status": 404, "detail": NOT_FOUND}
            else:
                try:
                    outcome = _bulk_one(data, alert_id, actor)
                except (workflow.IllegalTransition, shelving.InvalidShelve) as exc:
                    result |= {"result": "conflict", "http_status": 409, "detail": str(exc)}
                except DeviceAlert.DoesNotExist:
                    result |= {"result": "not_found", "http_status": 404, "detail": NOT_FOUND}
                else:
                    result |= {"result": "ok", "http_status": 200, "detail": ""}
                    result["status"] = outcome.alert.status
                    result["shelved_until"] = outcome.alert.shelved_until
            results.append(result)
        succeeded = sum(r["result"] == "ok" for r in results)
        return Response(
            BulkResponseSerializer(
                {
                    "action": data["action"],
                    "succeeded": succeeded,
                    "failed": len(results) - succeeded,
                    "results": results,
                }
            ).data
        )


# ---------------------------------------------------------------- saved views


@extend_schema_field({"type": "object", "additionalProperties": {}})
class FiltersField(serializers.JSONField):
    """JSON, documented as the object validate_filters wants (not null, not a list)."""


class SavedViewSerializer(serializers.ModelSerializer):
    filters = FiltersField(help_text=f"filter name -> value; names: {', '.join(FILTER_NAMES)}")

    class Meta:
        model = SavedView
        fields = ["id", "name", "filters", "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate_filters(self, value) -> dict:
        if not isinstance(value, dict):
            raise ValidationError("an object of filter names to values")
        unknown = sorted(set(value) - set(FILTER_NAMES))
        if unknown:
            raise ValidationError(
                f"unknown filter(s): {', '.join(unknown)}; allowed: {', '.join(FILTER_NAMES)}"
            )
        check = QueueFilterSerializer(data=value)
        if not check.is_valid():
            raise ValidationError(check.errors)
        return check.saved_json()


class SavedViewListView(APIView):
    """The signed-in user's saved queue views (nobody else's)."""

    permission_classes = [HasProfile]

    @extend_schema(operation_id="saved_views_list", responses={200: SavedViewSerializer(many=True)})
    def get(self, request):
        views = SavedView.objects.filter(user=request.user)
        return Response(SavedViewSerializer(views, many=True).data)

    @extend_schema(
        operation_id="saved_views_create",
        request=SavedViewSerializer,
        responses={201: SavedViewSerializer},
    )
    def post(self, request):
        body = SavedViewSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        name = body.validated_data["name"]
        if SavedView.objects.filter(user=request.user, name=name).exists():
            raise ValidationError({"name": ["you already have a view with this name"]})
        try:
            view = SavedView.objects.create(
                user=request.user, name=name, filters=body.validated_data["filters"]
            )
        except IntegrityError as exc:  # the same name saved twice at once
            raise ValidationError({"name": ["you already have a view with this name"]}) from exc
        return Response(SavedViewSerializer(view).data, status=status.HTTP_201_CREATED)


class SavedViewDetailView(APIView):
    permission_classes = [HasProfile]

    @extend_schema(operation_id="saved_views_destroy", responses={204: None})
    def delete(self, request, pk: int):
        deleted, _ = SavedView.objects.filter(pk=pk, user=request.user).delete()
        if not deleted:
            return Response({"detail": "no such saved view"}, status=status.HTTP_404_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)
