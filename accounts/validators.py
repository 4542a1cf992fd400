"""A password validator on top of Django's four: no e-mail name or organisation name inside."""

from django.core.exceptions import ValidationError
from django_scopes import scopes_disabled

from tenancy.models import Membership

MIN_PART = 4  # shorter names ("al", "ops") would refuse too many good passwords


class PersonalDataValidator:
    """Refuses a password that contains the user's e-mail local part or the name (or slug) of
    an organisation they belong to — the first words an attacker tries."""

    def validate(self, password, user=None):
        if user is None:
            return
        lowered = password.lower()
        email = (getattr(user, "email", "") or "").lower()
        local = email.split("@", 1)[0]
        if len(local) >= MIN_PART and local in lowered:
            raise ValidationError(
                "The password may not contain the name of your e-mail address.",
                code="password_contains_email",
            )
        if not getattr(user, "pk", None):
            return
        with scopes_disabled():  # every organisation of the user (also for the database)
            names = list(
                Membership.objects.filter(user=user).values_list(
                    "organization__name", "organization__slug"
                )
            )
        for name, slug in names:
            for part in {name.lower(), name.lower().replace(" ", ""), slug.lower()}:
                if len(part) >= MIN_PART and part in lowered:
                    raise ValidationError(
                        "The password may not contain the name of your organisation.",
                        code="password_contains_organization",
                    )

    def get_help_text(self):
        return "Your password can’t contain your e-mail name or your organisation’s name."
