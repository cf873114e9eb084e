from django import forms
from django.contrib import admin, messages

from fleetmon.registry.models import (
    Cohort,
    Device,
    EquipmentProfile,
    EquipmentProfileHistory,
    FleetToken,
    Site,
)
from fleetmon.registry.profiles import PROFILE_FIELDS, profile_errors
from fleetmon.registry.services import (
    ProfileError,
    equipment_profile_save,
    fleet_token_create,
    fleet_token_revoke,
)


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


class EquipmentProfileForm(forms.ModelForm):
    """The profile's fields plus the reason its history records; checked like the API."""

    change_reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), help_text="kept in the profile's history"
    )

    class Meta:
        model = EquipmentProfile
        fields = list(PROFILE_FIELDS)

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        values = {name: cleaned.get(name) for name in PROFILE_FIELDS}
        if "equipment_model" not in self.fields:  # read-only once the profile exists
            values["equipment_model"] = self.instance.pk
        for field, problems in profile_errors(values).items():
            if isinstance(problems, dict):  # normal_ranges: keyed by sensor
                problems = [f"{sensor}: {'; '.join(p)}" for sensor, p in problems.items()]
            self.add_error(field if field in self.fields else None, problems)
        return cleaned


@admin.register(EquipmentProfile)
class EquipmentProfileAdmin(admin.ModelAdmin):
    form = EquipmentProfileForm
    list_display = (
        "equipment_model",
        "product_class",
        "defrost_type",
        "defrost_interval_hours",
        "defrost_max_minutes",
        "updated_at",
        "updated_by",
    )
    list_filter = ("product_class", "defrost_type")
    readonly_fields = ("updated_at", "updated_by")

    def get_readonly_fields(self, request, obj=None):
        # The model is the key that devices name: renaming would orphan them.
        return (*self.readonly_fields, "equipment_model") if obj else self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        # Every change keeps a history row; a deletion would leave none.
        return False

    def save_model(self, request, obj, form, change):
        values = {name: getattr(obj, name) for name in PROFILE_FIELDS}
        try:
            equipment_profile_save(
                values=values,
                actor=request.user.get_username(),
                reason=form.cleaned_data["change_reason"],
            )
        except ProfileError as exc:  # a race with another edit; the form checked the rest
            self.message_user(request, f"Not saved: {exc}", messages.ERROR)


@admin.register(EquipmentProfileHistory)
class EquipmentProfileHistoryAdmin(admin.ModelAdmin):
    list_display = ("equipment_model", "action", "changed_by", "changed_at", "reason")
    list_filter = ("equipment_model", "action")
    readonly_fields = [f.name for f in EquipmentProfileHistory._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
