"""The fleet registry (domain §7.1): where every device is, what it is, and how it is doing."""

import hashlib
import secrets

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

    class Meta:
        ordering = ["device_id"]
        indexes = [models.Index(fields=["site", "health_status"])]

    def __str__(self) -> str:
        return self.device_id


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
