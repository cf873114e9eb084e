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
    return scope_filter(profile)


def scope_filter(profile: Profile, *, region: str = "region", site: str = "site_id") -> Q:
    """alert_filter for any model: `region` and `site` name its region and site lookups."""
    if profile.fleet_wide:
        return Q()
    return Q(**{f"{region}__in": profile.regions}) | Q(**{f"{site}__in": profile.sites})


def scoped_alerts(profile: Profile):
    from alerts.models import DeviceAlert

    return DeviceAlert.objects.filter(alert_filter(profile))


def scoped_devices(profile: Profile):
    from fleetmon.registry.models import Device

    return Device.objects.filter(scope_filter(profile))


def scoped_sites(profile: Profile):
    from fleetmon.registry.models import Site

    return Site.objects.filter(scope_filter(profile, site="site_id"))
