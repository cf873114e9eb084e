"""Storm guard (runbook 4, domain §5.6): many CRITICAL streaming alerts in a few minutes
across a site or the fleet are grouped into one incident that operators see as one item."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from alerts.models import DeviceAlert, StormIncident


def storm_check(*, alert: DeviceAlert) -> StormIncident | None:
    """Group `alert` and its recent peers into a storm when there are more than the limit.

    A fleet-wide storm wins over a site storm: it is the bigger event.
    """
    if alert.severity != "CRITICAL" or alert.source != DeviceAlert.Source.STREAMING:
        return None
    window = timedelta(minutes=settings.FLEETMON_STORM_WINDOW_MINUTES)
    since = alert.first_detected_at - window
    # Visible alerts only: a repeat of an active alert is the same fault, not one more.
    recent = DeviceAlert.objects.filter(
        source=DeviceAlert.Source.STREAMING,
        severity="CRITICAL",
        suppressed=False,
        first_detected_at__gte=since,
    )
    if recent.count() > settings.FLEETMON_STORM_FLEET_THRESHOLD:
        return _join(recent, StormIncident.Scope.FLEET, None, alert.first_detected_at, window)
    at_site = recent.filter(site_id=alert.site_id)
    if at_site.count() > settings.FLEETMON_STORM_SITE_THRESHOLD:
        return _join(at_site, StormIncident.Scope.SITE, alert, alert.first_detected_at, window)
    return None


def _join(alerts, scope: str, alert: DeviceAlert | None, at: datetime, window) -> StormIncident:
    with transaction.atomic():
        open_storms = StormIncident.objects.select_for_update().filter(
            scope=scope, closed_at__isnull=True, last_alert_at__gte=at - window
        )
        if alert is not None:
            open_storms = open_storms.filter(site_id=alert.site_id)
        storm = open_storms.first()
        if storm is None:
            storm = StormIncident.objects.create(
                scope=scope,
                site_id=alert.site_id if alert else None,
                region=alert.region if alert else "",
                started_at=min(a.first_detected_at for a in alerts),
                last_alert_at=at,
            )
        alerts.filter(storm__isnull=True).update(storm=storm)
        storm.alert_count = storm.alerts.count()
        storm.last_alert_at = max(storm.last_alert_at, at)
        storm.save(update_fields=["alert_count", "last_alert_at"])
    return storm
