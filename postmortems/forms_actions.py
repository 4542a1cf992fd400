"""Forms for action items: validation of shapes and sizes only; the services decide the rest
(membership, teams, dates in the organisation's time zone, capabilities)."""

from django import forms

from postmortems import actions
from postmortems.models import ActionItem
from tenancy.models import Membership, Team, User


def member_choices(organization):
    """The organisation's active members (built in the request's scope)."""
    members = Membership.objects.filter(organization=organization).values("user_id")
    return User.objects.filter(pk__in=members, is_active=True).order_by("full_name", "email")


class ActionItemForm(forms.Form):
    title = forms.CharField(max_length=actions.TITLE_LIMIT)
    owner = forms.ModelChoiceField(
        queryset=User.objects.none(), required=False, empty_label="No owner yet"
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.none(), required=False, empty_label="No team"
    )
    due_date = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        label="Due date",
    )
    priority = forms.ChoiceField(choices=ActionItem.Priority.choices, initial="p3")
    kind = forms.ChoiceField(choices=ActionItem.Kind.choices)
    ticket_url = forms.URLField(
        max_length=actions.TICKET_URL_LIMIT,
        required=False,
        label="Ticket link",
        assume_scheme="https",
        widget=forms.URLInput(attrs={"placeholder": "https://tracker.example/OPS-123"}),
    )
    ticket_key = forms.CharField(
        max_length=actions.TICKET_KEY_LIMIT,
        required=False,
        label="Ticket key",
        widget=forms.TextInput(attrs={"placeholder": "OPS-123"}),
    )
    description = forms.CharField(
        max_length=actions.DESCRIPTION_LIMIT,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = member_choices(organization)
        self.fields["owner"].label_from_instance = lambda user: user.display_name
        self.fields["team"].queryset = Team.objects.filter(organization=organization)

    def clean_ticket_url(self):
        url = self.cleaned_data.get("ticket_url") or ""
        if url and not url.lower().startswith(("http://", "https://")):
            raise forms.ValidationError("Only http:// or https:// links to a ticket.")
        return url

    @classmethod
    def initial_for(cls, item: ActionItem) -> dict:
        return {name: getattr(item, name) for name in actions.EDITABLE}


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=ActionItem.Status.choices)
