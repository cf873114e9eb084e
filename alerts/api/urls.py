from django.urls import path

from alerts.api.maintenance_windows import (
    MaintenanceWindowCancelView,
    MaintenanceWindowListView,
)
from alerts.api.views import AlertEventsView, StormListView

urlpatterns = [
    path(
        "maintenance-windows/",
        MaintenanceWindowListView.as_view(),
        name="api-maintenance-windows",
    ),
    path(
        "maintenance-windows/<int:pk>/cancel/",
        MaintenanceWindowCancelView.as_view(),
        name="api-maintenance-window-cancel",
    ),
    path("storms/", StormListView.as_view(), name="storms"),
    path("alert-events/", AlertEventsView.as_view(), name="alert-events"),
]
