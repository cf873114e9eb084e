"""Writes to the fleet registry."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from fleetmon.registry.health import health_status
from fleetmon.registry.models import Device, EquipmentProfile, EquipmentProfileHistory, FleetToken
from fleetmon.registry.profiles import (
    DEFAULT_PROFILES,
    PROFILE_FIELDS,
    profile_errors,
    profile_values,
)


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
    """Recompute D14 health for these devices from their stored properties.

    Reads three columns and writes only the devices whose status changed, in one UPDATE:
    a scoring run touches every device of the fleet.
    """
    from django.db import connection

    rows = Device.objects.filter(pk__in=device_ids).values_list(
        "device_id", "dropout_state", "latest_anomaly_score", "worst_open_severity", "health_status"
    )
    changed: dict[str, str] = {}
    for device_id, dropout, score, severity, current in rows.iterator(chunk_size=10000):
        status = health_status(
            dropout_state=dropout, latest_score=score, worst_open_severity=severity or None
        )
        if status != current:
            changed[device_id] = status.value
    if changed:
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE registry_device d SET health_status = u.status"
                " FROM unnest(%s::text[], %s::text[]) AS u(id, status) WHERE d.device_id = u.id",
                [list(changed), list(changed.values())],
            )
    return len(changed)


class ProfileError(ValueError):
    """Equipment profile values that are refused; `errors` says what, per field."""

    def __init__(self, errors: dict):
        super().__init__("; ".join(f"{field}: {problems}" for field, problems in errors.items()))
        self.errors = errors


def equipment_profile_save(
    *, values: dict, actor: str, reason: str, now: datetime | None = None
) -> EquipmentProfile:
    """Create or replace the profile `values["equipment_model"]` and record the change.

    `values` holds every field of PROFILE_FIELDS. Nothing is written when they are refused
    (ProfileError) or equal to what is stored (no history row for a change that is none).
    """
    values = {name: values.get(name) for name in PROFILE_FIELDS}
    values["description"] = values["description"] or ""
    errors = profile_errors(values)
    if not reason or not reason.strip():
        errors["reason"] = ["a reason is required"]
    if errors:
        raise ProfileError(errors)
    now = now or timezone.now()
    with transaction.atomic():
        profile = (
            EquipmentProfile.objects.select_for_update()
            .filter(pk=values["equipment_model"])
            .first()
        )
        old = profile_values(profile) if profile is not None else None
        if old == values:
            return profile
        profile = profile or EquipmentProfile(equipment_model=values["equipment_model"])
        for name, value in values.items():
            setattr(profile, name, value)
        profile.updated_at, profile.updated_by = now, actor
        profile.save()
        EquipmentProfileHistory.objects.create(
            equipment_model=profile.equipment_model,
            action="created" if old is None else "updated",
            old_values=old,
            new_values=values,
            changed_by=actor,
            changed_at=now,
            reason=reason.strip(),
        )
    return profile


def equipment_profiles_seed(*, actor: str) -> list[str]:
    """Create the default profiles (refrigeration practice) of models that have none yet."""
    existing = set(EquipmentProfile.objects.values_list("equipment_model", flat=True))
    created = []
    for model, values in DEFAULT_PROFILES.items():
        if model not in existing:
            equipment_profile_save(
                values={"equipment_model": model, **values},
                actor=actor,
                reason="default profile from refrigeration practice",
            )
            created.append(model)
    return created
