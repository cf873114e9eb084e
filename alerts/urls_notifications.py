"""Notification routes: the settings page and its API (included at the site root)."""

from django.urls import path

from alerts.notifications.api import MyNotificationPreferenceView, NotificationListView
from alerts.notifications.views import notification_settings

urlpatterns = [
    path("settings/notifications/", notification_settings, name="notification-settings"),
    path(
        "api/v1/notification-preferences/me/",
        MyNotificationPreferenceView.as_view(),
        name="notification-preferences-me",
    ),
    path("api/v1/notifications/", NotificationListView.as_view(), name="notifications"),
]
