"""The one masking function. Every surface that shows incident text or custom-field values to a
reader (pages, lists, search results, CSV, PDFs, e-mails, chat, the public status page, the war
room) goes through `mask_text` / `mask_value`; whether a reader gets `reveal=True` is decided in
one place, `compliance.unmask` (privileged readers reveal one incident at a time, audited).

Two things are masked: the values of custom fields flagged sensitive (wholly), and personal data
detected in free text — e-mail addresses, IP addresses (v4 and v6), card-like numbers and phone
numbers — replaced by a label that says what was there. Detection leans towards precision on
the things incident text is full of: dates, times, incident keys (ACME-123), versions (1.2.3),
durations, percentages and ordinary numbers are left alone."""

import ipaddress
import re

from tenancy.roles import Capability, can

HIDDEN = "[hidden]"
EMAIL_LABEL = "[e-mail hidden]"
PHONE_LABEL = "[phone hidden]"
IP_LABEL = "[IP address hidden]"
CARD_LABEL = "[card number hidden]"

_EMAIL = re.compile(
    r"(?<![\w.+%-])[\w.+%-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}(?![\w-])"
)
# IPv6 candidates: hex groups and colons (and an IPv4 tail), checked by `ipaddress` below, so a
# time such as 12:30:45 or a C++ name such as std::string is not taken for an address.
_IPV6 = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.\d{1,3}){0,3}")
_IPV4 = re.compile(
    r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
    r"(?![\w]|\.\d|-[A-Za-z])"
)
# 13–19 digits, optionally grouped by single spaces or dashes; checked by `_is_card`.
_CARD = re.compile(r"(?<![\w+.,/:-])\d(?:[ -]?\d){12,18}(?![\w]|[.,/:-]\d)")
_CARD_GROUPS = re.compile(r"\d{4}([ -])\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?|\d{4}([ -])\d{6}\2\d{4,5}")
# A phone candidate: optional + or (, digits with spaces, dots, dashes, slashes or brackets.
_PHONE = re.compile(r"(?<![\w+.,/:%-])(?:\+|\(\+?)?\d[\d ().\-/]{5,}\d(?![\w%]|[.,:/-]\d)")
_DATE = re.compile(r"\d{1,4}([-./ ])\d{1,2}\1\d{1,4}")
_NANP = re.compile(r"(?:\(\d{3}\)\s?|\d{3}([-. ]))\d{3}[-. ]\d{4}")
_THOUSANDS = re.compile(r"\d{1,3}(?:( )\d{3})(?:\1\d{3})*|\d{1,3}(?:(\.)\d{3})(?:\2\d{3})*")


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _is_card(text: str) -> bool:
    """Card-like: grouped the way cards are printed (4-4-4-4, 4-6-5, …), or an ungrouped run
    of 13–19 digits that passes the Luhn check and starts like a card number (2–6: Mastercard,
    Visa, Amex, Discover…; a 13-digit epoch timestamp in milliseconds is not one). Numbers
    that merely follow each other ("1234567 2026-11-27 45") are not a card."""
    if _CARD_GROUPS.fullmatch(text):
        return True
    return text.isdigit() and 13 <= len(text) <= 19 and text[0] in "23456" and _luhn(text)


def _longest(text: str, accept, label: str, pattern: re.Pattern, separators: str) -> str:
    """Greedy candidates run on into whatever number follows (a card number, then "45 min"):
    mask the longest head that `accept`s, then look again in the rest; if no head does,
    skip the first group and look again."""
    cuts = [len(text)] + [i for i in range(len(text) - 1, 0, -1) if text[i] in separators]
    for cut in cuts:
        head = text[:cut].rstrip(" .-/(")
        if head and (head[-1].isdigit() or head.endswith(")")) and accept(head):
            rest = text[len(head) :]
            return label + pattern.sub(
                lambda m: _longest(m.group(0), accept, label, pattern, separators), rest
            )
    first = min((text.find(c) for c in separators if c in text), default=-1)
    if first == -1:
        return text
    return text[: first + 1] + pattern.sub(
        lambda m: _longest(m.group(0), accept, label, pattern, separators), text[first + 1 :]
    )


