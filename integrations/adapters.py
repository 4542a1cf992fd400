"""Adapters: what each monitoring tool posts, turned into NormalizedAlerts.

One pure function per source kind (no ORM, no I/O). Every adapter takes the decoded JSON body
and returns a list of NormalizedAlert, or raises PayloadError whose message names the path of
the first problem (``alerts[1].status: must be "firing" or "resolved"``). `normalize()` is the
entry point; whatever the adapter, every alert it returns has

- a non-empty fingerprint of at most 200 characters (longer ones are replaced by their
  sha256, so they stay stable and distinct; senders that give none get one derived from
  what identifies the alert, e.g. a sha256 of the sorted labels),
- a status of "firing", "resolved" or "acknowledged",
- a non-empty, single-line title of at most 200 characters (cut with "…"),
- flat string → string labels (at most 64, keys and values at most 200 characters),
- timezone-aware timestamps (RFC 3339 with "Z", offsets and any number of fractional
  digits; epoch seconds or milliseconds where a sender uses them; Go's zero time
  "0001-01-01T00:00:00Z" means "none"),
- only http(s) links,

and no body yields more than 500 alerts.
"""

import datetime
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable
from typing import NoReturn
from urllib.parse import urlsplit

from integrations.normalized import NormalizedAlert, PayloadError

MAX_ALERTS = 500
MAX_LABELS = 64
MAX_LABEL_CHARS = 200
MAX_TITLE = 200
MAX_FINGERPRINT = 200
MAX_SEVERITY = 30
MAX_REF = 200
MAX_ANNOTATIONS = 64
MAX_ANNOTATION_CHARS = 4_000
MAX_DESCRIPTION = 10_000
MAX_LINKS = 20
MAX_URL = 2_000

STATUSES = ("firing", "resolved", "acknowledged")

KIND_CHOICES = [
    ("alertmanager", "Prometheus Alertmanager"),
    ("grafana", "Grafana alerting"),
    ("datadog", "Datadog"),
    ("pagerduty", "PagerDuty Events API v2"),
    ("sentry", "Sentry issue alerts"),
    ("splunk", "Splunk alert action"),
    ("generic", "Generic JSON"),
]

UTC = datetime.UTC


# — errors and JSON type checks ———————————————————————————————————————————————————————


def _fail(path: str, problem: str) -> NoReturn:
    raise PayloadError(f"{path or 'body'}: {problem}")


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")


def _at(parent: str, key: str | int) -> str:
    """The path of `key` inside `parent` ("" is the body itself)."""
    if isinstance(key, int):
        return f"{parent or 'body'}[{key}]"
    if not _PLAIN_KEY.fullmatch(key):
        key = json.dumps(key[:50])
        return f"{parent or 'body'}[{key}]"
    return f"{parent}.{key}" if parent else key


def _kind(value: object) -> str:
    """The JSON name of a value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _root(body: object) -> dict:
    if not isinstance(body, dict):
        _fail("body", f"expected a JSON object, got {_kind(body)}")
    return body


def _obj(value: object, path: str) -> dict:
    if not isinstance(value, dict):
        _fail(path, f"expected an object, got {_kind(value)}")
    return value


def _child(parent: dict, key: str, path: str, *, required: bool = False) -> dict:
    """An optional (or required) object inside `parent`; {} when absent or null."""
    value = parent.get(key)
    if value is None:
        if required:
            _fail(_at(path, key), "required")
        return {}
    return _obj(value, _at(path, key))


def _string(parent: dict, key: str, path: str, *, required: bool = False) -> str:
    """A string field, stripped; "" when absent or null (or PayloadError when required)."""
    value = parent.get(key)
    if value is None:
        text = ""
    elif isinstance(value, str):
        text = value.strip()
    else:
        _fail(_at(path, key), f"must be a string, got {_kind(value)}")
    if required and not text:
        _fail(_at(path, key), "required")
    return text


def _ident(parent: dict, key: str, path: str, *, required: bool = False) -> str:
    """An id that senders write as a string or a number (Sentry and Datadog do both)."""
    value = parent.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            _fail(_at(path, key), "must be a string or a finite number")
        return str(int(value)) if float(value).is_integer() else str(value)
    if value is None or isinstance(value, str):
        return _string(parent, key, path, required=required)
    _fail(_at(path, key), f"must be a string or a number, got {_kind(value)}")


def _items(parent: dict, key: str, path: str, *, required: bool = False) -> list:
    value = parent.get(key)
    if value is None:
        if required:
            _fail(_at(path, key), "required")
        return []
    if not isinstance(value, list):
        _fail(_at(path, key), f"expected a list, got {_kind(value)}")
    return value


def _alert_list(body: dict, key: str = "alerts") -> list:
    alerts = _items(body, key, "", required=True)
    if len(alerts) > MAX_ALERTS:
        _fail(key, f"too many alerts ({len(alerts)}); at most {MAX_ALERTS} per request")
    return alerts


# — text, labels, links, hashes ———————————————————————————————————————————————————————


def _clean(text: str) -> str:
    """Text a database will take: no NUL characters and no lone surrogates (JSON allows
    both; PostgreSQL refuses them)."""
    if text.isascii() and "\x00" not in text:  # the usual case, and a quick test
        return text
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode()
    except UnicodeEncodeError:
        text = text.encode(errors="replace").decode()
    return text


def _cut(text: str, limit: int) -> str:
    text = _clean(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _compact_json(value: object) -> str:
    try:
        return json.dumps(value, separators=(",", ":"), sort_keys=True, allow_nan=False)
    except (ValueError, TypeError, RecursionError):
        return "…"


def _scalar_text(value: object) -> str | None:
    """A label value from any JSON value: strings as they are, true/false, numbers as
    written, lists and objects as compact JSON; None for null."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return _compact_json(value)


