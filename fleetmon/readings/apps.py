from django.apps import AppConfig


class ReadingsConfig(AppConfig):
    """Sensor readings storage: raw landing (C1) and clean readings (C2) hypertables."""

    name = "fleetmon.readings"
    label = "readings"
