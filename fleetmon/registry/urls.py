"""Device, site and overview pages and their /api/v1/ endpoints (threshold editor included).

`api/v1/devices/<id>/history/` (sensor charts) lives in fleetmon.readings.urls.
"""

from django.urls import path

from alerts.api import thresholds
from fleetmon.registry import api, out_of_service_api, profiles_api, views

DEVICE_API = "api/v1/devices/<str:device_id>/"
COHORT_API = "api/v1/cohorts/<path:cohort_id>/"  # cohort ids hold a slash: WF-5HP/temperate
PROFILE_API = "api/v1/equipment-profiles/<str:equipment_model>/"

urlpatterns = [
    # pages
    path("devices/<str:device_id>/", views.device_page, name="device"),
    path("sites/", views.sites_page, name="sites"),
    path("sites/<str:site_id>/", views.site_page, name="site"),
    path("overview/", views.overview_page, name="overview"),
    # devices
    path(DEVICE_API, api.DeviceDetailView.as_view(), name="api-device"),
    path(
        f"{DEVICE_API}score-chart/",
        api.DeviceScoreChartView.as_view(),
        name="api-device-score-chart",
    ),
    path(
        f"{DEVICE_API}out-of-service/",
        out_of_service_api.TakeOutOfServiceView.as_view(),
        name="api-device-out-of-service",
    ),
    path(
        f"{DEVICE_API}return-to-service/",
        out_of_service_api.ReturnToServiceView.as_view(),
        name="api-device-return-to-service",
    ),
    path(
        f"{DEVICE_API}thresholds/",
        thresholds.DeviceThresholdsView.as_view(),
        name="api-device-thresholds",
    ),
    # Before <parameter>/: "history" would otherwise read as a parameter name.
    path(
        f"{DEVICE_API}thresholds/history/",
        thresholds.DeviceThresholdHistoryView.as_view(),
        name="api-device-threshold-history",
    ),
    path(
        f"{DEVICE_API}thresholds/history/<int:history_id>/revert/",
        thresholds.DeviceThresholdRevertView.as_view(),
        name="api-device-threshold-revert",
    ),
    path(
        f"{DEVICE_API}thresholds/<str:parameter>/",
        thresholds.DeviceThresholdView.as_view(),
        name="api-device-threshold",
    ),
    path(
        f"{DEVICE_API}thresholds/<str:parameter>/preview/",
        thresholds.DeviceThresholdPreviewView.as_view(),
        name="api-device-threshold-preview",
    ),
    # cohorts
    path(
        f"{COHORT_API}thresholds/",
        thresholds.CohortThresholdsView.as_view(),
        name="api-cohort-thresholds",
    ),
    path(
        f"{COHORT_API}thresholds/<str:parameter>/",
        thresholds.CohortThresholdView.as_view(),
        name="api-cohort-threshold",
    ),
    # equipment profiles
    path(
        "api/v1/equipment-profiles/",
        profiles_api.EquipmentProfileListView.as_view(),
        name="api-equipment-profiles",
    ),
    path(
        PROFILE_API,
        profiles_api.EquipmentProfileDetailView.as_view(),
        name="api-equipment-profile",
    ),
    path(
        f"{PROFILE_API}history/",
        profiles_api.EquipmentProfileHistoryView.as_view(),
        name="api-equipment-profile-history",
    ),
    # sites and overview
    path("api/v1/sites/", api.SiteListView.as_view(), name="api-sites"),
    path("api/v1/sites/<str:site_id>/", api.SiteDetailView.as_view(), name="api-site"),
    path("api/v1/overview/", api.OverviewView.as_view(), name="api-overview"),
]