def _flatten(value: object, path: str, *, strict: bool = False) -> dict[str, str]:
    """An object of labels (or annotations) as str → str. Strict (the generic contract):
    values must be strings. Lenient (vendors): null is dropped, anything else written out."""
    if value is None:
        return {}
    mapping = _obj(value, path)
    flat: dict[str, str] = {}
    for key, item in mapping.items():
        key = str(key)
        if strict and not isinstance(item, str):
            _fail(_at(path, key), f"must be a string, got {_kind(item)}")
        text = _scalar_text(item)
        if text is not None and key.strip():
            flat[key.strip()] = text
    return flat


def _cap(mapping: dict[str, str], count: int, chars: int) -> dict[str, str]:
    """At most `count` entries (the first in key order), keys and values cut to `chars`."""
    capped: dict[str, str] = {}
    for key in sorted(mapping)[:count]:
        capped[_cut(key, chars)] = _cut(mapping[key], chars)
    return capped


def _digest(value: object) -> str:
    """A stable sha256 of flat JSON data (strings, lists and objects of strings)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _labels_fingerprint(labels: dict[str, str]) -> str:
    return "sha256:" + _digest(labels)


def _bounded_id(value: str) -> str:
    """An identity of at most 200 characters: longer ones become their sha256."""
    value = _clean(value.strip())
    if len(value) <= MAX_FINGERPRINT:
        return value
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()


def _is_url(value: object) -> bool:
    if not isinstance(value, str) or not value or len(value) > MAX_URL:
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _links(candidates: Iterable[object]) -> list[str]:
    """The http(s) URLs among `candidates`, once each, in order (anything else — empty,
    relative, javascript: … — is dropped: links end up as hrefs)."""
    links: list[str] = []
    for candidate in candidates:
        url = candidate.strip() if isinstance(candidate, str) else candidate
        if _is_url(url) and url not in links:
            links.append(_clean(url))
        if len(links) == MAX_LINKS:
            break
    return links


# — timestamps —————————————————————————————————————————————————————————————————————————

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2}))?"
)
_NUMBER = re.compile(r"-?\d{1,16}(?:\.\d+)?")


def _epoch(seconds: float, path: str) -> datetime.datetime:
    if not math.isfinite(seconds):
        _fail(path, "must be a finite number")
    if abs(seconds) >= 100_000_000_000:  # milliseconds (1e11 s would be the year 5138)
        seconds /= 1000
    try:
        return datetime.datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        _fail(path, "timestamp out of range")


def _time(value: object, path: str, *, strict: bool = False) -> datetime.datetime | None:
    """An aware datetime from RFC 3339 text or epoch seconds/milliseconds; None for null,
    "" and Go's zero time. Strict (the generic contract): the text must carry its offset;
    lenient (vendors): a missing offset means UTC."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _epoch(float(value), path)
    if not isinstance(value, str):
        _fail(path, f"must be an RFC 3339 timestamp, got {_kind(value)}")
    text = value.strip()
    if not text:
        return None
    if _NUMBER.fullmatch(text):
        return _epoch(float(text), path)
    match = _RFC3339.fullmatch(text)
    if not match:
        _fail(path, f"not an RFC 3339 timestamp: {json.dumps(text[:40])}")
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    if zulu:
        tz = UTC
    elif sign:
        offset = datetime.timedelta(hours=int(off_h), minutes=int(off_m))
        if offset >= datetime.timedelta(hours=24):
            _fail(path, f"time zone offset out of range: {json.dumps(text[:40])}")
        tz = datetime.timezone(-offset if sign == "-" else offset)
    elif strict:
        _fail(path, 'needs a time zone, e.g. "2024-05-01T12:00:00Z"')
    else:
        tz = UTC
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        moment = datetime.datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tz
        )
    except ValueError:
        _fail(path, f"not a valid date and time: {json.dumps(text[:40])}")
    if moment.year == 1:  # Go's zero time.Time: Alertmanager's "not ended"
        return None
    return moment


def _lenient_time(value: object) -> datetime.datetime | None:
    """For timestamps inside user data (a Splunk result row): unreadable means unknown."""
    try:
        return _time(value, "")
    except PayloadError:
        return None


# — building an alert ——————————————————————————————————————————————————————————————————


