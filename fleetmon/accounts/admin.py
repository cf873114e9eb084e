from django.contrib import admin, messages

from fleetmon.accounts.models import ApiToken
from fleetmon.accounts.tokens import api_token_create, api_token_revoke


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """User API tokens: the plain token is shown once, on creation; then only its hint."""

    list_display = (
        "user",
        "name",
        "hint",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = ("revoked_at",)
    fields = ("user", "name", "hint", "created_at", "expires_at", "last_used_at", "revoked_at")
    readonly_fields = ("hint", "created_at", "expires_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        # Who and what a token is for are fixed once it exists.
        return (*self.readonly_fields, "user", "name") if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        token, plain = api_token_create(user=obj.user, name=obj.name)
        obj.pk = token.pk
        self.message_user(
            request,
            f"Token for {obj.user}: {plain}  (copy it now: it is not shown again; "
            f"it expires {token.expires_at:%Y-%m-%d})",
            messages.WARNING,
        )

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        for token in queryset:
            api_token_revoke(token=token)
