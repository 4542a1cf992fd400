"""The integration form: validation only (the model's clean() checks the combination)."""

from django import forms

from integrations.ticketing.models import ENV_PREFIX, TicketIntegration, env_name_allowed
from taxonomy.models import SeverityLevel


class TicketIntegrationForm(forms.Form):
    name = forms.CharField(max_length=100)
    kind = forms.ChoiceField(label="Tracker", choices=TicketIntegration.Kind.choices)
    base_url = forms.CharField(
        label="Base URL",
        max_length=300,
        help_text="e.g. https://example.atlassian.net or https://example.service-now.com",
    )
    auth_scheme = forms.ChoiceField(
        label="Authentication", choices=TicketIntegration.AuthScheme.choices
    )
    username = forms.CharField(
        label="User or e-mail",
        max_length=200,
        required=False,
        help_text="Jira Cloud: the account's e-mail. ServiceNow: the integration user.",
    )
    credential_env = forms.CharField(
        label="Credential from the environment",
        max_length=104,
        required=False,
        help_text="<code>env:VIGIL_TICKETING_NAME</code>: read from the workers' environment at "
        "send time (only VIGIL_TICKETING_* variables).",
    )
    credential = forms.CharField(
        label="Or store a credential (encrypted)",
        max_length=2000,
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="API token / password. Stored encrypted, never shown again. "
        "Leave empty when editing to keep the current one.",
    )
    project_key = forms.CharField(label="Jira project key", max_length=10, required=False)
    issue_type = forms.CharField(
        label="Jira issue type", max_length=60, required=False, initial="Task"
    )
    resolve_transition = forms.CharField(
        label="Jira transition on resolve",
        max_length=60,
        required=False,
        help_text="Name (e.g. Done) or id (e.g. 31). Empty: only a comment.",
    )
    close_transition = forms.CharField(
        label="Jira transition on close",
        max_length=60,
        required=False,
        help_text="Name or id. Empty: only a comment.",
    )
    table = forms.CharField(
        label="ServiceNow table", max_length=80, required=False, initial="incident"
    )
    resolved_state = forms.CharField(
        label="ServiceNow resolved state", max_length=20, required=False, initial="6"
    )
    closed_state = forms.CharField(
        label="ServiceNow closed state", max_length=20, required=False, initial="7"
    )
    close_code = forms.CharField(
        label="ServiceNow close code",
        max_length=80,
        required=False,
        initial="Solved (Permanently)",
    )
    mirror = forms.ChoiceField(label="Mirror", choices=TicketIntegration.Mirror.choices)
    min_severity = forms.ModelChoiceField(
        label="Weakest severity to mirror", queryset=SeverityLevel.objects.none(), required=False
    )

    def __init__(self, *args, organization, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["min_severity"].queryset = SeverityLevel.objects.filter(
            organization=organization
        )
        if editing:
            del self.fields["kind"]

    def clean_credential_env(self) -> str:
        value = self.cleaned_data["credential_env"].strip()
        if value and not value.startswith("env:"):
            raise forms.ValidationError(f"Write it as env:{ENV_PREFIX}NAME.")
        if value and not env_name_allowed(value[4:]):
            raise forms.ValidationError(
                f"Only environment variables named {ENV_PREFIX}… (A-Z, 0-9 and _) may be read."
            )
        return value

    @staticmethod
    def initial_for(integration: TicketIntegration) -> dict:
        initial = {
            name: getattr(integration, name)
            for name in (
                "name",
                "base_url",
                "auth_scheme",
                "username",
                "project_key",
                "issue_type",
                "resolve_transition",
                "close_transition",
                "table",
                "resolved_state",
                "closed_state",
                "close_code",
                "mirror",
                "min_severity",
            )
        }
        if integration.credential_env:
            initial["credential_env"] = f"env:{integration.credential_env}"
        return initial