def _alert(
    *,
    fingerprint: str,
    status: str,
    title: str,
    severity: str = "",
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    description: str = "",
    starts_at: datetime.datetime | None = None,
    ends_at: datetime.datetime | None = None,
    links: Iterable[object] = (),
    group_key: str = "",
    source_ref: str = "",
) -> NormalizedAlert:
    """A NormalizedAlert with every guarantee of this module applied."""
    fingerprint = _bounded_id(fingerprint)
    if not fingerprint:  # every adapter derives one; this is the last line of defence
        _fail("body", "nothing in it identifies the alert")
    if status not in STATUSES:
        raise AssertionError(f"adapter produced status {status!r}")
    return NormalizedAlert(
        fingerprint=fingerprint,
        status=status,
        title=_cut(_one_line(title), MAX_TITLE) or _cut(fingerprint, MAX_TITLE),
        severity=_cut(_one_line(severity), MAX_SEVERITY).lower(),
        labels=_cap(labels or {}, MAX_LABELS, MAX_LABEL_CHARS),
        annotations=_cap(annotations or {}, MAX_ANNOTATIONS, MAX_ANNOTATION_CHARS),
        description=_cut(description.strip(), MAX_DESCRIPTION),
        starts_at=starts_at,
        ends_at=ends_at,
        links=_links(links),
        group_key=_bounded_id(group_key),
        source_ref=_cut(source_ref.strip(), MAX_REF),
    )


def _first(*values: str | None) -> str:
    for value in values:
        if value and value.strip():
            return value.strip()
    return ""


# — Prometheus Alertmanager and Grafana ——————————————————————————————————————————————


def _alert_group(
    body: object, *, sender: str, version: str, extra_links: tuple = (), values: bool = False
) -> list[NormalizedAlert]:
    """Alertmanager's webhook (version "4") and Grafana's (version "1") share one shape: a
    notification for a group of alerts, each with status, labels, annotations, startsAt,
    endsAt, generatorURL and fingerprint."""
    data = _root(body)
    sent_version = data.get("version")
    if sent_version is None:
        _fail("version", f'required ("{version}" for the {sender} webhook)')
    if not isinstance(sent_version, str | int) or str(sent_version) != version:
        _fail(
            "version",
            f'expected "{version}" (the {sender} webhook format), '
            f"got {_compact_json(sent_version)[:20]}",
        )
    alerts = _alert_list(data)
    group_key = _string(data, "groupKey", "")
    external_url = _string(data, "externalURL", "")
    normalized = []
    for index, item in enumerate(alerts):
        path = f"alerts[{index}]"
        entry = _obj(item, path)
        status = entry.get("status")
        if status is None:
            _fail(_at(path, "status"), 'required ("firing" or "resolved")')
        if status not in ("firing", "resolved"):
            _fail(_at(path, "status"), 'must be "firing" or "resolved"')
        labels = _flatten(entry.get("labels"), f"{path}.labels")
        if not labels:
            _fail(f"{path}.labels", "required (at least alertname)")
        annotations = _flatten(entry.get("annotations"), f"{path}.annotations")
        fingerprint = _string(entry, "fingerprint", path)
        starts_at = _time(entry.get("startsAt"), f"{path}.startsAt")
        ends_at = _time(entry.get("endsAt"), f"{path}.endsAt")
        links = [_string(entry, "generatorURL", path)]
        links += [_string(entry, key, path) for key in extra_links]
        links += [annotations.get("runbook_url", ""), external_url]
        if values:
            _grafana_values(entry, annotations)
        normalized.append(
            _alert(
                fingerprint=fingerprint or _labels_fingerprint(labels),
                status=status,
                title=_first(annotations.get("summary"), labels.get("alertname")),
                severity=labels.get("severity", ""),
                labels=labels,
                annotations=annotations,
                description=_first(annotations.get("description"), annotations.get("message")),
                starts_at=starts_at,
                # A firing alert's endsAt is at most an expiry hint, not an end.
                ends_at=ends_at if status == "resolved" else None,
                links=links,
                group_key=group_key,
                source_ref=fingerprint,
            )
        )
    return normalized


def _grafana_values(entry: dict, annotations: dict[str, str]) -> None:
    """Grafana's evaluated values ("values": {"B": 44.2}, or the older "valueString") kept
    as annotations, for the responder's first look."""
    values = entry.get("values")
    if isinstance(values, dict) and values:
        shown = sorted(f"{key}={_scalar_text(value)}" for key, value in values.items())
        annotations.setdefault("values", ", ".join(shown))
    value_string = entry.get("valueString")
    if isinstance(value_string, str) and value_string.strip():
        annotations.setdefault("valueString", value_string.strip())


def alertmanager(body: object) -> list[NormalizedAlert]:
    """Prometheus Alertmanager webhook_config, version "4": one alert per `alerts[]` entry,
    fingerprint = the alert's own `fingerprint` (else a sha256 of its labels), group_key =
    `groupKey`, title = annotations.summary or labels.alertname, severity = labels.severity,
    links = generatorURL, annotations.runbook_url and externalURL."""
    return _alert_group(body, sender="Alertmanager", version="4")


