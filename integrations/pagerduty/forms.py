"""The PagerDuty service form: validation only. Secret inputs are never rendered back."""

from django import forms


class PagerDutyServiceForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Shown on escalation steps, e.g. “Payments”.")
    routing_key = forms.CharField(
        label="Integration key (routing key)",
        required=False,
        max_length=200,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="The 32-character Events API v2 key of the PagerDuty service's integration, "
        "or env:VIGIL_PAGERDUTY_NAME to read it from that environment variable. Stored "
        "encrypted; never shown.",
    )
    webhook_secret = forms.CharField(
        label="Webhook signing secret",
        required=False,
        max_length=200,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="The secret of the v3 webhook subscription that posts to this service's hook "
        "URL (or env:VIGIL_PAGERDUTY_NAME). Stored encrypted; never shown.",
    )
    is_enabled = forms.BooleanField(required=False, initial=True, label="Enabled")

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            for name in ("routing_key", "webhook_secret"):
                self.fields[name].help_text += " Leave empty to keep the stored one."
        else:
            self.fields["routing_key"].required = True
            self.fields["webhook_secret"].required = True
