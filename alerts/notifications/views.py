"""The notification settings page: edit one's preferences, see one's recent notifications."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render

from alerts.notifications.routing import CHANNELS
from alerts.notifications.selectors import notifications_received, shown_error
from alerts.notifications.services import NOTIFIABLE_SEVERITIES, preference_of, preference_save
from fleetmon.accounts.models import Role
from fleetmon.accounts.permissions import role_required

RECENT = 20
CHANNEL_LABELS = {"email": "E-mail", "webhook": "Webhook (Slack-compatible JSON)"}


class PreferenceForm(forms.Form):
    channels = forms.MultipleChoiceField(
        choices=[(c, CHANNEL_LABELS[c]) for c in CHANNELS],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Choose none to hear nothing (on-call duty still reaches you by e-mail).",
    )
    min_severity = forms.ChoiceField(
        label="Minimum severity",
        choices=[(s, s.capitalize()) for s in NOTIFIABLE_SEVERITIES],
        help_text="LOW alerts are shown on the dashboard only.",
    )
    webhook_url = forms.URLField(
        label="Webhook URL",
        required=False,
        max_length=200,
        assume_scheme="https",
        help_text="Required with the webhook channel. Receives Slack-compatible JSON.",
    )
    on_call = forms.BooleanField(
        label="On call (receives every CRITICAL alert and every escalation)",
        required=False,
    )

    def __init__(self, *args, can_set_on_call: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not can_set_on_call:
            self.fields["on_call"].disabled = True
            self.fields["on_call"].help_text = "Set by an admin."

    def clean_webhook_url(self) -> str:
        url = self.cleaned_data["webhook_url"]
        if url and not url.lower().startswith(("http://", "https://")):
            raise ValidationError("use an http:// or https:// URL")
        return url


@role_required()
def notification_settings(request):
    profile = request.profile
    preference = preference_of(request.user)
    initial = {
        "channels": preference.channels,
        "min_severity": preference.min_severity,
        "webhook_url": preference.webhook_url,
        "on_call": preference.on_call,
    }
    can_set_on_call = profile.role == Role.ADMIN
    data = request.POST if request.method == "POST" else None
    form = PreferenceForm(data, initial=initial, can_set_on_call=can_set_on_call)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                preference_save(user=request.user, profile=profile, **form.cleaned_data)
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    for error in errors:
                        form.add_error(field, error)
            else:
                messages.success(request, "Notification preferences saved.")
                return redirect("notification-settings")
        status = 400
    context = {
        "profile": profile,
        "form": form,
        "preference": preference,
        "scope": ", ".join([*profile.regions, *profile.sites]),
        "recent": [
            (n, n.reason.replace("_", " ").replace("+", ", "), shown_error(n.last_error))
            for n in notifications_received(request.user, preference)[:RECENT]
        ],
    }
    return render(request, "alerts/notification_settings.html", context, status=status)