def grafana(body: object) -> list[NormalizedAlert]:
    """Grafana (unified) alerting webhook contact point, version "1": as Alertmanager's, plus
    dashboardURL, panelURL and silenceURL links and the evaluated values as annotations.
    Grafana before 9 sent no per-alert fingerprint: a sha256 of the labels stands in."""
    data = _root(body)
    if "alerts" not in data and ("ruleId" in data or "evalMatches" in data):
        _fail(
            "alerts",
            "required (this is a legacy Grafana alert notification; "
            "use a Grafana alerting webhook contact point)",
        )
    return _alert_group(
        data,
        sender="Grafana alerting",
        version="1",
        extra_links=("dashboardURL", "panelURL", "silenceURL"),
        values=True,
    )


# — Datadog ————————————————————————————————————————————————————————————————————————————

_DATADOG_AGGREGATION_KEYS = ("aggreg_key", "aggregate_key", "aggregation_key", "aggregate")
_DATADOG_RESOLVED = {"recovered", "resolved"}
# "[Triggered on {host:web-1}] Disk full", "[P2] [Recovered] Disk full", "[Re-Warn] …"
_DATADOG_TITLE = re.compile(
    r"\s*(?:\[P\d\]\s*)?\[(?P<transition>(?:Re-)?(?:Triggered|Recovered|Resolved|Warn|"
    r"No Data|Renotify))(?: on (?P<scope>[^\]]*))?\]\s*(?P<rest>.*)",
    re.DOTALL,
)
_DATADOG_UNFILLED = re.compile(r"\$[A-Z][A-Z0-9_]*")


def _datadog_value(data: dict, key: str, path: str = "") -> str:
    """A Datadog template field: a string or number; a variable Datadog left unfilled
    ("$ALERT_ID" in a test notification) counts as absent."""
    value = _ident(data, key, path)
    return "" if _DATADOG_UNFILLED.fullmatch(value) else value


def _datadog_tags(value: object) -> dict[str, str]:
    """$TAGS is one comma-separated string ("env:prod,role:db"); templates may also pass a
    JSON list of "key:value" tags. A tag without ":" becomes a label with an empty value;
    repeated keys are joined with ","."""
    if isinstance(value, str):
        tags = [] if _DATADOG_UNFILLED.fullmatch(value.strip()) else value.split(",")
    elif isinstance(value, list):
        tags = [tag for tag in value if isinstance(tag, str)]
    elif value is None:
        tags = []
    else:
        _fail("tags", f'must be a string ("key:value,…") or a list of strings, got {_kind(value)}')
    labels: dict[str, str] = {}
    for tag in tags:
        key, _, tag_value = tag.strip().partition(":")
        if not key:
            continue
        labels[key] = f"{labels[key]},{tag_value}" if labels.get(key) else tag_value
    return labels


def datadog(body: object) -> list[NormalizedAlert]:
    """A Datadog webhook (the integration's `$VARIABLE` payload template). Fields read:
    aggreg_key ($AGGREG_KEY), alert_id ($ALERT_ID), alert_transition ($ALERT_TRANSITION),
    alert_title / title ($EVENT_TITLE), body ($EVENT_MSG), alert_scope, alert_priority,
    alert_type, alert_metric, hostname, tags ($TAGS), link / url, date / last_updated
    (epoch ms), id, org.

    fingerprint = the aggregation key, else "datadog:<alert_id>" (plus a hash of the scope for
    multi-alert monitors), else — Datadog's default template, which carries neither — a hash
    of the event title without its "[Triggered]" prefix. status = resolved for a "Recovered"
    (or "Resolved") transition, firing for everything else (Triggered, Re-Triggered, Warn,
    No Data, Renotify); without alert_transition the title's prefix decides."""
    data = _root(body)
    aggregation_key = next(
        (v for k in _DATADOG_AGGREGATION_KEYS if (v := _datadog_value(data, k))), ""
    )
    alert_id = _datadog_value(data, "alert_id")
    event_type = _datadog_value(data, "event_type")
    raw_title = _first(_datadog_value(data, "alert_title"), _datadog_value(data, "title"))
    parsed = _DATADOG_TITLE.match(raw_title)
    title = parsed.group("rest") if parsed else raw_title
    title_scope = parsed.group("scope") if parsed else ""
    scope = _first(_datadog_value(data, "alert_scope"), (title_scope or "").strip("{} "))
    transition = _first(
        _datadog_value(data, "alert_transition"),
        _datadog_value(data, "transition"),
        parsed.group("transition") if parsed else "",
    )
    if aggregation_key:
        fingerprint = aggregation_key
    elif alert_id:
        fingerprint = f"datadog:{alert_id}" + (f":{_digest(scope)[:16]}" if scope else "")
    elif title and (event_type or parsed):
        fingerprint = "datadog:" + _digest([scope, title])
    else:
        _fail(
            "alert_id",
            'required: add "alert_id": "$ALERT_ID" (or "aggreg_key": "$AGGREG_KEY") '
            "to the Datadog webhook payload",
        )
    status = "resolved" if transition.lower() in _DATADOG_RESOLVED else "firing"
    labels = _datadog_tags(data.get("tags"))
    org = data.get("org")
    extra = {
        "monitor_id": alert_id,
        "scope": scope,
        "metric": _datadog_value(data, "alert_metric"),
        "host": _first(_datadog_value(data, "hostname"), _datadog_value(data, "host_name")),
        "event_type": event_type,
        "transition": transition,
        "org": _datadog_value(org, "name", "org") if isinstance(org, dict) else "",
    }
    labels.update({key: value for key, value in extra.items() if value})
    alert_type = _datadog_value(data, "alert_type")
    severity = _first(
        _datadog_value(data, "alert_priority"),
        alert_type if alert_type.lower() != "success" else "",
    )
    when = "date" if _datadog_value(data, "date") else "last_updated"
    moment = _time(_datadog_value(data, when) or None, when)
    message = _first(_datadog_value(data, "body"), _datadog_value(data, "text_only_msg"))
    return [
        _alert(
            fingerprint=fingerprint,
            status=status,
            title=title or raw_title or f"Datadog monitor {alert_id}".strip(),
            severity=severity,
            labels=labels,
            description=message.replace("%%%", "").strip(),
            starts_at=moment if status == "firing" else None,
            ends_at=moment if status == "resolved" else None,
            links=[_datadog_value(data, "link"), _datadog_value(data, "url")],
            group_key=aggregation_key,
            source_ref=_datadog_value(data, "id"),
        )
    ]


