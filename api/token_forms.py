"""The API token form: validation only."""

import datetime

from django import forms
from django.utils import timezone

from api.models import ApiToken

LIFETIMES = [("7", "7 days"), ("30", "30 days"), ("90", "90 days"), ("365", "1 year")]


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. “chat bot”.")
    scope = forms.ChoiceField(choices=ApiToken.Scope.choices, initial=ApiToken.Scope.READ)
    expires_in = forms.ChoiceField(
        label="Expires",
        choices=[*LIFETIMES, ("date", "On a date…")],
        initial="30",
    )
    expires_on = forms.DateField(
        label="Expiry date",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="With “On a date…”: at most a year from today.",
    )

    def __init__(self, *args, role: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.role = role

    def clean(self):
        data = super().clean()
        choice = data.get("expires_in")
        if choice == "date":
            day = data.get("expires_on")
            today = timezone.localdate()
            if day is None:
                self.add_error("expires_on", "Choose the expiry date.")
            elif day <= today:
                self.add_error("expires_on", "Choose a day after today.")
            elif day > today + datetime.timedelta(days=365):
                self.add_error("expires_on", "At most a year from today.")
            else:
                end = datetime.datetime.combine(day, datetime.time.max)
                data["expires_at"] = timezone.make_aware(end).replace(microsecond=0)
        elif choice:
            data["expires_at"] = timezone.now() + datetime.timedelta(days=int(choice))
        return data
