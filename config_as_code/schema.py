"""The shape of a configuration file and its validation.

A file is a mapping: `version: 1` and one list per family (`business_calendar` is a single
mapping). Every item is checked against its family's fields (type, choices, range, length),
filled with the defaults of the fields it leaves out, and normalised to exactly what
`export_config` writes, so that comparing a file with an export of the database is comparing
like with like. Errors name the path (`services[3].tier: must be 1, 2 or 3`)."""

import datetime
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.dateparse import parse_date, parse_datetime, parse_time

VERSION = 1


class Invalid(Exception):  # noqa: N818 — a value refused, with the reason
    pass


@dataclass
class Field:
    """One field of an item: `check` turns a raw YAML value into the normalised value or
    raises Invalid with a reason."""

    check: Callable[[Any], Any]
    default: Any = None
    required: bool = False
    ref: str | None = None  # the family this field names an object of


def _type_name(value) -> str:
    return {
        str: "a string",
        int: "a number",
        float: "a number",
        bool: "true/false",
        list: "a list",
        dict: "a mapping",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def text(max_length: int, *, blank: bool = True) -> Callable:
    def check(value):
        if not isinstance(value, str):
            raise Invalid(f"must be a string, not {_type_name(value)}")
        if not blank and not value.strip():
            raise Invalid("must not be empty")
        if len(value) > max_length:
            raise Invalid(f"must be at most {max_length} characters")
        return value

    return check


def optional(check: Callable) -> Callable:
    def wrapped(value):
        return None if value is None else check(value)

    return wrapped


def integer(minimum: int | None = 0, maximum: int | None = None) -> Callable:
    def check(value):
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid(f"must be a whole number, not {_type_name(value)}")
        if minimum is not None and value < minimum:
            raise Invalid(f"must be at least {minimum}")
        if maximum is not None and value > maximum:
            raise Invalid(f"must be at most {maximum}")
        return value

    return check


def boolean(value):
    if not isinstance(value, bool):
        raise Invalid(f"must be true or false, not {_type_name(value)}")
    return value


def choice(values) -> Callable:
    values = list(values)

    def check(value):
        if value not in values:
            shown = [repr(v) if isinstance(v, str) else str(v) for v in values]
            listed = ", ".join(shown[:-1]) + f" or {shown[-1]}" if len(shown) > 1 else shown[0]
            raise Invalid(f"must be {listed}")
        return value

    return check


def percent(value):
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Invalid(f"must be a number, not {_type_name(value)}")
    try:
        number = Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise Invalid("must be a number") from None
    if not Decimal(0) <= number <= Decimal(100):
        raise Invalid("must be between 0 and 100")
    return number_out(number)


def number_out(number: Decimal):
    """A decimal as YAML writes it: an int when whole, else a float."""
    return int(number) if number == number.to_integral_value() else float(number)


def labels(value):
    if not isinstance(value, dict):
        raise Invalid(f"must be a mapping of strings, not {_type_name(value)}")
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise Invalid(f"must map strings to strings ({key!r}: {item!r} is not)")
    return dict(sorted(value.items()))


def string_list(*, unique: bool = False, max_length: int = 200) -> Callable:
    def check(value):
        if not isinstance(value, list):
            raise Invalid(f"must be a list of strings, not {_type_name(value)}")
        out = []
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise Invalid(f"item {index + 1} must be a non-empty string")
            if len(item) > max_length:
                raise Invalid(f"item {index + 1} must be at most {max_length} characters")
            out.append(item.strip())
        if unique and len(set(out)) != len(out):
            raise Invalid("must not repeat an item")
        return out

    return check


def time_of_day(value):
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads 17:00 as the sexagesimal number 1020.
        raise Invalid("must be a time in quotes, e.g. '17:00'")
    if not isinstance(value, str) or parse_time(value) is None:
        raise Invalid("must be a time such as '09:00'")
    return time_out(parse_time(value))


def time_out(value: datetime.time) -> str:
    return value.strftime("%H:%M:%S" if value.second else "%H:%M")


def date(value):
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return value.isoformat()
    if not isinstance(value, str) or parse_date(value) is None:
        raise Invalid("must be a date such as '2026-12-25'")
    return parse_date(value).isoformat()


def moment(value):
    if isinstance(value, str):
        try:
            parsed = parse_datetime(value)
        except ValueError:
            parsed = None
        if parsed is None:
            raise Invalid("must be a date and time such as '2026-03-01T02:00:00+00:00'")
        value = parsed
    if not isinstance(value, datetime.datetime):
        raise Invalid("must be a date and time such as '2026-03-01T02:00:00+00:00'")
    if value.tzinfo is None:
        raise Invalid("must include a UTC offset, e.g. '+00:00'")
    return moment_out(value)


def moment_out(value: datetime.datetime) -> str:
    return value.astimezone(datetime.UTC).isoformat()


def timezone_name(value):
    value = text(64, blank=False)(value)
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"“{value}” is not a known time zone") from None
    return value


_SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,49}$")


def slug(max_length: int) -> Callable:
    def check(value):
        value = text(max_length, blank=False)(value)
        if not _SLUG.match(value):
            raise Invalid("must be letters, digits, - and _ only")
        return value

    return check


def field_key(value):
    value = text(50, blank=False)(value)
    if not _KEY.match(value):
        raise Invalid("must be lower-case letters, digits and _, starting with a letter")
    return value


def working_days(value):
    if not isinstance(value, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 7 for d in value
    ):
        raise Invalid("must be a list of ISO weekdays, 1 = Monday … 7 = Sunday")
    if len(set(value)) != len(value):
        raise Invalid("must not repeat a day")
    return list(value)


def json_mapping(value_check: Callable) -> Callable:
    def check(value):
        if not isinstance(value, dict):
            raise Invalid(f"must be a mapping, not {_type_name(value)}")
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise Invalid(f"keys must be strings ({key!r} is not)")
            try:
                out[key] = value_check(item)
            except Invalid as error:
                raise Invalid(f"{key}: {error}") from None
        return out

    return check


@dataclass
class Family:
    """A list of objects of one kind, matched between file and database by `key`."""

    name: str
    fields: dict[str, Field]
    key: Callable[[dict], Any]
    label: Callable[[dict], str]
    sort: Callable[[dict], Any]
    nested: dict[str, "Family"] = field(default_factory=dict)
    single: bool = False  # one mapping, not a list


def _name_key(item):
    return item["name"].casefold()


def _name_label(item):
    return item["name"]


def normalise_item(family: Family, raw, path: str, errors: list[str]) -> dict | None:
    """The item with every field checked, defaulted and normalised, or None (errors added)."""
    if not isinstance(raw, dict):
        errors.append(f"{path}: must be a mapping, not {_type_name(raw)}")
        return None
    unknown = [k for k in raw if k not in family.fields and k not in family.nested]
    for key in unknown:
        known = ", ".join([*family.fields, *family.nested])
        errors.append(f"{path}.{key}: unknown key (expected one of: {known})")
    item = {}
    ok = not unknown
    for name, spec in family.fields.items():
        if name not in raw:
            if spec.required:
                errors.append(f"{path}.{name}: is required")
                ok = False
                continue
            item[name] = spec.default() if callable(spec.default) else spec.default
            continue
        try:
            item[name] = spec.check(raw[name])
        except Invalid as error:
            errors.append(f"{path}.{name}: {error}")
            ok = False
    for name, nested in family.nested.items():
        value = raw.get(name, [])
        items = normalise_list(nested, value, f"{path}.{name}", errors)
        if items is None:
            ok = False
        else:
            item[name] = items
    return item if ok else None


def normalise_list(family: Family, raw, path: str, errors: list[str]) -> list[dict] | None:
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        errors.append(f"{path}: must be a list, not {_type_name(raw)}")
        return None
    items, seen, ok = [], {}, True
    for index, value in enumerate(raw):
        item = normalise_item(family, value, f"{path}[{index}]", errors)
        if item is None:
            ok = False
            continue
        key = family.key(item)
        if key in seen:
            errors.append(
                f"{path}[{index}]: “{family.label(item)}” is already defined at {path}[{seen[key]}]"
            )
            ok = False
            continue
        seen[key] = index
        items.append(item)
    if not ok:
        return None
    return items  # in file order, so later checks can name the file's index; sorted after