# — PagerDuty Events API v2 ————————————————————————————————————————————————————————————

_PAGERDUTY_ACTIONS = {"trigger": "firing", "acknowledge": "acknowledged", "resolve": "resolved"}
_PAGERDUTY_SEVERITIES = ("critical", "error", "warning", "info")


def pagerduty(body: object) -> list[NormalizedAlert]:
    """A PagerDuty Events API v2 alert event, as sent to /v2/enqueue: trigger → firing,
    acknowledge → acknowledged, resolve → resolved; fingerprint = dedup_key (required to
    acknowledge or resolve; a trigger without one gets a stable key from payload.summary,
    source and component — PagerDuty itself would open a new alert each time).
    payload.summary, source and severity (critical, error, warning or info) are required on
    a trigger, as PagerDuty requires them. The routing_key is checked by the endpoint and
    never kept: it is a secret. Events API v1 bodies (service_key, event_type) are refused."""
    data = _root(body)
    action = data.get("event_action")
    if action is None and ("service_key" in data or "incident_key" in data):
        _fail(
            "event_action",
            "required (this is a PagerDuty Events API v1 body; send Events API v2)",
        )
    if action is None:
        _fail("event_action", 'required ("trigger", "acknowledge" or "resolve")')
    if not isinstance(action, str) or action not in _PAGERDUTY_ACTIONS:
        _fail("event_action", 'must be "trigger", "acknowledge" or "resolve"')
    status = _PAGERDUTY_ACTIONS[action]
    _string(data, "routing_key", "")  # a string if present; its value is not ours to keep
    dedup_key = _string(data, "dedup_key", "")
    payload = _child(data, "payload", "", required=action == "trigger")
    trigger = action == "trigger"
    summary = _string(payload, "summary", "payload", required=trigger)
    source = _string(payload, "source", "payload", required=trigger)
    severity = _string(payload, "severity", "payload", required=trigger)
    if severity and severity not in _PAGERDUTY_SEVERITIES:
        _fail("payload.severity", 'must be "critical", "error", "warning" or "info"')
    component = _string(payload, "component", "payload")
    if not dedup_key:
        if not trigger:
            _fail("dedup_key", f"required to {action}")
        dedup_key = "pagerduty:" + _digest([summary, source, component])
    moment = _time(payload.get("timestamp"), "payload.timestamp")
    labels = {
        "source": source,
        "component": component,
        "group": _string(payload, "group", "payload"),
        "class": _string(payload, "class", "payload"),
        "client": _string(data, "client", ""),
    }
    details = payload.get("custom_details")
    annotations, description = {}, ""
    if isinstance(details, dict):
        annotations = _flatten(details, "payload.custom_details")
    elif isinstance(details, str):
        description = details
    elif details is not None:
        description = _compact_json(details)
    return [
        _alert(
            fingerprint=dedup_key,
            status=status,
            title=summary or dedup_key,
            severity=severity,
            labels={key: value for key, value in labels.items() if value},
            annotations=annotations,
            description=description,
            starts_at=moment if status == "firing" else None,
            ends_at=moment if status == "resolved" else None,
            links=_pagerduty_links(data),
            source_ref=dedup_key,
        )
    ]


def _pagerduty_links(data: dict) -> list[str]:
    """links[].href (required in each), client_url, then images[].href (optional: an image
    need not be a link)."""
    links = []
    for index, item in enumerate(_items(data, "links", "")):
        path = _at("links", index)
        links.append(_string(_obj(item, path), "href", path, required=True))
    links.append(_string(data, "client_url", ""))
    for index, item in enumerate(_items(data, "images", "")):
        path = _at("images", index)
        links.append(_string(_obj(item, path), "href", path))
    return links


# — Sentry —————————————————————————————————————————————————————————————————————————————

