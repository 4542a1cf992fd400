"""The one masking function. Every surface that shows incident text or custom-field values to a
reader (pages, lists, search results, CSV, PDFs, the API, e-mails, the public status page) goes
through `mask_text` / `mask_value`, with `reveal` decided by `may_see_sensitive`.

Two things are masked for readers without `view_sensitive`: the values of custom fields flagged
sensitive (wholly), and personal data detected in free text — e-mail addresses, card-like
numbers, IP addresses and phone numbers — replaced by a label that says what was there."""

import re

from tenancy.roles import Capability, can

HIDDEN = "[hidden]"

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# 13–19 digits, optionally grouped by single spaces or dashes: card-like.
_CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])")
_IPV4 = re.compile(
    r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\w.])"
)
_IPV6 = re.compile(
    r"(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){2,7}(?::|[0-9A-Fa-f]{1,4})(?:/\d{1,3})?(?![\w:])"
)
# A phone candidate: optional +, digits with spaces, dots, dashes or brackets; checked below.
_PHONE = re.compile(r"(?<![\w+])\+?\(?\d[\d ().-]{6,}\d(?![\w])")
_DATE_LIKE = re.compile(r"^\d{4}[-./]\d{1,2}[-./]\d{1,2}")
_TIME_LIKE = re.compile(r"\d{1,2}:\d{2}")


def _phone(match: re.Match) -> str:
    text = match.group(0)
    digits = sum(ch.isdigit() for ch in text)
    if not 9 <= digits <= 15 or _DATE_LIKE.match(text.lstrip("+(")) or _TIME_LIKE.search(text):
        return text
    if text.count(".") >= 2 and not text.startswith("+"):  # a version or a decimal, not a phone
        return text
    return "[phone hidden]"


def mask_text(text, *, reveal: bool = False) -> str:
    """`text` with personal data replaced, unless the reader may see it (`reveal`)."""
    if reveal or not text:
        return "" if text is None else text
    text = str(text)
    text = _EMAIL.sub("[e-mail hidden]", text)
    text = _CARD.sub("[card number hidden]", text)
    text = _IPV4.sub("[IP address hidden]", text)
    text = _IPV6.sub("[IP address hidden]", text)
    return _PHONE.sub(_phone, text)


def mask_value(value, *, sensitive: bool, reveal: bool = False):
    """A custom field's value: wholly hidden when the field is sensitive, else its text with
    personal data masked. Empty values stay empty (nothing to hide)."""
    if reveal or value in (None, "", [], {}):
        return value
    if sensitive:
        return HIDDEN
    if isinstance(value, str):
        return mask_text(value)
    return value


def may_see_sensitive(role: str | None) -> bool:
    """Whether a member with `role` sees sensitive values and personal data unmasked."""
    return can(role, Capability.VIEW_SENSITIVE)
