"""Notification API: one's own preferences, and the deliveries of alerts in one's scope."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts.models import Notification
from alerts.notifications.routing import CHANNELS
from alerts.notifications.selectors import notifications_in_scope, shown_error, shown_recipient
from alerts.notifications.services import (
    NOTIFIABLE_SEVERITIES,
    preference_of,
    preference_save,
)
from fleetmon.accounts.permissions import HasProfile


def http_url(value: str) -> None:
    if value and not value.lower().startswith(("http://", "https://")):
        raise serializers.ValidationError("use an http:// or https:// URL")


class PreferenceInputSerializer(serializers.Serializer):
    channels = serializers.MultipleChoiceField(choices=CHANNELS, allow_empty=True)
    min_severity = serializers.ChoiceField(choices=NOTIFIABLE_SEVERITIES)
    webhook_url = serializers.URLField(
        required=False, allow_blank=True, default="", max_length=200, validators=[http_url]
    )
    on_call = serializers.BooleanField(
        required=False, allow_null=True, default=None, help_text="only an admin may change it"
    )


class PreferenceOutputSerializer(serializers.Serializer):
    channels = serializers.ListField(child=serializers.ChoiceField(choices=CHANNELS))
    min_severity = serializers.ChoiceField(choices=NOTIFIABLE_SEVERITIES)
    webhook_url = serializers.CharField()
    on_call = serializers.BooleanField()
    email = serializers.CharField(help_text="where e-mail notifications go (set by an admin)")
    saved = serializers.BooleanField(help_text="false: the defaults apply (e-mail from MEDIUM)")


def _preference_body(user, preference) -> dict:
    return {
        "channels": list(preference.channels),
        "min_severity": preference.min_severity,
        "webhook_url": preference.webhook_url,
        "on_call": preference.on_call,
        "email": user.email,
        "saved": preference.pk is not None,
    }


class MyNotificationPreferenceView(APIView):
    """The signed-in user's own notification preferences."""

    permission_classes = [HasProfile]

    @extend_schema(
        operation_id="notification_preferences_me_retrieve",
        responses={200: PreferenceOutputSerializer},
    )
    def get(self, request):
        preference = preference_of(request.user)
        return Response(_preference_body(request.user, preference))

    @extend_schema(
        operation_id="notification_preferences_me_update",
        request=PreferenceInputSerializer,
        responses={200: PreferenceOutputSerializer},
    )
    def put(self, request):
        body = PreferenceInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            preference = preference_save(
                user=request.user, profile=request.profile, **body.validated_data
            )
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from exc
        return Response(_preference_body(request.user, preference))


class NotificationFilterSerializer(serializers.Serializer):
    alert_id = serializers.UUIDField(required=False)
    status = serializers.ChoiceField(choices=Notification.Status.choices, required=False)
    channel = serializers.ChoiceField(choices=CHANNELS, required=False)


class NotificationSerializer(serializers.ModelSerializer):
    alert_title = serializers.CharField(source="alert.title")
    severity = serializers.CharField(source="alert.severity")
    recipient = serializers.SerializerMethodField()
    last_error = serializers.SerializerMethodField(
        help_text="why the last try failed; a webhook's status code, never its answer"
    )

    class Meta:
        model = Notification
        fields = [
            "id",
            "alert_id",
            "alert_title",
            "severity",
            "channel",
            "recipient",
            "reason",
            "status",
            "attempts",
            "last_error",
            "created_at",
            "sent_at",
        ]

    def get_last_error(self, notification) -> str:
        return shown_error(notification.last_error)

    def get_recipient(self, notification) -> str:
        return shown_recipient(notification, own_webhook=self.context.get("own_webhook", ""))


class NotificationPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class NotificationListView(ListAPIView):
    """Deliveries of the alerts in the user's scope, newest first; filter by alert, status
    or channel."""

    permission_classes = [HasProfile]
    serializer_class = NotificationSerializer
    pagination_class = NotificationPagination

    @extend_schema(operation_id="notifications_list", parameters=[NotificationFilterSerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Notification.objects.none()
        filters = NotificationFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        query = notifications_in_scope(self.request.profile)
        wanted = filters.validated_data
        if "alert_id" in wanted:
            query = query.filter(alert_id=wanted["alert_id"])
        if "status" in wanted:
            query = query.filter(status=wanted["status"])
        if "channel" in wanted:
            query = query.filter(channel=wanted["channel"])
        return query

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["own_webhook"] = preference_of(self.request.user).webhook_url
        return context