_SENTRY_ISSUE_ACTIONS = {
    "created": "firing",
    "unresolved": "firing",
    "resolved": "resolved",
    "archived": "resolved",
    "ignored": "resolved",
    "assigned": "acknowledged",
}
_SENTRY_METRIC_ACTIONS = {"critical": "firing", "warning": "firing", "resolved": "resolved"}
# Event tags kept as labels; the others (user, url, IP address …) may be personal data.
_SENTRY_TAGS = (
    "environment",
    "release",
    "dist",
    "level",
    "handled",
    "mechanism",
    "server_name",
    "transaction",
    "runtime.name",
    "os.name",
    "browser.name",
)
_SENTRY_ISSUE_ID = re.compile(r"/issues/(\d+)/?")


def sentry(body: object) -> list[NormalizedAlert]:
    """A Sentry integration-platform webhook:

    - issue alert (Sentry-Hook-Resource: event_alert): action "triggered", data.event with
      issue_id, title, culprit, level, web_url, datetime, tags → firing;
    - issue (resource issue): action created / unresolved → firing, resolved / archived /
      ignored → resolved, assigned → acknowledged; data.issue with id, title, culprit,
      level, web_url or permalink, project {slug};
    - metric alert (resource metric_alert): action critical / warning → firing, resolved →
      resolved; data.metric_alert with alert_rule, data.description_title, data.web_url;
    - and the legacy WebHooks plugin's body (id, project, culprit, level, url, message).

    fingerprint = "sentry:<issue id>" (metric alerts: "sentry:metric-alert:<rule id>"), so an
    issue alert and the issue's later "resolved" webhook meet in one alert group."""
    data = _root(body)
    if "action" not in data and "data" not in data and "id" in data and "culprit" in data:
        return [_sentry_legacy(data)]
    action = _string(data, "action", "", required=True)
    inner = _child(data, "data", "", required=True)
    if "metric_alert" in inner:
        return [_sentry_metric_alert(action, inner)]
    if "event" in inner:
        if action != "triggered":
            _fail("action", 'must be "triggered" for an issue alert (data.event)')
        return [_sentry_event_alert(inner)]
    if "issue" in inner:
        return [_sentry_issue(action, inner)]
    _fail("data", "expected data.event (issue alert), data.issue or data.metric_alert")


def _sentry_tags(value: object) -> dict[str, str]:
    """Event tags: [["level", "error"], …] (or [{"key": …, "value": …}]), kept if listed."""
    labels = {}
    for tag in value if isinstance(value, list) else []:
        if isinstance(tag, list) and len(tag) == 2:
            key, tag_value = tag
        elif isinstance(tag, dict):
            key, tag_value = tag.get("key"), tag.get("value")
        else:
            continue
        if key in _SENTRY_TAGS and isinstance(tag_value, str | int | float):
            labels[key] = _scalar_text(tag_value)
    return labels


def _sentry_project(value: object) -> str:
    """An issue's project is an object ({"id", "slug", …}); an event's is its number."""
    if isinstance(value, dict):
        value = value.get("slug") or value.get("id")
    if isinstance(value, str | int) and not isinstance(value, bool):
        return str(value)
    return ""


def _sentry_event_alert(inner: dict) -> NormalizedAlert:
    event = _child(inner, "event", "data")
    issue_id = _ident(event, "issue_id", "data.event")
    if not issue_id:
        found = _SENTRY_ISSUE_ID.search(_string(event, "issue_url", "data.event"))
        issue_id = found.group(1) if found else ""
    if not issue_id:
        _fail("data.event.issue_id", "required")
    rule = _string(inner, "triggered_rule", "data")
    labels = _sentry_tags(event.get("tags"))
    labels.update(
        {
            key: value
            for key, value in {
                "project": _sentry_project(event.get("project")),
                "platform": _string(event, "platform", "data.event"),
                "level": _string(event, "level", "data.event"),
                "rule": rule,
            }.items()
            if value
        }
    )
    return _alert(
        fingerprint=f"sentry:{issue_id}",
        status="firing",
        title=_first(_string(event, "title", "data.event"), rule, f"Sentry issue {issue_id}"),
        severity=_string(event, "level", "data.event"),
        labels=labels,
        description=_string(event, "culprit", "data.event"),
        starts_at=_time(event.get("datetime") or event.get("timestamp"), "data.event.datetime"),
        links=[_string(event, "web_url", "data.event")],
        source_ref=_ident(event, "event_id", "data.event") or issue_id,
    )


def _sentry_issue(action: str, inner: dict) -> NormalizedAlert:
    if action not in _SENTRY_ISSUE_ACTIONS:
        _fail("action", "must be one of " + ", ".join(_SENTRY_ISSUE_ACTIONS))
    issue = _child(inner, "issue", "data")
    issue_id = _ident(issue, "id", "data.issue", required=True)
    status = _SENTRY_ISSUE_ACTIONS[action]
    labels = {
        "project": _sentry_project(issue.get("project")),
        "platform": _string(issue, "platform", "data.issue"),
        "level": _string(issue, "level", "data.issue"),
        "short_id": _string(issue, "shortId", "data.issue"),
        "substatus": _string(issue, "substatus", "data.issue"),
    }
    return _alert(
        fingerprint=f"sentry:{issue_id}",
        status=status,
        title=_first(_string(issue, "title", "data.issue"), f"Sentry issue {issue_id}"),
        severity=_string(issue, "level", "data.issue"),
        labels={key: value for key, value in labels.items() if value},
        description=_string(issue, "culprit", "data.issue"),
        starts_at=_time(issue.get("firstSeen"), "data.issue.firstSeen"),
        links=[_string(issue, "web_url", "data.issue"), _string(issue, "permalink", "data.issue")],
        source_ref=issue_id,
    )


