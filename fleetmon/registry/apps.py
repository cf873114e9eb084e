from django.apps import AppConfig


class RegistryConfig(AppConfig):
    """The fleet registry: sites, cohorts, devices and the fleet tokens gateways ingest with."""

    name = "fleetmon.registry"
    label = "registry"
