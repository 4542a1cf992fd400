"""Forms for coordinating an incident: roles, status updates, handoffs, decisions, questions,
templates and cadence. Validation only; every choice list is this organisation's."""

from django import forms
from django_scopes.forms import SafeModelChoiceField

from incidents.coordination import ROLE_LABELS, TEXT_LIMIT
from incidents.forms import UserChoiceField, org_members
from incidents.models import StatusUpdateTemplate
from tenancy.models import User

ROLE_CHOICES = list(ROLE_LABELS.items())
ACTION_ROWS = 5


def _text(label, *, required=False, rows=3, max_length=TEXT_LIMIT, **attrs):
    return forms.CharField(
        label=label,
        required=required,
        max_length=max_length,
        widget=forms.Textarea(attrs={"rows": rows, **attrs}),
    )


class RoleAssignForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES)
    user = UserChoiceField(queryset=User.objects.none(), label="Person")

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = org_members(organization)


class RoleTakeForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES)


class StatusUpdateForm(forms.Form):
    current_status = _text("Current status", required=True, rows=2)
    impact = _text("Impact", rows=2)
    workaround = _text("Workaround", rows=2)
    body = _text("More detail", rows=3)
    next_update_at = forms.DateTimeField(
        label="Next update by",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="In the organisation's time zone. Leave empty for one cadence from now.",
    )
    template = SafeModelChoiceField(
        queryset=StatusUpdateTemplate.objects.none(), required=False, widget=forms.HiddenInput
    )

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = StatusUpdateTemplate.objects.filter(
            organization=organization
        )


class HandoffForm(forms.Form):
    incoming = UserChoiceField(queryset=User.objects.none(), label="Who takes over")
    summary = _text("Summary of progress", required=True, rows=4)
    workarounds = _text("Known workarounds", rows=2)
    questions = forms.CharField(
        label="Open questions",
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line. They stay on the incident page until someone answers them.",
    )

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        members = org_members(organization)
        self.fields["incoming"].queryset = members
        for n in range(1, ACTION_ROWS + 1):
            self.fields[f"action_{n}"] = forms.CharField(
                label=f"Pending action {n}", required=False, max_length=500
            )
            owner = UserChoiceField(
                queryset=User.objects.none(),
                label=f"Owner of action {n}",
                required=False,
                empty_label="— owner —",
            )
            owner.queryset = members
            self.fields[f"owner_{n}"] = owner

    def action_rows(self):
        return [(self[f"action_{n}"], self[f"owner_{n}"]) for n in range(1, ACTION_ROWS + 1)]

    def clean(self):
        data = super().clean()
        for n in range(1, ACTION_ROWS + 1):
            if data.get(f"owner_{n}") and not (data.get(f"action_{n}") or "").strip():
                self.add_error(f"action_{n}", "Say what the owner has to do.")
        return data

    def pending_actions(self):
        return [
            (self.cleaned_data.get(f"action_{n}"), self.cleaned_data.get(f"owner_{n}"))
            for n in range(1, ACTION_ROWS + 1)
            if (self.cleaned_data.get(f"action_{n}") or "").strip()
        ]

    def question_list(self):
        return [q.strip() for q in self.cleaned_data.get("questions", "").splitlines() if q.strip()]


class AcknowledgeForm(forms.Form):
    note = forms.CharField(required=False, max_length=2000, label="Note (optional)")


class DecisionForm(forms.Form):
    text = _text("Decision", required=True, rows=2, max_length=2000)
    pinned = forms.BooleanField(label="Pin to the top of the page", required=False)


class PinForm(forms.Form):
    pinned = forms.TypedChoiceField(
        choices=[("yes", "Pin"), ("no", "Unpin")], coerce=lambda v: v == "yes"
    )


class QuestionForm(forms.Form):
    text = forms.CharField(label="Open question", max_length=500)


class AnswerForm(forms.Form):
    answer = forms.CharField(label="Answer", max_length=2000)


class StatusTemplateForm(forms.Form):
    name = forms.CharField(max_length=80)
    current_status = _text("Current status", required=True, rows=2)
    impact = _text("Impact", rows=2)
    workaround = _text("Workaround", rows=2)
    body = _text("More detail", rows=3)
    is_active = forms.BooleanField(label="Offered when posting an update", required=False)


class CadenceForm(forms.Form):
    """One minutes field per severity, named `sev_<pk>`; empty means no required cadence."""

    def __init__(self, *args, table, **kwargs):
        super().__init__(*args, **kwargs)
        self.severities = []
        for severity, minutes, _default in table:
            name = f"sev_{severity.pk}"
            self.fields[name] = forms.IntegerField(
                label=f"{severity.name}: minutes between updates",
                required=False,
                min_value=1,
                max_value=7 * 24 * 60,
                initial=minutes,
            )
            self.severities.append((severity, name))

    def minutes(self) -> dict[int, int | None]:
        return {severity.pk: self.cleaned_data.get(name) for severity, name in self.severities}
