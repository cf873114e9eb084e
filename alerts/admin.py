from django.contrib import admin

from alerts.models import Notification, NotificationPreference


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    """Where admins set other users' channels and on-call duty."""

    list_display = ("user", "channels", "min_severity", "on_call")
    list_filter = ("on_call", "min_severity")


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("alert", "channel", "recipient", "reason", "status", "attempts", "sent_at")
    list_filter = ("status", "channel")
    readonly_fields = [f.name for f in Notification._meta.fields]
