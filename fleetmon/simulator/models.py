"""Ground truth of the synthetic fleet: which fault was injected where and when."""

from django.db import models


class FaultInjection(models.Model):
    device_id = models.CharField(max_length=32, db_index=True)
    fault_type = models.CharField(max_length=40)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
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
