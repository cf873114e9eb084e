"""Ground truth of the synthetic fleet: where it starts, its faults and its harmless events."""

from django.db import models


class SimulatedFleet(models.Model):
    """One simulated fleet: its seed, size and the minute its physics starts from.

    A backfill and a later live stream of the same fleet read the origin from here, so
    they simulate one trajectory and the live readings continue the history.
    """

    seed = models.IntegerField()
    devices = models.IntegerField()
    origin = models.DateTimeField()
    # Harmless events are planned up to here; a later, longer run plans the rest.
    events_until = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["seed", "devices"], name="simulated_fleet_unique")
        ]

    def __str__(self) -> str:
        return f"{self.devices} devices, seed {self.seed}, from {self.origin:%Y-%m-%d %H:%M}"


class FaultInjection(models.Model):
    device_id = models.CharField(max_length=32, db_index=True)
    fault_type = models.CharField(max_length=40)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    # When the product was first at risk (box air out of its band 30 min, or a trip);
    # null until a simulation has reached it.
    failure_at = models.DateTimeField(null=True, blank=True)
    params = models.JSONField(default=dict, blank=True)
    seed = models.IntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["started_at", "device_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["device_id", "fault_type", "started_at"], name="fault_injection_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.fault_type} on {self.device_id} from {self.started_at:%Y-%m-%d %H:%M}"


class SimulatedEvent(models.Model):
    """A harmless event of the synthetic fleet (restocking, glitch, power loss, ...)."""

    fleet = models.ForeignKey(SimulatedFleet, on_delete=models.CASCADE, related_name="events")
    event_type = models.CharField(max_length=40)
    site_id = models.CharField(max_length=32)
    device_ids = models.JSONField(default=list)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    params = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["started_at", "site_id"]
        indexes = [models.Index(fields=["fleet", "started_at"], name="simulated_event_fleet_start")]

    def __str__(self) -> str:
        return f"{self.event_type} at {self.site_id} from {self.started_at:%Y-%m-%d %H:%M}"
