"""The fleet registry (domain §7.1): where every device is, what it is, and how it is doing."""

import hashlib
import secrets

from django.contrib.postgres.fields import ArrayField
from django.db import models


class Region(models.TextChoices):
    US_WEST = "US-W", "US West"
    US_CENTRAL = "US-C", "US Central"
    US_EAST = "US-E", "US East"
    US_SOUTH = "US-S", "US South"


class ClimateZone(models.TextChoices):
    HOT_HUMID = "hot-humid", "Hot and humid"
    HOT_DRY = "hot-dry", "Hot and dry"
    TEMPERATE = "temperate", "Temperate"
    COLD = "cold", "Cold"


class Site(models.Model):
    class SiteType(models.TextChoices):
        STORE = "store"
        WAREHOUSE = "warehouse"
        DISTRIBUTION_CENTER = "distribution_center"

    site_id = models.CharField(primary_key=True, max_length=32)  # SITE-US-CHI-0042
    site_name = models.CharField(max_length=200)
    address = models.CharField(max_length=300, blank=True)
    region = models.CharField(max_length=8, choices=Region.choices, db_index=True)
    climate_zone = models.CharField(max_length=16, choices=ClimateZone.choices)
    site_type = models.CharField(max_length=24, choices=SiteType.choices, default=SiteType.STORE)
    site_manager = models.CharField(max_length=200, blank=True)
    maintenance_contact = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["site_id"]

    def __str__(self) -> str:
        return f"{self.site_id} {self.site_name}"


class Cohort(models.Model):
    """Devices that should behave alike: one equipment model in one climate zone."""

    cohort_id = models.CharField(primary_key=True, max_length=64)  # WF-5HP/temperate
    equipment_model = models.CharField(max_length=32)
    climate_zone = models.CharField(max_length=16, choices=ClimateZone.choices)
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["cohort_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["equipment_model", "climate_zone"], name="cohort_model_zone_unique"
            )
        ]

    def __str__(self) -> str:
        return self.cohort_id

    @staticmethod
    def id_for(equipment_model: str, climate_zone: str) -> str:
        return f"{equipment_model}/{climate_zone}"


class HealthStatus(models.TextChoices):
    HEALTHY = "healthy"
    WARNING = "warning"
    CRITICAL = "critical"
    OFFLINE = "offline"


class DropoutState(models.TextChoices):
    """Result of the hourly dropout job (decision D12)."""

    HEALTHY = "HEALTHY"
    FULL_DROPOUT = "FULL_DROPOUT"
    FREQUENCY_DEGRADATION = "FREQUENCY_DEGRADATION"
    SENSOR_SUBSET_DROPOUT = "SENSOR_SUBSET_DROPOUT"


class AnomalyTrend(models.TextChoices):
    STABLE = "stable"
    INCREASING = "increasing"
    DECREASING = "decreasing"


class Device(models.Model):
    device_id = models.CharField(primary_key=True, max_length=32)  # REF-US-W-00042371
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="devices")
    cohort = models.ForeignKey(Cohort, on_delete=models.PROTECT, related_name="devices")
    region = models.CharField(max_length=8, choices=Region.choices, db_index=True)
    equipment_model = models.CharField(max_length=32)
    install_date = models.DateField()
    firmware_version = models.CharField(max_length=32)
    is_active = models.BooleanField(default=True)

    # Refreshed by the hourly dropout job (D12, D14) and, later, by scoring pre-hydration.
    health_status = models.CharField(
        max_length=16, choices=HealthStatus.choices, default=HealthStatus.HEALTHY
    )
    dropout_state = models.CharField(
        max_length=24, choices=DropoutState.choices, default=DropoutState.HEALTHY
    )
    dropout_checked_at = models.DateTimeField(null=True, blank=True)
    last_reading_at = models.DateTimeField(null=True, blank=True)
    latest_anomaly_score = models.FloatField(null=True, blank=True)
    anomaly_trend = models.CharField(
        max_length=16, choices=AnomalyTrend.choices, default=AnomalyTrend.STABLE
    )
    # The worst severity among the device's open alerts, kept by the alerts app (D14).
    worst_open_severity = models.CharField(max_length=8, blank=True)
    avg_temperature_evaporator_24h = models.FloatField(null=True, blank=True)
    avg_compressor_current_24h = models.FloatField(null=True, blank=True)
    reading_count_24h = models.IntegerField(default=0)
    # Bit i set = sensor i of fleetmon.sensors.SENSORS reported a value recently; a set bit
    # whose sensor arrives null raises SENSOR_GAP. Grown by ingest, re-derived hourly.
    reporting_sensors = models.IntegerField(default=0)
    # Out of service (ISA-18.2, fleetmon.registry.out_of_service) until then: it raises no
    # alert and counts in no fleet figure. The reason and who did it: its OutOfServicePeriod.
    out_of_service_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["device_id"]
        indexes = [models.Index(fields=["site", "health_status"])]

    def __str__(self) -> str:
        return self.device_id

    def is_out_of_service(self, now) -> bool:
        return self.out_of_service_until is not None and self.out_of_service_until > now


