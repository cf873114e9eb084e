"""Alert events pushed to browsers: one payload shape, sent after commit to scoped groups.

The database is the truth: every event has an increasing id, and a page that reconnects or
sees a gap in ids asks for the events since the last one it has (`events_since`).
"""

from __future__ import annotations

import logging
from typing import Literal, TypedDict

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db.models import Q

from alerts.models import AlertEvent
from fleetmon.accounts.models import Profile
from fleetmon.accounts.scopes import alert_groups

logger = logging.getLogger(__name__)
CATCH_UP_LIMIT = 500


class AlertEventPayload(TypedDict):
    type: Literal["alert.event"]
    event_id: int
    kind: str
    at: str
    alert_id: str
    device_id: str
    site_id: str
    region: str
    severity: str
    status: str
    alert_type: str
    source: str
    title: str
    suppressed: bool
    storm_id: int | None
    shelved_until: str | None  # set while shelved (alerts.shelving)


def payload_of(event: AlertEvent) -> AlertEventPayload:
    alert = event.alert
    return {
        "type": "alert.event",
        "event_id": event.pk,
        "kind": event.kind,
        "at": event.at.isoformat(),
        "alert_id": str(alert.alert_id),
        "device_id": alert.device_id,
        "site_id": alert.site_id,
        "region": alert.region,
        "severity": alert.severity,
        "status": alert.status,
        "alert_type": alert.alert_type,
        "source": alert.source,
        "title": alert.title,
        "suppressed": alert.suppressed,
        "storm_id": alert.storm_id,
        "shelved_until": alert.shelved_until.isoformat() if alert.shelved_until else None,
    }


def publish_event(event_id: int) -> None:
    """Send one committed event to the groups of its alert's fleet, region and site."""
    event = AlertEvent.objects.select_related("alert").filter(pk=event_id).first()
    if event is None:
        return
    payload = payload_of(event)
    layer = get_channel_layer()
    try:
        for group in alert_groups(region=payload["region"], site_id=payload["site_id"]):
            async_to_sync(layer.group_send)(group, {"type": "alert.event", "payload": payload})
    except Exception:  # noqa: BLE001 - pages catch up from the database
        logger.exception("could not push alert event %s", event_id)


def events_since(*, profile: Profile, since: int) -> list[AlertEventPayload]:
    """The events after `since` that this user may see, oldest first."""
    query = AlertEvent.objects.select_related("alert").filter(pk__gt=since).order_by("pk")
    if not profile.fleet_wide:
        query = query.filter(
            Q(alert__region__in=profile.regions) | Q(alert__site_id__in=profile.sites)
        )
    return [payload_of(e) for e in query[:CATCH_UP_LIMIT]]
