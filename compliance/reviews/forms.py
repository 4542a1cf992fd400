"""Forms of access reviews: validation only, the services do the writing."""

from django import forms

from compliance.reviews.models import ReviewLine, ReviewPolicy
from compliance.reviews.services import REVIEWER_ROLES, lower_roles
from tenancy.models import Membership, User
from tenancy.roles import Role

ANY = [("", "Any")]


class LineFilterForm(forms.Form):
    """Narrow a campaign's lines by reviewer, decision, kind, or a name or incident key."""

    reviewer = forms.ChoiceField(required=False)
    decision = forms.ChoiceField(required=False, choices=ANY + ReviewLine.Decision.choices)
    kind = forms.ChoiceField(required=False, choices=ANY + ReviewLine.Kind.choices)
    q = forms.CharField(required=False, max_length=100, label="Person or incident", strip=True)

    def __init__(self, *args, reviewers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reviewer"].choices = (
            ANY
            + [("none", "Nobody (flagged)")]
            + [(str(user.pk), user.display_name) for user in reviewers]
        )

    def apply(self, lines):
        if not self.is_valid():
            return lines.none()
        data = self.cleaned_data
        if data["reviewer"] == "none":
            lines = lines.filter(reviewer__isnull=True)
        elif data["reviewer"]:
            lines = lines.filter(reviewer_id=int(data["reviewer"]))
        if data["decision"]:
            lines = lines.filter(decision=data["decision"])
        if data["kind"]:
            lines = lines.filter(kind=data["kind"])
        if data["q"]:
            lines = lines.filter(subject__icontains=data["q"]) | lines.filter(
                incident_key__iexact=data["q"]
            )
        return lines


class RevokeForm(forms.Form):
    """What to revoke and why. A membership can be removed or its role lowered; a grant is
    removed."""

    action = forms.ChoiceField(
        choices=ReviewLine.Action.choices, widget=forms.RadioSelect, label="Revoke by"
    )
    new_role = forms.ChoiceField(
        required=False, label="Lower the role to", help_text="Only when lowering the role."
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="Required: it goes into the signed-off review.",
    )
    expected_role = forms.CharField(required=False, widget=forms.HiddenInput, max_length=100)

    def __init__(self, *args, line: ReviewLine, current_role: str | None, **kwargs):
        super().__init__(*args, **kwargs)
        if line.kind == ReviewLine.Kind.MEMBERSHIP:
            roles = lower_roles(current_role or line.role)
            self.fields["new_role"].choices = [("", "—")] + [
                (role, Role(role).label) for role in roles
            ]
            if not roles:
                self.fields["action"].choices = [ReviewLine.Action.choices[0]]
                del self.fields["new_role"]
            self.initial.setdefault("expected_role", current_role or "")
        else:
            del self.fields["new_role"]
            del self.fields["expected_role"]
            self.fields["action"].choices = [(ReviewLine.Action.REMOVE, "Remove the grant")]
        self.initial.setdefault("action", ReviewLine.Action.REMOVE)

    def clean(self):
        data = super().clean()
        if data.get("action") == ReviewLine.Action.LOWER and not data.get("new_role"):
            self.add_error("new_role", "Choose the lower role.")
        return data


class ReassignForm(forms.Form):
    reviewer = forms.ModelChoiceField(queryset=User.objects.none(), label="Reviewer")

    def __init__(self, *args, organization, line: ReviewLine, **kwargs):
        super().__init__(*args, **kwargs)
        ids = Membership.objects.filter(
            organization=organization, role__in=REVIEWER_ROLES, user__is_active=True
        ).values_list("user_id", flat=True)
        queryset = User.objects.filter(pk__in=list(ids)).order_by("email")
        if line.user_id:
            queryset = queryset.exclude(pk=line.user_id)
        self.fields["reviewer"].queryset = queryset


class PolicyForm(forms.ModelForm):
    class Meta:
        model = ReviewPolicy
        fields = ["period_months", "due_days", "remind_days_before"]
