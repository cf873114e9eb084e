from django.contrib import admin, messages

from fleetmon.registry.models import Cohort, Device, FleetToken, Site
from fleetmon.registry.services import fleet_token_create, fleet_token_revoke


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ("site_id", "site_name", "region", "climate_zone", "site_type")
    list_filter = ("region", "climate_zone", "site_type")
    search_fields = ("site_id", "site_name", "address")


@admin.register(Cohort)
class CohortAdmin(admin.ModelAdmin):
    list_display = ("cohort_id", "equipment_model", "climate_zone")
    list_filter = ("equipment_model", "climate_zone")


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = (
        "device_id",
        "site",
        "region",
        "equipment_model",
        "health_status",
        "dropout_state",
        "last_reading_at",
        "latest_anomaly_score",
    )
    list_filter = ("region", "health_status", "dropout_state", "equipment_model")
    search_fields = ("device_id", "site__site_id", "site__site_name")
    list_select_related = ("site",)
    raw_id_fields = ("site",)
    readonly_fields = (
        "health_status",
        "dropout_state",
        "dropout_checked_at",
        "last_reading_at",
        "latest_anomaly_score",
        "anomaly_trend",
        "avg_temperature_evaporator_24h",
        "avg_compressor_current_24h",
        "reading_count_24h",
        "reporting_sensors",
    )


@admin.register(FleetToken)
class FleetTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "hint", "created_at", "last_used_at", "revoked_at")
    fields = ("name", "hint", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("hint", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        token, plain = fleet_token_create(name=obj.name)
        obj.pk = token.pk
        self.message_user(
            request,
            f"Fleet token for {obj.name}: {plain} (copy it now, it is not shown again).",
            messages.WARNING,
        )

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        for token in queryset:
            fleet_token_revoke(token=token)
