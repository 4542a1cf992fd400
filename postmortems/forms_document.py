"""Forms of the post-mortem document pages: validation only; the services write."""

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator

from postmortems.models import FishboneCause, PostMortem, Tag
from postmortems.policy import LIMITS
from tenancy.models import User

SECTION_HELP = {
    "summary": "What happened, in a few sentences a newcomer understands.",
    "customer_impact": "Who was affected and how. The measured impact periods are shown beside.",
    "business_impact": "Revenue, contracts, regulatory obligations, reputation.",
    "detection": "How and when we found out; what would have found it sooner.",
    "response": "What the responders did, in order, and what helped or slowed them.",
    "recovery": "How service was restored and how we knew it was.",
    "contributing_factors": "Conditions in the process and the system that made this possible.",
    "what_went_well": "",
    "lessons_learned": "",
}


def _members(organization):
    return User.objects.filter(memberships__organization=organization, is_active=True).order_by(
        "full_name", "email"
    )


class MemberChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.display_name


class MembersChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.display_name


class PolicyForm(forms.Form):
    max_severity_level = forms.IntegerField(
        label="Needed from severity level",
        help_text="1 = SEV-1 only, 2 = SEV-1 and SEV-2, … 0 = never because of severity.",
    )
    recurrence_count = forms.IntegerField(
        label="Recurrence: at least this many incidents",
        help_text="On the same primary service and category (this one included). 0 = off.",
    )
    recurrence_days = forms.IntegerField(label="… within this many days")
    on_regulatory = forms.BooleanField(
        label="Needed when a regulatory custom field is filled in", required=False
    )
    review_due_hours = forms.IntegerField(
        label="Review meeting due (hours after resolution)", help_text="Usually 48."
    )
    remind_before_hours = forms.IntegerField(label="Remind this many hours before it is due")
    escalate_after_hours = forms.IntegerField(
        label="Escalate to managers this many hours after it is overdue"
    )
    approvals_required = forms.IntegerField(label="Approvals needed to publish")
    action_item_remind_days = forms.IntegerField(
        label="Remind action-item owners this many days before the due date"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, (low, high) in LIMITS.items():
            field = self.fields[name]
            field.validators = [MinValueValidator(low), MaxValueValidator(high)]
            field.widget.attrs.update({"min": low, "max": high})


class SectionsForm(forms.Form):
    title = forms.CharField(max_length=200)
    owner = MemberChoiceField(queryset=User.objects.none(), required=False)

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = _members(organization)
        for name, help_text in SECTION_HELP.items():
            label = PostMortem._meta.get_field(name).verbose_name.capitalize()
            self.fields[name] = forms.CharField(
                label=label,
                required=False,
                max_length=20_000,
                help_text=help_text,
                widget=forms.Textarea(attrs={"rows": 5}),
            )


class TimelineRowForm(forms.Form):
    at = forms.DateTimeField(
        label="When",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    text = forms.CharField(label="What happened", max_length=1000)


class WhyForm(forms.Form):
    why = forms.CharField(label="Why?", max_length=300)
    because = forms.CharField(label="Because", max_length=300)


class CauseForm(forms.Form):
    category = forms.ChoiceField(choices=FishboneCause.Category.choices)
    text = forms.CharField(label="Cause", max_length=200)


class TagsForm(forms.Form):
    tags = forms.ModelMultipleChoiceField(
        queryset=Tag.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    new_tags = forms.CharField(
        label="New tags", required=False, max_length=300, help_text="Comma separated."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tags"].queryset = Tag.objects.all()  # scoped by the request


class ApproversForm(forms.Form):
    approvers = MembersChoiceField(
        queryset=User.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, organization, owner_id=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["approvers"].queryset = _members(organization).exclude(pk=owner_id)


class VerdictForm(forms.Form):
    approve = forms.TypedChoiceField(
        choices=[("yes", "Approve"), ("no", "Request changes")],
        coerce=lambda value: value == "yes",
    )
    comment = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )


class NoteForm(forms.Form):
    note = forms.CharField(required=False, max_length=1000)


class RequestForm(forms.Form):
    reason = forms.CharField(max_length=250, label="Why does it need a post-mortem?")
