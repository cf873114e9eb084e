from django.contrib import admin

from monitoring.models import DriftCheck, FeatureDriftMetric


@admin.register(FeatureDriftMetric)
class FeatureDriftMetricAdmin(admin.ModelAdmin):
    list_display = (
        "window_end",
        "window_minutes",
        "scope",
        "cohort_id",
        "feature_name",
        "ks_statistic",
        "ks_p_value",
        "psi_value",
        "drift_severity",
        "drifting",
    )
    list_filter = ("window_minutes", "scope", "drift_severity", "drifting")
    search_fields = ("feature_name", "cohort_id")


@admin.register(DriftCheck)
class DriftCheckAdmin(admin.ModelAdmin):
    list_display = (
        "window_end",
        "window_minutes",
        "scope",
        "cohort_id",
        "features_drifting",
        "features_total",
        "pipeline_suspect",
    )
    list_filter = ("window_minutes", "scope", "pipeline_suspect")
