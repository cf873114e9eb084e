"""Writes to the fleet registry."""

from django.db import transaction
from django.utils import timezone

from fleetmon.registry.health import health_status
from fleetmon.registry.models import Device, FleetToken


def fleet_token_create(*, name: str) -> tuple[FleetToken, str]:
    """Create a fleet token called `name`; return the row and the plain token (shown once)."""
    plain = FleetToken.generate()
    with transaction.atomic():
        token = FleetToken.objects.create(
            name=name, token_hash=FleetToken.hash(plain), hint=plain[:10]
        )
    return token, plain


def fleet_token_revoke(*, token: FleetToken) -> None:
    FleetToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def devices_set_scores(*, scores: dict[str, tuple[float, str]]) -> None:
    """Pre-hydrate devices after a scoring run: latest composite score and 24 h trend."""
    if not scores:
        return
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE registry_device d SET latest_anomaly_score = u.score, anomaly_trend = u.trend"
            " FROM unnest(%s::text[], %s::float8[], %s::text[]) AS u(id, score, trend)"
            " WHERE d.device_id = u.id",
            [list(scores), [s for s, _ in scores.values()], [t for _, t in scores.values()]],
        )
    devices_refresh_health(device_ids=list(scores))


def devices_set_open_severity(*, severities: dict[str, str]) -> None:
    """Record each device's worst open alert severity ('' for none) and refresh its health."""
    if not severities:
        return
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE registry_device d SET worst_open_severity = u.severity"
            " FROM unnest(%s::text[], %s::text[]) AS u(id, severity) WHERE d.device_id = u.id",
            [list(severities), list(severities.values())],
        )
    devices_refresh_health(device_ids=list(severities))


def devices_refresh_health(*, device_ids: list[str]) -> int:
    """Recompute D14 health for these devices from their stored properties."""
    changed = []
    for device in Device.objects.filter(pk__in=device_ids).only(
        "device_id", "dropout_state", "latest_anomaly_score", "worst_open_severity", "health_status"
    ):
        status = health_status(
            dropout_state=device.dropout_state,
            latest_score=device.latest_anomaly_score,
            worst_open_severity=device.worst_open_severity or None,
        )
        if status != device.health_status:
            device.health_status = status
            changed.append(device)
    Device.objects.bulk_update(changed, ["health_status"], batch_size=2000)
    return len(changed)
