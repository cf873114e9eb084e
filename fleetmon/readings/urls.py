from django.urls import path

from fleetmon.readings.api import DeviceHistoryView

urlpatterns = [
    path(
        "api/v1/devices/<str:device_id>/history/",
        DeviceHistoryView.as_view(),
        name="device-history",
    )
]