def in_service(now, *, prefix: str = "") -> models.Q:
    """Devices (or rows linked to one through `prefix`, e.g. "device__") in service at `now`:
    an out-of-service period past its "until" counts as over before the sweep closes it."""
    until = f"{prefix}out_of_service_until"
    return models.Q(**{f"{until}__isnull": True}) | models.Q(**{f"{until}__lte": now})


class OutOfServicePeriod(models.Model):
    """A device taken out of service: who, when, why, until when, and how it came back."""

    device = models.ForeignKey(
        Device, on_delete=models.CASCADE, related_name="out_of_service_periods"
    )
    reason = models.TextField()
    started_at = models.DateTimeField()
    until = models.DateTimeField()
    taken_by = models.CharField(max_length=150)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.CharField(max_length=150, blank=True)  # a username, or "system" at until
    end_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        constraints = [
            # One open period per device: taking it out twice is refused, not stacked.
            models.UniqueConstraint(
                fields=["device"],
                condition=models.Q(ended_at__isnull=True),
                name="out_of_service_open",
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.device_id} out of service {self.started_at:%Y-%m-%d %H:%M}-{self.until:%H:%M}"
        )


class FleetToken(models.Model):
    """A credential a gateway sends as `Authorization: Token fmi_...` to push readings.

    Only a SHA-256 of the token is stored; the plain token is shown once, at creation.
    """

    PREFIX = "fmi_"

    name = models.CharField(max_length=100, unique=True)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(max_length=12, editable=False)  # first characters, to tell tokens apart
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"

    @staticmethod
    def hash(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    @classmethod
    def generate(cls) -> str:
        return cls.PREFIX + secrets.token_urlsafe(32)


class DefrostType(models.TextChoices):
    ELECTRIC = "electric", "Electric heater"
    HOT_GAS = "hot_gas", "Hot gas"
    OFF_CYCLE = "off_cycle", "Off-cycle (compressor off, fans on)"
    NONE = "none", "Does not defrost"


class ProductClass(models.TextChoices):
    """What the box holds, which sets its food-safety limit (chilled 5 °C, frozen -18 °C)."""

    CHILLED = "chilled"
    FROZEN = "frozen"


class EquipmentProfile(models.Model):
    """What one equipment model is (`Device.equipment_model`): the sensors it has, how it
    defrosts, what it holds and its normal operating range per sensor.

    Written only through `fleetmon.registry.services.equipment_profile_save`, which checks
    the values (`fleetmon.registry.profiles.profile_errors`) and keeps the history.
    """

    equipment_model = models.CharField(primary_key=True, max_length=32)  # WF-5HP
    description = models.CharField(max_length=200, blank=True)
    sensors = ArrayField(models.CharField(max_length=32))  # names of fleetmon.sensors
    defrost_type = models.CharField(max_length=16, choices=DefrostType.choices)
    # Both null when the equipment does not defrost.
    defrost_interval_hours = models.FloatField(null=True, blank=True)
    defrost_max_minutes = models.IntegerField(null=True, blank=True)
    product_class = models.CharField(max_length=8, choices=ProductClass.choices)
    # {sensor: {"low": x, "high": y}}: where a healthy unit's readings stay outside defrost.
    normal_ranges = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField()
    updated_by = models.CharField(max_length=150)

    class Meta:
        ordering = ["equipment_model"]

    def __str__(self) -> str:
        return self.equipment_model


class EquipmentProfileHistory(models.Model):
    """Every change of an equipment profile: who, when, the values before and after, why."""

    class Action(models.TextChoices):
        CREATED = "created"
        UPDATED = "updated"

    equipment_model = models.CharField(max_length=32, db_index=True)
    action = models.CharField(max_length=8, choices=Action.choices)
    old_values = models.JSONField(null=True, blank=True)  # null: the profile was created
    new_values = models.JSONField()
    changed_by = models.CharField(max_length=150)
    changed_at = models.DateTimeField()
    reason = models.TextField()

    class Meta:
        ordering = ["-changed_at", "-pk"]
        verbose_name_plural = "equipment profile history"

    def __str__(self) -> str:
        return f"{self.equipment_model} {self.action} by {self.changed_by}"
