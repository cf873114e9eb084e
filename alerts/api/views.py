from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts.events import events_since
from alerts.models import StormIncident
from fleetmon.accounts.scopes import profile_of


class StormSerializer(serializers.ModelSerializer):
    runbook_url = serializers.SerializerMethodField()

    class Meta:
        model = StormIncident
        fields = [
            "id",
            "scope",
            "site",
            "region",
            "started_at",
            "last_alert_at",
            "alert_count",
            "closed_at",
            "runbook_url",
        ]

    def get_runbook_url(self, storm) -> str:
        return f"/runbooks/{storm.runbook}/"


class StormListView(APIView):
    """Open storm incidents the user may see, newest first: one item per storm."""

    @extend_schema(operation_id="storms_list", responses={200: StormSerializer(many=True)})
    def get(self, request):
        profile = profile_of(request.user)
        storms = StormIncident.objects.filter(closed_at__isnull=True)
        if profile is None:
            storms = storms.none()
        elif not profile.fleet_wide:
            storms = storms.filter(region__in=profile.regions) | storms.filter(
                site_id__in=profile.sites
            )
        return Response(StormSerializer(storms[:100], many=True).data)


class EventCatchUpSerializer(serializers.Serializer):
    since = serializers.IntegerField(min_value=0)


class AlertEventsView(APIView):
    """Alert events after a given id (what a page missed while disconnected), scoped."""

    @extend_schema(
        operation_id="alert_events_since",
        parameters=[EventCatchUpSerializer],
        responses={200: serializers.ListSerializer(child=serializers.DictField())},
    )
    def get(self, request):
        query = EventCatchUpSerializer(data=request.query_params)
        if not query.is_valid():
            raise ValidationError(query.errors)
        profile = profile_of(request.user)
        if profile is None:
            return Response([])
        return Response(events_since(profile=profile, since=query.validated_data["since"]))