def _card(match: re.Match) -> str:
    return _longest(match.group(0), _is_card, CARD_LABEL, _CARD, " -")


def _ipv6(match: re.Match) -> str:
    text = match.group(0)
    if text.count(":") < 2 or not re.search(r"[0-9A-Fa-f]", text):
        return text
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return text
    return IP_LABEL


def _is_phone(text: str) -> bool:
    digits = re.sub(r"\D", "", text)
    dialled_out = digits.startswith("00") and digits[2:3] not in ("", "0")
    significant = digits[2:] if dialled_out else digits  # 00 is how + is dialled
    if not 7 <= len(significant) <= 15:
        return False
    if text.startswith(("+", "(+")) or dialled_out:
        return len(significant) >= 8
    if text.count("(") != text.count(")"):
        return False
    if _DATE.fullmatch(text) or _THOUSANDS.fullmatch(text):
        return False
    separators = set(re.sub(r"[\d()]", "", text))
    if separators == {"."} and not _NANP.fullmatch(text):
        return False  # a version or a decimal, not a phone
    if _NANP.fullmatch(text):
        return True
    # A national number: the trunk prefix 0, then an area code and the subscriber number.
    return text.startswith(("0", "(0")) and not digits.startswith("00") and 9 <= len(digits) <= 12


def _phone(match: re.Match) -> str:
    return _longest(match.group(0), _is_phone, PHONE_LABEL, _PHONE, " ")


def mask_text(text, *, reveal: bool = False) -> str:
    """`text` with personal data replaced by labels, unless the reader may see it (`reveal`).
    `None` becomes the empty string; anything else is read as text."""
    if text is None:
        return ""
    text = str(text)
    if reveal or not text:
        return text
    text = _EMAIL.sub(EMAIL_LABEL, text)
    text = _IPV6.sub(_ipv6, text)
    text = _IPV4.sub(IP_LABEL, text)
    text = _CARD.sub(_card, text)
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
    if isinstance(value, list):
        return [mask_text(item) if isinstance(item, str) else item for item in value]
    return value


def may_see_sensitive(role: str | None) -> bool:
    """Whether a member with `role` may reveal sensitive values and personal data (the reveal
    itself is a separate, audited step: `compliance.unmask`)."""
    return can(role, Capability.VIEW_SENSITIVE)


LOCKED_HELP = (
    "Contains personal data, shown masked. Someone with access to sensitive data can reveal "
    "the incident and change it."
)


def lock_masked_fields(form, stored: dict, *, reveal: bool) -> list[str]:
    """For an edit form read by someone who sees the record masked: each field of `stored`
    ({field name: stored text}) holding personal data is shown masked and disabled (saving
    the labels would destroy the data). Returns the locked names; the caller keeps their
    stored values when saving."""
    if reveal:
        return []
    locked = []
    for name, value in stored.items():
        if name not in form.fields or not isinstance(value, str):
            continue
        masked = mask_text(value)
        if masked != value:
            form.fields[name].disabled = True
            form.fields[name].help_text = LOCKED_HELP
            form.initial[name] = masked
            locked.append(name)
    return locked


def searchable(text: str, *, role: str | None) -> str:
    """A search query as a reader may run it: for readers without `view_sensitive`, personal
    data in the query is dropped, so a search cannot tell them which incidents hold an e-mail
    address or a phone number they are not allowed to see (a search oracle). Everyone else
    searches as typed."""
    if not text or may_see_sensitive(role):
        return text
    masked = mask_text(text)
    if masked == text:
        return text
    return " ".join(re.sub(r"\[[a-zA-Z -]+ hidden\]", " ", masked).split())
