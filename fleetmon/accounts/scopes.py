"""Scope of a user as channel-layer groups and query filters."""

from django.db.models import Q

from fleetmon.accounts.models import Profile

FLEET_GROUP = "alerts.fleet"


def profile_of(user) -> Profile | None:
    if not user or not user.is_authenticated:
        return None
    if user.is_superuser:
        return Profile(user=user, role="admin")
    return Profile.objects.filter(user=user).first()


def alert_groups(*, region: str, site_id: str) -> list[str]:
    """The groups an alert event is sent to: the fleet, its region and its site."""
    return [FLEET_GROUP, f"alerts.region.{region}", f"alerts.site.{site_id}"]


def user_groups(profile: Profile) -> list[str]:
    """The groups a user joins. Each alert reaches a user once: fleet-wide users join only
    the fleet group; an operator joins their regions and those of their sites that lie
    outside them (the client also drops a repeated event id)."""
    from fleetmon.registry.models import Site

    if profile.fleet_wide:
        return [FLEET_GROUP]
    outside = Site.objects.filter(pk__in=profile.sites).exclude(region__in=profile.regions)
    return [f"alerts.region.{r}" for r in profile.regions] + [
        f"alerts.site.{s}" for s in outside.values_list("pk", flat=True)
    ]


def alert_filter(profile: Profile) -> Q:
    """Filter for the alerts (or their rows) a user may see."""
    if profile.fleet_wide:
        return Q()
    return Q(region__in=profile.regions) | Q(site_id__in=profile.sites)