def _sentry_metric_alert(action: str, inner: dict) -> NormalizedAlert:
    if action not in _SENTRY_METRIC_ACTIONS:
        _fail("action", 'must be "critical", "warning" or "resolved" for a metric alert')
    alert = _child(inner, "metric_alert", "data")
    rule = _child(alert, "alert_rule", "data.metric_alert")
    rule_id = _ident(rule, "id", "data.metric_alert.alert_rule")
    incident_id = _ident(alert, "id", "data.metric_alert")
    if not (rule_id or incident_id):
        _fail("data.metric_alert.alert_rule.id", "required")
    status = _SENTRY_METRIC_ACTIONS[action]
    return _alert(
        fingerprint="sentry:metric-alert:" + (rule_id or f"incident-{incident_id}"),
        status=status,
        title=_first(
            _string(rule, "name", "data.metric_alert.alert_rule"),
            _string(inner, "description_title", "data"),
            _string(alert, "title", "data.metric_alert"),
        ),
        severity=action if status == "firing" else "",
        labels={"rule_id": rule_id} if rule_id else {},
        description=_string(inner, "description_text", "data"),
        starts_at=_time(alert.get("date_started"), "data.metric_alert.date_started"),
        ends_at=_time(alert.get("date_closed"), "data.metric_alert.date_closed")
        if status == "resolved"
        else None,
        links=[_string(inner, "web_url", "data")],
        source_ref=incident_id,
    )


def _sentry_legacy(data: dict) -> NormalizedAlert:
    issue_id = _ident(data, "id", "", required=True)
    labels = {
        "project": _first(_ident(data, "project_slug", ""), _ident(data, "project", "")),
        "level": _string(data, "level", ""),
        "logger": _string(data, "logger", ""),
    }
    return _alert(
        fingerprint=f"sentry:{issue_id}",
        status="firing",
        title=_first(_string(data, "message", ""), f"Sentry issue {issue_id}"),
        severity=_string(data, "level", ""),
        labels={key: value for key, value in labels.items() if value},
        description=_string(data, "culprit", ""),
        links=[_string(data, "url", "")],
        source_ref=issue_id,
    )


# — Splunk —————————————————————————————————————————————————————————————————————————————

# A scheduled search's sid ends in "_at_<epoch>_<serial>" (sometimes "_<host id>" more):
# without that tail it names the saved search, so it stands in for a null search_name.
_SPLUNK_SID_RUN = re.compile(r"_at_\d+_\d+(?:_[A-Za-z0-9]+)?$")
_NUMERIC = re.compile(r"\s*-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\s*")


def splunk(body: object) -> list[NormalizedAlert]:
    """Splunk's webhook alert action: search_name, sid, results_link, app, owner and
    `result` — the first row of the search results. Splunk sends no "resolved": every post
    is a firing alert. fingerprint = "splunk:<search_name>:<hash of the result row>" where
    the hash covers the row's non-internal (not "_"-prefixed), non-numeric fields, so the
    same search about the same thing (host, user, error …) joins one group while a count
    changes between runs. search_name is null for an unsaved search (Splunk's own example
    shows it): the sid without its per-run tail stands in."""
    data = _root(body)
    result = _child(data, "result", "", required=True)
    sid = _string(data, "sid", "", required=True)
    search_name = _string(data, "search_name", "")
    name = search_name or _SPLUNK_SID_RUN.sub("", sid) or sid
    row = _splunk_row(result)
    labels = {key: value for key, value in row.items() if not key.startswith("_")}
    identity = {key: value for key, value in labels.items() if not _NUMERIC.fullmatch(value)}
    labels.update(
        {
            key: value
            for key, value in {
                "splunk_search": search_name,
                "splunk_app": _string(data, "app", ""),
                "splunk_owner": _string(data, "owner", ""),
            }.items()
            if value
        }
    )
    return [
        _alert(
            fingerprint=f"splunk:{name}:{_digest(identity)[:32]}",
            status="firing",
            title=search_name or f"Splunk search {name}",
            severity=_first(row.get("severity"), row.get("urgency"), row.get("priority")),
            labels=labels,
            description=_cut(row.get("_raw", ""), MAX_DESCRIPTION),
            starts_at=_lenient_time(row.get("_time")),
            links=[_string(data, "results_link", "")],
            group_key=name,
            source_ref=sid,
        )
    ]


