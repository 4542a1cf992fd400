"""The one masking function: what it detects, what it leaves alone, and properties over
generated text (hypothesis)."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.masking import (
    CARD_LABEL,
    EMAIL_LABEL,
    HIDDEN,
    IP_LABEL,
    PHONE_LABEL,
    mask_text,
    mask_value,
    may_see_sensitive,
)
from tenancy.roles import Role

MASKED = [
    # e-mail addresses
    ("mail jane.doe@example.com now", f"mail {EMAIL_LABEL} now"),
    ("<ops+pager@sub.example.co.uk>", f"<{EMAIL_LABEL}>"),
    ("JOHN_SMITH@EXAMPLE.ORG.", f"{EMAIL_LABEL}."),
    ("a@b.io,c@d.de", f"{EMAIL_LABEL},{EMAIL_LABEL}"),
    # phone numbers, international
    ("call +49 30 1234567", f"call {PHONE_LABEL}"),
    ("call +49 (0)30 1234567 today", f"call {PHONE_LABEL} today"),
    ("+1 (555) 123-4567", PHONE_LABEL),
    ("+44 20 7946 0958.", f"{PHONE_LABEL}."),
    ("+33 1 23 45 67 89", PHONE_LABEL),
    ("+4915112345678", PHONE_LABEL),
    ("0049 30 1234567", PHONE_LABEL),
    ("(+49) 30 1234567", PHONE_LABEL),
    # phone numbers, national
    ("030 1234567", PHONE_LABEL),
    ("0171-2345678", PHONE_LABEL),
    ("020 7946 0958", PHONE_LABEL),
    ("030/1234567", PHONE_LABEL),
    ("(555) 123-4567", PHONE_LABEL),
    ("555-123-4567", PHONE_LABEL),
    ("555.123.4567", PHONE_LABEL),
    ("tel: 555 123 4567)", f"tel: {PHONE_LABEL})"),
    # IP addresses
    ("from 192.168.1.10 and 10.0.0.1:8080", f"from {IP_LABEL} and {IP_LABEL}:8080"),
    ("net 10.0.0.0/8", f"net {IP_LABEL}/8"),
    ("v6 2001:db8::1 there", f"v6 {IP_LABEL} there"),
    ("fe80::1ff:fe23:4567:890a", IP_LABEL),
    ("::1", IP_LABEL),
    ("::ffff:192.0.2.1", IP_LABEL),
    ("2001:0db8:85a3:0000:0000:8a2e:0370:7334", IP_LABEL),
    # card-like numbers
    ("card 4111 1111 1111 1111 declined", f"card {CARD_LABEL} declined"),
    ("4111-1111-1111-1111", CARD_LABEL),
    ("4111111111111111", CARD_LABEL),
    ("3782 822463 10005", CARD_LABEL),
    ("5500 0000 0000 0004", CARD_LABEL),
    ("1234 5678 9012 3456", CARD_LABEL),  # grouped like a card, even if not Luhn-valid
]

UNCHANGED = [
    "ACME-123 is a duplicate of ACME-1234567",
    "GLX-20261127 reopened",
    "Deployed v1.2.3 then 10.4.12 and 2.0.0-rc1",
    "Upgraded to 1.2.3.4-beta",
    "2026-11-27",
    "27.11.2026",
    "11/27/2026",
    "2026-11-27 12:30",
    "2026-11-27T12:30:45Z",
    "at 12:30:45 and 09:05",
    "took 00:15:00",
    "lasted 1h30m, then 45 min, then 90s",
    "error rate 99.95% and 12.5 %",
    "latency 1234567 ms",
    "1,234,567 requests",
    "120 000 000 requests",
    "1.234.567 Anfragen",
    "build 20261127 failed",
    "order 4839201834 stuck",
    "timestamp 1732700000000",  # passes Luhn, but cards do not start with 1
    "PR #12345, port 8080, pid 31337",
    "pi is 3.14159265",
    "ratio 0.25",
    "std::string and Foo::bar",
    "commit 1a2b3c4d",
    "room 101",
    "$1,000,000 at risk",
    "between 2019-2026",
    "pages 10-20",
    "CVE-2024-12345",
    "ticket 0012345",
    "#42 1234567 2026-11-27 45 min",  # numbers in a row that pass Luhn by chance
    "#42 1234567 1234567 45 min",
    "4111 1111 111",  # too short for a card
    "",
    "Nothing to see here.",
]


@pytest.mark.parametrize(("text", "expected"), MASKED)
def test_personal_data_is_masked(text, expected):
    assert mask_text(text) == expected


@pytest.mark.parametrize("text", UNCHANGED)
def test_things_that_only_look_like_personal_data_are_left_alone(text):
    assert mask_text(text) == text


@pytest.mark.parametrize(("text", "_"), MASKED)
def test_reveal_leaves_text_as_it_is(text, _):
    assert mask_text(text, reveal=True) == text


def test_none_and_non_text():
    assert mask_text(None) == ""
    assert mask_text(42) == "42"
    assert mask_text("mail a@b.io", reveal=False).endswith(EMAIL_LABEL)


def test_labels_are_escaped_by_templates_not_by_the_function():
    assert mask_text("<b>a@b.io</b>") == f"<b>{EMAIL_LABEL}</b>"


@pytest.mark.parametrize(
    ("value", "sensitive", "reveal", "expected"),
    [
        ("Jane Doe", True, False, HIDDEN),
        ("Jane Doe", True, True, "Jane Doe"),
        ("reach jane@example.com", False, False, f"reach {EMAIL_LABEL}"),
        ("reach jane@example.com", False, True, "reach jane@example.com"),
        (42, True, False, HIDDEN),
        (42, False, False, 42),
        (True, True, False, HIDDEN),
        (["a@b.io", "plain"], False, False, [EMAIL_LABEL, "plain"]),
        ("", True, False, ""),
        (None, True, False, None),
    ],
)
def test_mask_value(value, sensitive, reveal, expected):
    assert mask_value(value, sensitive=sensitive, reveal=reveal) == expected


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (Role.ADMIN, True),
        (Role.COMPLIANCE, True),
        (Role.MANAGER, False),
        (Role.RESPONDER, False),
        (Role.VIEWER, False),
        (None, False),
    ],
)
def test_who_may_see_sensitive_values(role, expected):
    assert may_see_sensitive(role) is expected


# — properties ————————————————————————————————————————————————————————————————————————

WORDS = st.sampled_from(
    [
        "database",
        "latency",
        "ACME-123",
        "GLX-9",
        "v1.2.3",
        "10.4.12",
        "2026-11-27",
        "27.11.2026",
        "12:30",
        "00:15:00",
        "99.95%",
        "45 min",
        "1h30m",
        "443",
        "1234567",
        "1,234,567",
        "3.14",
        "#42",
        "(see above)",
        "x=1",
        "Fehler",
        "naïve",
        "—",
    ]
)
SEPARATORS = st.sampled_from([" ", ", ", ". ", "; ", "\n", " (", ") ", ": "])


@st.composite
def harmless_text(draw):
    parts = draw(st.lists(st.tuples(WORDS, SEPARATORS), max_size=12))
    return "".join(word + sep for word, sep in parts)


@st.composite
def emails(draw):
    local = draw(st.from_regex(r"[a-z][a-z0-9._+-]{0,15}[a-z0-9]", fullmatch=True))
    domain = draw(st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True))
    tld = draw(st.sampled_from(["com", "de", "io", "co.uk", "org"]))
    return f"{local}@{domain}.{tld}"


@st.composite
def phones(draw):
    country = draw(st.sampled_from(["+49", "+1", "+44", "+33", "0049", "+353"]))
    area = draw(st.from_regex(r"[1-9]\d{1,3}", fullmatch=True))
    number = draw(st.from_regex(r"\d{5,8}", fullmatch=True))
    sep = draw(st.sampled_from([" ", "-", " / ", ""]))
    return f"{country} {area}{sep}{number}"


@st.composite
def ipv4s(draw):
    return ".".join(str(draw(st.integers(0, 255))) for _ in range(4))


@st.composite
def cards(draw):
    body = draw(st.from_regex(r"[3-6]\d{14}", fullmatch=True))
    total = sum(
        (int(c) * 2 - 9 if int(c) > 4 else int(c) * 2) if i % 2 == 0 else int(c)
        for i, c in enumerate(reversed(body))
    )
    digits = body + str((10 - total % 10) % 10)
    sep = draw(st.sampled_from(["", " ", "-"]))
    return sep.join(digits[i : i + 4] for i in range(0, 16, 4))


PII = st.one_of(
    emails(),
    phones(),
    ipv4s(),
    cards(),
    st.ip_addresses(v=6).map(str).filter(lambda a: a != "::"),
    st.just("::1"),
)


@settings(max_examples=300, deadline=None)
@given(before=harmless_text(), pii=PII, after=harmless_text())
def test_masked_output_never_contains_the_personal_data(before, pii, after):
    masked = mask_text(f"{before} {pii} {after}")
    assert pii not in masked
    # Nor its digits in a row (a phone or card must not survive in part).
    digits = re.sub(r"\D", "", pii)
    if len(digits) >= 7 and not re.search(r"[:.]", pii):
        assert digits not in re.sub(r"\D", "", masked.replace(before, "").replace(after, ""))


@settings(max_examples=300, deadline=None)
@given(text=harmless_text())
def test_text_without_personal_data_is_unchanged(text):
    assert mask_text(text) == text
