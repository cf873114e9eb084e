"""Maintenance windows over HTTP: GET/POST /api/v1/maintenance-windows/ (current and
upcoming windows in your scope; create one) and POST .../<id>/cancel/.

Refusals as the alert actions: no role or a read-only role → 403 (a cohort window, which
spans regions, needs a fleet-wide role); a target or window out of scope → 404; bad input →
400 per field.
"""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts import maintenance_windows as windows
from alerts.models import MaintenanceWindow
from fleetmon.accounts.permissions import CanTriageOrReadOnly
from fleetmon.accounts.scopes import scoped_devices, scoped_sites
from fleetmon.registry.models import Cohort

NOTE_MAX = 4000


class WindowInput(serializers.Serializer):
    scope = serializers.ChoiceField(choices=MaintenanceWindow.Scope.choices)
    target = serializers.CharField(
        max_length=64, help_text="the device id, site id, cohort id or region code"
    )
    kind = serializers.ChoiceField(choices=MaintenanceWindow.Kind.choices)
    reason = serializers.CharField(max_length=NOTE_MAX)
    starts_at = serializers.DateTimeField(help_text="one-off: its start; recurring: from when")
    ends_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="one-off: its end; recurring: until when"
    )
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6),
        required=False,
        max_length=7,
        help_text="recurring: 0 Monday .. 6 Sunday",
    )
    start_time = serializers.TimeField(
        required=False, allow_null=True, help_text="recurring: local time of the region"
    )
    end_time = serializers.TimeField(
        required=False,
        allow_null=True,
        help_text="recurring: at or before start_time runs overnight",
    )
    maintenance_event_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="the maintenance event it is for"
    )


class WindowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    scope = serializers.CharField()
    target = serializers.CharField()
    kind = serializers.CharField()
    reason = serializers.CharField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField(allow_null=True)
    weekdays = serializers.ListField(child=serializers.IntegerField())
    start_time = serializers.TimeField(allow_null=True)
    end_time = serializers.TimeField(allow_null=True)
    maintenance_event_id = serializers.UUIDField(allow_null=True)
    created_by = serializers.CharField()
    created_at = serializers.DateTimeField()
    cancelled_at = serializers.DateTimeField(allow_null=True)
    open_now = serializers.BooleanField()
    next_start = serializers.DateTimeField(allow_null=True, help_text="within 7 days")
    next_end = serializers.DateTimeField(allow_null=True)


def _target(window: MaintenanceWindow) -> str:
    return window.device_id or window.site_id or window.cohort_id or window.region


def window_row(window: MaintenanceWindow, now) -> dict:
    region = windows.region_of(window)
    spans = list(windows.occurrences(window, region=region, start=now, end=now + windows.UPCOMING))
    open_now = bool(spans) and spans[0][0] <= now and window.cancelled_at is None
    upcoming = next((s for s in spans if s[0] > now), None)
    return {
        "id": window.pk,
        "scope": window.scope,
        "target": _target(window),
        "kind": window.kind,
        "reason": window.reason,
        "starts_at": window.starts_at,
        "ends_at": window.ends_at,
        "weekdays": window.weekdays,
        "start_time": window.start_time,
        "end_time": window.end_time,
        "maintenance_event_id": window.maintenance_event_id,
        "created_by": window.created_by,
        "created_at": window.created_at,
        "cancelled_at": window.cancelled_at,
        "open_now": open_now,
        "next_start": upcoming[0] if upcoming else None,
        "next_end": upcoming[1] if upcoming else None,
    }


def check_target(profile, scope: str, target: str) -> str:
    """The target, normalised, if the user may set a window on it; else 404 (403 for a
    cohort, which spans regions, when the user is not fleet-wide)."""
    Scope = MaintenanceWindow.Scope
    if scope == Scope.DEVICE:
        return get_object_or_404(scoped_devices(profile), pk=target).pk
    if scope == Scope.SITE:
        return get_object_or_404(scoped_sites(profile), pk=target).pk
    if scope == Scope.COHORT:
        if not profile.fleet_wide:
            raise PermissionDenied("a cohort spans regions: only a fleet-wide role may quiet it")
        if not Cohort.objects.filter(pk=target).exists():
            raise ValidationError({"target": ["no such cohort"]})
        return target
    if not profile.fleet_wide and target not in profile.regions:
        raise Http404("no such region in your scope")
    from fleetmon.registry.models import Region

    if target not in Region.values:
        raise ValidationError({"target": [f"a region is one of {', '.join(Region.values)}"]})
    return target


class MaintenanceWindowListView(APIView):
    """Current and upcoming maintenance windows in your scope; create one."""

    permission_classes = [CanTriageOrReadOnly]

    @extend_schema(
        operation_id="maintenance_windows_list",
        responses={200: WindowSerializer(many=True)},
    )
    def get(self, request):
        now = timezone.now()
        rows = [window_row(w, now) for w in windows.windows_visible(request.profile, now)]
        rows = [r for r in rows if r["open_now"] or r["next_start"]]
        return Response(WindowSerializer(rows, many=True).data)

    @extend_schema(
        operation_id="maintenance_windows_create",
        request=WindowInput,
        responses={
            201: WindowSerializer,
            400: OpenApiResponse(description="invalid input: messages per field"),
            403: OpenApiResponse(description="your role may not set windows here"),
            404: OpenApiResponse(description="no such target in your scope"),
        },
    )
    def post(self, request):
        given = WindowInput(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        target = check_target(request.profile, data["scope"], data["target"])
        try:
            window = windows.maintenance_window_create(
                actor=request.user.get_username(),
                scope=data["scope"],
                target=target,
                kind=data["kind"],
                reason=data["reason"],
                starts_at=data["starts_at"],
                ends_at=data.get("ends_at"),
                weekdays=data.get("weekdays"),
                start_time=data.get("start_time"),
                end_time=data.get("end_time"),
                maintenance_event_id=data.get("maintenance_event_id"),
            )
        except windows.InvalidWindow as invalid:
            raise ValidationError({invalid.field: [str(invalid)]}) from invalid
        body = WindowSerializer(window_row(window, timezone.now())).data
        return Response(body, status=status.HTTP_201_CREATED)


class MaintenanceWindowCancelView(APIView):
    permission_classes = [CanTriageOrReadOnly]

    @extend_schema(
        operation_id="maintenance_window_cancel",
        request=None,
        responses={
            200: WindowSerializer,
            403: OpenApiResponse(description="your role may not cancel windows"),
            404: OpenApiResponse(description="no such window in your scope"),
            409: OpenApiResponse(description="already cancelled"),
        },
    )
    def post(self, request, pk: int):
        now = timezone.now()
        window = get_object_or_404(windows.windows_visible(request.profile, now, every=True), pk=pk)
        if window.scope == MaintenanceWindow.Scope.COHORT and not request.profile.fleet_wide:
            raise PermissionDenied("a cohort spans regions: only a fleet-wide role may change it")
        try:
            window = windows.maintenance_window_cancel(
                window_id=window.pk, actor=request.user.get_username(), now=now
            )
        except windows.InvalidWindow as refused:
            return Response({"detail": str(refused)}, status=status.HTTP_409_CONFLICT)
        return Response(WindowSerializer(window_row(window, now)).data)
