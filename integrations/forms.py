"""Forms for the integrations pages. Validation only: the views hand the cleaned data to
integrations.services, which writes.

Choice fields over tenant rows start empty (django-scopes' Safe* fields) and get this
organisation's rows in __init__, so another organisation's pk is "not a valid choice"."""

from django import forms
from django.db.models import Q
from django_scopes.forms import SafeModelChoiceField

from config import limits
from integrations.models import SOURCE_KINDS, AlertSource, CorrelationRule, MaintenanceWindow
from integrations.services import ROTATION_OVERLAPS
from taxonomy.forms import LabelsField, OrgModelForm
from taxonomy.models import Category, Service, SeverityLevel
from tenancy.models import Team

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


class SourceForm(OrgModelForm):
    use_hmac = forms.BooleanField(
        label="Require an HMAC signature (X-Vigil-Signature)",
        required=False,
        help_text="Senders then sign each body with a second secret; Alertmanager and most "
        "tools cannot, scripts and proxies can.",
    )
    alertmanager_api_url = forms.URLField(
        label="Alertmanager API URL",
        required=False,
        max_length=200,
        assume_scheme="http",
        help_text="Optional, e.g. http://alertmanager:9093. Vigil silences an incident's "
        "alerts while it is acknowledged and expires the silence on resolve.",
    )
    outbound_webhook_url = forms.URLField(
        label="Outbound webhook URL",
        required=False,
        max_length=200,
        assume_scheme="https",
        help_text="Optional. Vigil posts the incident's state here on every transition, "
        "signed with a secret shown once.",
    )

    class Meta:
        model = AlertSource
        fields = [
            "name",
            "kind",
            "default_service",
            "default_team",
            "default_category",
            "secret_in_url",
            "use_hmac",
            "rate_limit_per_minute",
            "alertmanager_api_url",
            "outbound_webhook_url",
            "heartbeat_minutes",
        ]
        field_classes = {
            "default_service": SafeModelChoiceField,
            "default_team": SafeModelChoiceField,
            "default_category": SafeModelChoiceField,
        }
        labels = {
            "kind": "Sends as",
            "default_service": "Default service",
            "default_team": "Default owning team",
            "default_category": "Default category",
            "secret_in_url": "Also accept the secret in the URL",
            "rate_limit_per_minute": "Rate limit (posts per minute)",
            "heartbeat_minutes": "Expect a heartbeat every (minutes)",
        }
        help_texts = {
            "kind": "The payload format this tool posts.",
            "default_service": "Incidents this source opens get this service unless a "
            "correlation rule sets another.",
            "secret_in_url": "Only for senders that cannot set an Authorization header "
            "(Splunk's webhook action, some older tools): URLs end up in logs.",
            "heartbeat_minutes": "Optional. When no ping arrives for this long, Vigil opens "
            "“Monitoring source … silent”.",
        }
        widgets = {
            "rate_limit_per_minute": forms.NumberInput(attrs={"min": 1, "max": 100000}),
            "heartbeat_minutes": forms.NumberInput(attrs={"min": 1, "max": 10080}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        org = self.organization
        # Active rows, and the ones the source has even if they were deactivated since.
        service_offered = Q(is_active=True) | Q(pk=self.instance.default_service_id)
        category_offered = Q(is_active=True) | Q(pk=self.instance.default_category_id)
        choices = {
            "default_service": (
                Service.objects.filter(service_offered, organization=org),
                "No default service",
            ),
            "default_team": (Team.objects.filter(organization=org), "No default team"),
            "default_category": (
                Category.objects.filter(category_offered, organization=org).select_related(
                    "parent"
                ),
                "No default category",
            ),
        }
        for name, (queryset, empty_label) in choices.items():
            self.fields[name].queryset = queryset
            self.fields[name].empty_label = empty_label
        self.fields["rate_limit_per_minute"].min_value = 1
        if "kind" in self.fields:
            self.fields["kind"].choices = SOURCE_KINDS
            self.fields["kind"].initial = "alertmanager"
        if self.instance.pk:
            self.fields["use_hmac"].initial = bool(self.instance.hmac_secret)
            # The kind decides how every stored payload was read: fixed once created.
            del self.fields["kind"]

    def clean_heartbeat_minutes(self):
        value = self.cleaned_data.get("heartbeat_minutes")
        if value is not None and value < 1:
            raise forms.ValidationError("At least 1 minute, or leave it empty.")
        return value

    def clean_rate_limit_per_minute(self):
        value = self.cleaned_data.get("rate_limit_per_minute")
        if value is not None and value < 1:
            raise forms.ValidationError("At least 1 post per minute.")
        return value


class RotateForm(forms.Form):
    overlap = forms.TypedChoiceField(
        label="Let the current secret keep working for",
        choices=list(ROTATION_OVERLAPS.items()),
        coerce=int,
        initial=3600,
        widget=forms.RadioSelect,
        help_text="Time to update the sender. The secret before the current one (if it is "
        "still in an overlap) stops working now.",
    )
    rotate_hmac = forms.BooleanField(label="Also replace the HMAC signing secret", required=False)
    rotate_outbound = forms.BooleanField(
        label="Also replace the outbound webhook's signing secret", required=False
    )

    def __init__(self, *args, source: AlertSource, **kwargs):
        super().__init__(*args, **kwargs)
        if not source.hmac_secret:
            del self.fields["rotate_hmac"]
        else:
            self.fields["rotate_hmac"].help_text = (
                "With an overlap, signatures made with the old one are accepted until the "
                "next rotation."
            )
        if not source.outbound_webhook_url:
            del self.fields["rotate_outbound"]


class RuleForm(limits.TextLimitsMixin, OrgModelForm):
    text_limits = {"group_by": limits.LABELS_JSON}

    match_labels = LabelsField(
        required=False,
        label="Alert labels",
        help_text="Optional. A JSON object of strings that must all equal the alert group's "
        'labels, e.g. {"env": "prod", "severity": "critical"}.',
    )

    class Meta:
        model = CorrelationRule
        fields = [
            "name",
            "position",
            "is_active",
            "source",
            "match_labels",
            "match_text",
            "action",
            "set_severity",
            "set_category",
            "set_service",
            "set_team",
            "threshold_count",
            "threshold_window_minutes",
            "min_firing_seconds",
            "group_by",
            "group_window_minutes",
            "flap_max",
            "flap_window_minutes",
        ]
        field_classes = {
            "source": SafeModelChoiceField,
            "set_severity": SafeModelChoiceField,
            "set_category": SafeModelChoiceField,
            "set_service": SafeModelChoiceField,
            "set_team": SafeModelChoiceField,
        }
        labels = {
            "is_active": "Active",
            "source": "From source",
            "match_text": "Title contains",
            "action": "Action",
            "set_severity": "Set severity",
            "set_category": "Set category",
            "set_service": "Set service",
            "set_team": "Set owning team",
            "threshold_count": "Open an incident only after (alerts)",
            "threshold_window_minutes": "…within (minutes)",
            "min_firing_seconds": "Minimum firing time (seconds)",
            "group_by": "Cluster by labels",
            "group_window_minutes": "Cluster window (minutes)",
            "flap_max": "Flapping: at most (re-fires)",
            "flap_window_minutes": "…within (minutes)",
        }
        help_texts = {
            "position": "Rules are tried from the lowest position up; the first match decides.",
            "match_text": "Words that must all appear in the alert's title (case-insensitive).",
            "threshold_count": "1 = at the first alert.",
            "threshold_window_minutes": "",
            "min_firing_seconds": "Alerts that resolve sooner open nothing (0 = no minimum).",
        }
        widgets = {
            "position": forms.NumberInput(attrs={"min": 0}),
            "threshold_count": forms.NumberInput(attrs={"min": 1}),
            "threshold_window_minutes": forms.NumberInput(attrs={"min": 1}),
            "min_firing_seconds": forms.NumberInput(attrs={"min": 0}),
        }

    OPTIONAL_DEFAULTS = {"group_window_minutes": 10, "flap_max": 0, "flap_window_minutes": 60}

    def clean_group_by(self):
        return self.cleaned_data.get("group_by") or []

    def _clean_optional(self, name):
        value = self.cleaned_data.get(name)
        return self.OPTIONAL_DEFAULTS[name] if value is None else value

    def clean_group_window_minutes(self):
        return self._clean_optional("group_window_minutes")

    def clean_flap_max(self):
        return self._clean_optional("flap_max")

    def clean_flap_window_minutes(self):
        return self._clean_optional("flap_window_minutes")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group_by"].required = False
        for name in self.OPTIONAL_DEFAULTS:
            self.fields[name].required = False
        org = self.organization
        choices = {
            "source": (AlertSource.objects.filter(organization=org), "Any source"),
            "set_severity": (
                SeverityLevel.objects.filter(organization=org).order_by("level"),
                "From the alert's own severity",
            ),
            "set_category": (
                Category.objects.filter(organization=org).select_related("parent"),
                "The source's default",
            ),
            "set_service": (Service.objects.filter(organization=org), "The source's default"),
            "set_team": (Team.objects.filter(organization=org), "The source's default"),
        }
        for name, (queryset, empty_label) in choices.items():
            self.fields[name].queryset = queryset
            self.fields[name].empty_label = empty_label
        self.fields["action"].widget = forms.RadioSelect(choices=CorrelationRule.Action.choices)

    def clean_threshold_count(self):
        value = self.cleaned_data.get("threshold_count")
        if value is not None and value < 1:
            raise forms.ValidationError("At least 1.")
        return value

    def clean_threshold_window_minutes(self):
        value = self.cleaned_data.get("threshold_window_minutes")
        if value is not None and value < 1:
            raise forms.ValidationError("At least 1 minute.")
        return value

    def _post_clean(self):
        # With unreadable labels the rule's clean() would complain about the labels again,
        # less helpfully; the field's own error is the one to fix.
        if self.has_error("match_labels"):
            return
        super()._post_clean()


class WindowForm(OrgModelForm):
    match_labels = LabelsField(
        required=False,
        label="Alert labels",
        help_text="Optional. Only alerts whose labels include all of these, e.g. "
        '{"env": "staging"}. Empty: every alert (of the service, if one is chosen).',
    )

    class Meta:
        model = MaintenanceWindow
        fields = [
            "name",
            "starts_at",
            "ends_at",
            "recurrence",
            "service",
            "match_labels",
            "is_active",
        ]
        field_classes = {"service": SafeModelChoiceField}
        labels = {
            "starts_at": "Starts",
            "ends_at": "Ends",
            "recurrence": "Repeats",
            "service": "Only alerts of sources whose default service is",
            "is_active": "Active",
        }
        widgets = {
            "starts_at": forms.DateTimeInput(
                attrs={"type": "datetime-local"}, format=DATETIME_LOCAL
            ),
            "ends_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        zone = self.organization.timezone
        for name in ("starts_at", "ends_at"):
            self.fields[name].input_formats = [
                DATETIME_LOCAL,
                "%Y-%m-%d %H:%M",
                "%Y-%m-%d %H:%M:%S",
            ]
            self.fields[name].help_text = f"In the organisation's time zone ({zone})."
        self.fields["service"].queryset = Service.objects.filter(organization=self.organization)
        self.fields["service"].empty_label = "Any service"

    def clean(self):
        cleaned = super().clean()
        starts, ends = cleaned.get("starts_at"), cleaned.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", "The window must end after it starts.")
        return cleaned

    def _post_clean(self):
        if self.has_error("match_labels"):
            return
        super()._post_clean()
