"""A user's role and scope. An operator sees the regions and sites listed; the other roles
see the whole fleet (what they may change is decided by their role)."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models


class Role(models.TextChoices):
    OPERATOR = "operator"
    ML_ENGINEER = "ml_engineer"
    MANAGER = "manager"
    ADMIN = "admin"


class Profile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    role = models.CharField(max_length=16, choices=Role.choices)
    regions = ArrayField(models.CharField(max_length=8), default=list, blank=True)
    sites = ArrayField(models.CharField(max_length=32), default=list, blank=True)

    def __str__(self) -> str:
        return f"{self.user} ({self.role})"

    @property
    def fleet_wide(self) -> bool:
        return self.role != Role.OPERATOR

    # What each role may change. Managers read everything and change nothing.
    @property
    def can_triage(self) -> bool:
        """Act on alerts (acknowledge, maintenance, false positive, resolve, escalate) and
        edit device thresholds, within scope."""
        return self.role in (Role.OPERATOR, Role.ADMIN)

    @property
    def can_manage_models(self) -> bool:
        """Train, promote and roll back models; edit cohort thresholds; trigger runs."""
        return self.role in (Role.ML_ENGINEER, Role.ADMIN)

    def sees(self, *, region: str, site_id: str) -> bool:
        return self.fleet_wide or region in self.regions or site_id in self.sites


class ApiToken(models.Model):
    """A user's credential for scripts: `Authorization: Token fmu_...`.

    Only a SHA-256 of the token is stored (as for fleet tokens); the plain token is shown
    once, at creation. It stops working at `expires_at` or when revoked.
    """

    PREFIX = "fmu_"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(max_length=12, editable=False)  # first characters, to tell apart
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["user", "-created_at"]

    def __str__(self) -> str:
        return f"{self.user} {self.name} ({self.hint}…)"
