"""Hypothesis strategies shared by the fuzz tests: hostile JSON, payloads shaped like a
template with keys dropped, retyped or swapped for garbage, raw bodies, form values."""

import json
import os
import urllib.parse

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# One setting for every fuzz test: reproducible (derandomize: the same examples on every run
# and in CI), no per-example deadline (a 2-core box shared by others), bounded in count.
# FUZZ_EXAMPLES=200 make test-fuzz explores further by hand.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "0")) or None


def fuzz(max_examples: int):
    return settings(
        max_examples=EXAMPLES or max_examples,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
        print_blob=True,
    )


NASTY = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",  # a lone surrogate: valid in JSON ("\\ud800"), not encodable as UTF-8
    "\u202e\u0000\u2028\u2029",
    "\r\n\t\x1b[31m",
    "💥" * 50,
    "x" * 5_000,
    "y" * 70_000,
    "0001-01-01T00:00:00Z",
    "9999-99-99T99:99:99Z",
    "2026-13-01",
    "-1",
    "1e309",
    "NaN",
    "null",
    "http://",
    "javascript:alert(1)",
    "https://example.org/" + "p" * 3_000,
    "<script>alert(1)</script>",
    "'; DROP TABLE incidents_incident; --",
    "{{ 7*7 }}",
    "%s%n%x",
    "../../etc/passwd",
    "critical",
    "resolved",
    "firing",
]

text = st.one_of(st.sampled_from(NASTY), st.text(max_size=40))
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, text)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(text, children, max_size=4),
    ),
    max_leaves=12,
)


def deep(depth: int):
    """A nesting `depth` deep: lists in lists or objects in objects."""
    value: object = 1
    for i in range(depth):
        value = [value] if i % 2 else {"a": value}
    return value


@st.composite
def mutated(draw, template):
    """`template` with every key possibly dropped, retyped or replaced, extra keys added,
    lists possibly emptied, repeated or filled with garbage — recursively."""
    if isinstance(template, dict):
        out = {}
        for key, value in template.items():
            choice = draw(st.integers(0, 9))
            if choice == 0:
                continue  # missing key
            if choice == 1:
                out[key] = draw(json_values)  # wrong type, anything
            elif choice == 2:
                out[key] = draw(scalars)
            else:
                out[key] = draw(mutated(value))
        for key, value in draw(st.dictionaries(text, json_values, max_size=2)).items():
            out[key] = value
        return out
    if isinstance(template, list):
        choice = draw(st.integers(0, 7))
        if choice == 0:
            return []
        if choice == 1:
            return draw(st.lists(json_values, max_size=3))
        items = [draw(mutated(item)) for item in template]
        if choice == 2 and items:
            items = items * draw(st.integers(2, 4))
        return items
    choice = draw(st.integers(0, 5))
    if choice == 0:
        return draw(scalars)
    if choice == 1 and isinstance(template, str):
        return template + draw(text)
    return template


def encode(value) -> bytes:
    """JSON as a sender might write it: NaN/Infinity kept (Python's json reads them back)."""
    return json.dumps(value, allow_nan=True).encode()


raw_bodies = st.one_of(
    st.binary(max_size=200),
    st.sampled_from(
        [
            b"",
            b"\x00",
            b"\xff\xfe\xfd",
            b'{"alerts": [\xff]}',
            b'{"a": "\xc3"}',
            b"[]",
            b"null",
            b"1",
            b'"text"',
            b"{",
            b'{"alerts": "' + b"A" * 2_000 + b'"}',
            b'{"a":' * 5_000,
            b'{"alerts": [' + b'{"a": [' * 3_000 + b"1" + b"]}" * 3_000 + b"]}",
            json.dumps(deep(400)).encode(),
            b'{"x": "\\ud800"}',
            b'{"x": "\\u0000"}',
            b'{"x": NaN, "y": -Infinity}',
            b'{"x": 1e999999}',
            b"<?xml version='1.0'?><alert/>",
        ]
    ),
)

content_types = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/vnd.api+json",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=zzz",
        "application/xml",
        "",
    ]
)


def form_body(data: dict) -> bytes:
    """`data` url-encoded as a browser would send it — lone surrogates become the invalid
    UTF-8 they would be on the wire (the test client refuses to encode them)."""
    pairs = []
    for key, value in data.items():
        for item in value if isinstance(value, list) else [value]:
            pairs.append(
                (key.encode("utf-8", "surrogatepass"), str(item).encode("utf-8", "surrogatepass"))
            )
    return urllib.parse.urlencode(pairs).encode("ascii")


FORM = "application/x-www-form-urlencoded"


def header(value: str) -> str:
    """A header value as a WSGI server hands it to Django: the bytes on the wire decoded as
    ISO-8859-1 (PEP 3333) — never a lone surrogate, which only the test client could pass."""
    return value.encode("utf-8", "surrogatepass").decode("latin-1")
