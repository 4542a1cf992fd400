"""How django-axes names the account of a sign-in attempt."""

from django.conf import settings


def attempted_username(request, credentials=None) -> str:
    """The e-mail address tried, as Vigil compares it (trimmed, lower case): otherwise
    `Ada@Acme.test` and `ada@acme.test` would count as different accounts, and an attacker
    would get five tries per spelling (AXES_USERNAME_CALLABLE)."""
    field = settings.AXES_USERNAME_FORM_FIELD
    if credentials:
        value = credentials.get(field)
    else:
        value = request.POST.get(field) if request is not None else None
    return str(value or "").replace("\x00", "").strip().lower()[:255]