def _splunk_row(result: dict) -> dict[str, str]:
    """The result row as str → str (multivalue fields arrive as lists: joined with ",")."""
    row = {}
    for key, value in result.items():
        key = str(key)
        if isinstance(value, list):
            value = ",".join(text for item in value if (text := _scalar_text(item)))
        text = _scalar_text(value)
        if text is not None and key.strip():
            row[key.strip()] = text
    return row


# — generic ————————————————————————————————————————————————————————————————————————————


def generic(body: object) -> list[NormalizedAlert]:
    """Vigil's generic JSON alert format.

    POST a JSON object — one alert — or {"alerts": [ … ]} with up to 500 of them:

    ============  ========  ==============================================================
    field         required  meaning
    ============  ========  ==============================================================
    dedup_key     yes       string, at most 200 characters: what identifies the alert at
                            your end. Alerts with the dedup_key of an open alert group join
                            it; "resolved" resolves it.
    status        yes       "firing" or "resolved"
    title         firing    string; when missing on a resolve, the dedup_key is the title.
                            Cut to 200 characters.
    description   no        string
    severity      no        string, your own word ("critical", "P1" …), at most 30 characters
    labels        no        object of strings, e.g. {"service": "checkout", "env": "prod"};
                            at most 64 are kept.
    starts_at     no        RFC 3339 timestamp with a time zone ("2024-05-01T12:00:00Z"),
                            or epoch seconds (or milliseconds) as a number
    ends_at       no        as starts_at
    links         no        list of http(s) URLs (at most 20 are kept)
    ============  ========  ==============================================================

    Other fields are ignored. A resolve needs nothing but the two required fields.

    Example — fire, then resolve::

        {"dedup_key": "db-2/replica-lag", "status": "firing",
         "title": "Replica lag above 60 s on db-2", "severity": "critical",
         "labels": {"service": "orders-db", "env": "prod"},
         "starts_at": "2024-05-01T12:00:00Z",
         "links": ["https://grafana.example.com/d/replication"]}

        {"dedup_key": "db-2/replica-lag", "status": "resolved"}

    A body that breaks these rules is answered 400 with the first problem and where it is,
    e.g. ``alerts[3].status: must be "firing" or "resolved"``.
    """
    data = _root(body)
    if "alerts" in data:
        alerts = _alert_list(data)
        return [_generic_alert(item, _at("alerts", index)) for index, item in enumerate(alerts)]
    return [_generic_alert(data, "")]


def _generic_alert(item: object, path: str) -> NormalizedAlert:
    data = _obj(item, path)
    dedup_key = _string(data, "dedup_key", path, required=True)
    if len(dedup_key) > MAX_FINGERPRINT:
        _fail(_at(path, "dedup_key"), f"at most {MAX_FINGERPRINT} characters")
    status = data.get("status")
    if status is None:
        _fail(_at(path, "status"), 'required ("firing" or "resolved")')
    if status not in ("firing", "resolved"):
        _fail(_at(path, "status"), 'must be "firing" or "resolved"')
    title = _string(data, "title", path)
    if status == "firing" and not title:
        _fail(_at(path, "title"), 'required when status is "firing"')
    severity = _string(data, "severity", path)
    if len(severity) > MAX_SEVERITY:
        _fail(_at(path, "severity"), f"at most {MAX_SEVERITY} characters")
    links = _items(data, "links", path)
    for index, link in enumerate(links):
        if not isinstance(link, str):
            _fail(_at(_at(path, "links"), index), f"must be a string, got {_kind(link)}")
        if not _is_url(link.strip()):
            _fail(_at(_at(path, "links"), index), "must be an http(s) URL")
    return _alert(
        fingerprint=dedup_key,
        status=status,
        title=title or dedup_key,
        severity=severity,
        labels=_flatten(data.get("labels"), _at(path, "labels"), strict=True),
        description=_string(data, "description", path),
        starts_at=_time(data.get("starts_at"), _at(path, "starts_at"), strict=True),
        ends_at=_time(data.get("ends_at"), _at(path, "ends_at"), strict=True),
        links=links,
        source_ref=dedup_key,
    )


# — dispatch ———————————————————————————————————————————————————————————————————————————

ADAPTERS: dict[str, Callable[[object], list[NormalizedAlert]]] = {
    "alertmanager": alertmanager,
    "grafana": grafana,
    "datadog": datadog,
    "pagerduty": pagerduty,
    "sentry": sentry,
    "splunk": splunk,
    "generic": generic,
}


def normalize(kind: str, body: object) -> list[NormalizedAlert]:
    """The alerts in `body` as the source of this kind sent them. Raises PayloadError — and
    nothing else — when the body is not what such a source sends (its message is meant for
    the sender), including for a kind that takes no alert payloads (heartbeat)."""
    adapter = ADAPTERS.get(kind) if isinstance(kind, str) else None
    if adapter is None:
        if kind == "heartbeat":
            _fail("body", "a heartbeat source takes no alerts; POST to its /heartbeat URL")
        _fail("body", f"sources of kind {json.dumps(str(kind)[:30])} take no alert payloads")
    alerts = adapter(body)
    if len(alerts) > MAX_ALERTS:
        _fail("alerts", f"too many alerts ({len(alerts)}); at most {MAX_ALERTS} per request")
    return alerts
