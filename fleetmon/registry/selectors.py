"""Reads of the fleet registry."""

from django.db.models import Count

from fleetmon.registry.models import Device, Site


def fleet_summary() -> dict:
    devices = Device.objects.filter(is_active=True)
    return {
        "devices": devices.count(),
        "sites": Site.objects.count(),
        "by_health": dict(devices.values_list("health_status").annotate(n=Count("pk")).order_by()),
        "by_dropout": dict(devices.values_list("dropout_state").annotate(n=Count("pk")).order_by()),
        "by_region": dict(devices.values_list("region").annotate(n=Count("pk")).order_by()),
    }
