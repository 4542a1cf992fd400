"""Placeholders in message templates and drafts.

Only public facts of the message itself may be filled in: the components it names, its public
status and when the next update is due. Internal fields (incident key, title, description,
people) are deliberately not offered: the text is written for customers. Placeholders are
replaced with a plain regular expression, never `str.format` (which would allow attribute
access such as `{status.__class__}`)."""

import re

from django.core.exceptions import ValidationError
from django.utils import timezone

PLACEHOLDERS = {
    "components": "the affected components, e.g. “Card payments and Dashboard”",
    "status": "the message's status, e.g. “Investigating”",
    "next_update": "when the next update is due, e.g. “14:30 CET”",
}
BRACED = re.compile(r"\{([^{}]*)\}")


def placeholders_in(text: str) -> list[str]:
    return BRACED.findall(text or "")


def validate_placeholders(text: str) -> None:
    """Raise naming every unknown placeholder, and unmatched braces."""
    unknown = sorted({name for name in placeholders_in(text) if name not in PLACEHOLDERS})
    if unknown:
        allowed = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
        names = ", ".join("{" + name + "}" for name in unknown)
        raise ValidationError(f"Unknown placeholder {names}. Use only {allowed}.")
    rest = BRACED.sub("", text or "")
    if "{" in rest or "}" in rest:
        raise ValidationError(
            "A brace is not closed. Placeholders look like {components}; remove stray { or }."
        )


def join_names(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def format_next_update(when, tzinfo) -> str:
    local = timezone.localtime(when, tzinfo)
    today = timezone.localtime(timezone.now(), tzinfo).date()
    if local.date() == today:
        return local.strftime("%H:%M %Z")
    return local.strftime("%Y-%m-%d %H:%M %Z")


def fill(text: str, *, components: list[str], status: str, next_update: str) -> str:
    """Replace the placeholders; raise naming the missing value when one is used without it."""
    values = {"components": join_names(components), "status": status, "next_update": next_update}
    used = set(placeholders_in(text))
    if "components" in used and not components:
        raise ValidationError("Choose the affected components, or remove {components}.")
    if "next_update" in used and not next_update:
        raise ValidationError("Set when the next update is due, or remove {next_update}.")
    return BRACED.sub(lambda match: values[match.group(1)], text)
