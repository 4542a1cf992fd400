"""The adapters on payloads shaped as each sender documents them (their own field names), on
wrong shapes (each refusal names the path), and on junk: normalize() raises PayloadError and
nothing else. Pure functions: no database."""

import copy
import datetime as dt
import json
import random
import re

import pytest

from integrations import adapters
from integrations.adapters import ADAPTERS, KIND_CHOICES, MAX_ALERTS, generic, normalize
from integrations.normalized import NormalizedAlert, PayloadError

UTC = dt.UTC


def check(alert: NormalizedAlert) -> NormalizedAlert:
    """Everything normalize() guarantees about every alert."""
    assert isinstance(alert, NormalizedAlert)
    assert isinstance(alert.fingerprint, str)
    assert 0 < len(alert.fingerprint) <= 200
    assert alert.status in ("firing", "resolved", "acknowledged")
    assert isinstance(alert.title, str)
    assert 0 < len(alert.title) <= 200
    assert "\n" not in alert.title
    assert "\x00" not in alert.title
    assert isinstance(alert.severity, str)
    assert len(alert.severity) <= 30
    assert alert.severity == alert.severity.lower()
    for mapping, count, chars in ((alert.labels, 64, 200), (alert.annotations, 64, 4000)):
        assert isinstance(mapping, dict)
        assert len(mapping) <= count
        for key, value in mapping.items():
            assert isinstance(key, str)
            assert isinstance(value, str)
            assert len(key) <= chars
            assert len(value) <= chars
    for moment in (alert.starts_at, alert.ends_at):
        assert moment is None or (isinstance(moment, dt.datetime) and moment.tzinfo)
    assert all(isinstance(link, str) and link.startswith("http") for link in alert.links)
    assert isinstance(alert.description, str)
    assert isinstance(alert.group_key, str)
    assert len(alert.group_key) <= 200
    assert len(alert.source_ref) <= 200
    return alert


def run(kind: str, body: object) -> list[NormalizedAlert]:
    return [check(alert) for alert in normalize(kind, body)]


def refused(kind: str, body: object, message: str) -> None:
    with pytest.raises(PayloadError, match="^" + re.escape(message)):
        normalize(kind, body)


# — payloads as the vendors document them ——————————————————————————————————————————————


def alertmanager_body(status="firing"):
    """Alertmanager webhook_config, version 4 (as in the alertmanager docs / sample-v4)."""
    ended = "2023-02-06T13:18:45.828Z" if status == "resolved" else "0001-01-01T00:00:00Z"
    return {
        "receiver": "vigil",
        "status": status,
        "alerts": [
            {
                "status": status,
                "labels": {
                    "alertname": "ProbeFailure",
                    "instance": "https://server.example.org",
                    "job": "http_checks",
                    "severity": "critical",
                },
                "annotations": {
                    "description": "Instance https://server.example.org has been down for 5m.",
                    "summary": "BlackBox Probe Failure: https://server.example.org",
                    "runbook_url": "https://runbooks.example.org/probe-failure",
                },
                "startsAt": "2023-02-06T13:08:45.828739266+01:00",
                "endsAt": ended,
                "generatorURL": "http://prometheus.example.org:9090/graph?g0.expr=probe_success",
                "fingerprint": "1a30ba71cca2921f",
            }
        ],
        "groupLabels": {"alertname": "ProbeFailure"},
        "commonLabels": {"alertname": "ProbeFailure", "severity": "critical"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example.org:9093",
        "version": "4",
        "groupKey": '{}/{severity="critical"}:{alertname="ProbeFailure"}',
        "truncatedAlerts": 0,
    }


def grafana_body(status="firing"):
    """Grafana alerting webhook contact point (version "1"), as in Grafana's docs."""
    ended = "2021-10-12T09:56:03.157076+02:00" if status == "resolved" else "0001-01-01T00:00:00Z"
    return {
        "receiver": "My Super Webhook",
        "status": status,
        "orgId": 1,
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": "High memory usage", "team": "blue", "zone": "us-1"},
                "annotations": {
                    "description": "The system has high memory usage",
                    "runbook_url": "https://myrunbook.com/runbook/1234",
                    "summary": "This alert was triggered for zone us-1",
                },
                "startsAt": "2021-10-12T09:51:03.157076+02:00",
                "endsAt": ended,
                "generatorURL": "https://play.grafana.org/alerting/1afz29v7z/edit",
                "fingerprint": "c6eadffa33fcdf37",
                "silenceURL": "https://play.grafana.org/alerting/silence/new?alertmanager=grafana",
                "dashboardURL": "",
                "panelURL": "",
                "values": {"B": 44.23943737541908, "C": 1},
            }
        ],
        "groupLabels": {"alertname": "High memory usage"},
        "commonLabels": {"alertname": "High memory usage", "team": "blue", "zone": "us-1"},
        "commonAnnotations": {},
        "externalURL": "https://play.grafana.org/",
        "version": "1",
        "groupKey": '{}:{alertname="High memory usage"}',
        "truncatedAlerts": 0,
        "title": "[FIRING:1] High memory usage (blue us-1)",
        "state": "alerting",
        "message": "**Firing**\n\nValue: B=44.23943737541908, C=1",
    }


def datadog_body(transition="Triggered"):
    """A Datadog webhook with the integration's $VARIABLES filled in."""
    return {
        "id": "7374523893428345",
        "last_updated": "1406662672000",
        "event_type": "metric_alert_monitor",
        "title": f"[{transition} on {{host:web-1}}] Disk almost full",
        "body": "%%%\n@webhook-vigil Disk usage is 97% on web-1\n%%%",
        "alert_id": "1234",
        "alert_transition": transition,
        "alert_title": f"[{transition} on {{host:web-1}}] Disk almost full",
        "alert_scope": "host:web-1",
        "alert_metric": "system.disk.in_use",
        "alert_priority": "P2",
        "alert_type": "success" if transition == "Recovered" else "error",
        "aggreg_key": "9bd4ac313a4d1e8fae2482df7b77628",
        "priority": "normal",
        "tags": "env:prod,role:db,team:storage,monitor",
        "link": "https://app.datadoghq.com/event/event?id=7374523893428345",
        "date": "1406662672000",
        "org": {"id": "11111", "name": "Acme"},
    }


def datadog_default_body(transition="Triggered"):
    """Datadog's default payload template: no alert_id, no transition, no aggregation key."""
    return {
        "body": "%%%\nDisk usage is 97%\n%%%",
        "last_updated": "1406662672000",
        "event_type": "query_alert_monitor",
        "title": f"[{transition} on {{host:web-1}}] Disk almost full",
        "date": "1406662672000",
        "org": {"id": "11111", "name": "Acme"},
        "id": "7374523893428345",
    }


def pagerduty_trigger():
    """The trigger example of PagerDuty's Events API v2 documentation."""
    return {
        "payload": {
            "summary": "Example alert on host1.example.com",
            "timestamp": "2015-07-17T08:42:58.315+0000",
            "source": "monitoringtool:cloudvendor:central-region-dc-01:852559987:cluster/api",
            "severity": "info",
            "component": "postgres",
            "group": "prod-datapipe",
            "class": "deploy",
            "custom_details": {"ping time": "1500ms", "load avg": 0.75},
        },
        "routing_key": "R0UT1NGK3YS3CR3T0000000000000000",
        "dedup_key": "samplekeyhere",
        "images": [
            {
                "src": "https://www.pagerduty.com/wp-content/uploads/2016/05/pagerduty-logo.png",
                "href": "https://example.com/image",
                "alt": "Example text",
            }
        ],
        "links": [{"href": "https://example.com/", "text": "Link text"}],
        "event_action": "trigger",
        "client": "Sample Monitoring Service",
        "client_url": "https://monitoring.example.com",
    }


def pagerduty_followup(action):
    return {
        "routing_key": "R0UT1NGK3YS3CR3T0000000000000000",
        "dedup_key": "samplekeyhere",
        "event_action": action,
    }


def sentry_issue_alert():
    """Sentry-Hook-Resource: event_alert (trimmed from Sentry's documented payload)."""
    return {
        "action": "triggered",
        "actor": {"id": "sentry", "name": "Sentry", "type": "application"},
        "data": {
            "event": {
                "culprit": "?(<anonymous>)",
                "datetime": "2019-08-19T21:06:17.677000Z",
                "event_id": "e4874d664c3540c1a32eab185f12c5ab",
                "issue_url": "https://sentry.io/api/0/issues/1117540176/",
                "issue_id": "1117540176",
                "level": "error",
                "platform": "javascript",
                "project": 1,
                "tags": [
                    ["browser", "Chrome 75.0.3770"],
                    ["environment", "production"],
                    ["level", "error"],
                    ["user", "ip:162.217.75.90"],
                ],
                "timestamp": 1566248777.677,
                "title": "ReferenceError: heck is not defined",
                "type": "error",
                "url": "https://sentry.io/api/0/projects/test-org/front-end/events/e4874d66/",
                "web_url": "https://sentry.io/organizations/test-org/issues/1117540176/events/e48/",
            },
            "triggered_rule": "Very Important Alert Rule!",
            "issue_alert": {"title": "Very Important Alert Rule!", "settings": []},
        },
        "installation": {"uuid": "a8e5d37a-696c-4c54-adb5-b3f28d64c7de"},
    }


def sentry_issue(action="resolved"):
    """Sentry-Hook-Resource: issue (as documented)."""
    return {
        "action": action,
        "actor": {"id": "sentry", "name": "Sentry", "type": "application"},
        "data": {
            "issue": {
                "culprit": "?(runner)",
                "firstSeen": "2019-08-19T20:58:37.391000Z",
                "id": "1117540176",
                "lastSeen": "2019-08-19T20:58:37.391000Z",
                "level": "error",
                "platform": "javascript",
                "project": {"id": "1", "name": "front-end", "slug": "front-end"},
                "shortId": "FRONT-END-9",
                "status": "resolved" if action == "resolved" else "unresolved",
                "substatus": None if action == "resolved" else "escalating",
                "title": "ReferenceError: heck is not defined",
                "web_url": "https://sentry.io/organizations/test-org/issues/1117540176/",
            }
        },
        "installation": {"uuid": "a8e5d37a-696c-4c54-adb5-b3f28d64c7de"},
    }


def sentry_metric_alert(action="critical"):
    """Sentry-Hook-Resource: metric_alert (as documented)."""
    return {
        "action": action,
        "actor": {"id": "sentry", "name": "Sentry", "type": "application"},
        "data": {
            "description_text": "1000 events in the last 10 minutes\nFilter: level:error",
            "description_title": f"{action.title()}: Too many errors",
            "metric_alert": {
                "alert_rule": {"aggregate": "count()", "id": "7", "name": "Too many errors"},
                "date_closed": "2020-09-13T12:46:40.000000Z" if action == "resolved" else None,
                "date_started": "2020-09-13T12:26:40.000000Z",
                "id": "4",
                "identifier": "1",
                "title": "Sacred Marmot",
            },
            "web_url": "https://sentry.io/organizations/baz/alerts/1/",
        },
    }


def splunk_body(**changes):
    """Splunk's webhook alert action, as in Splunk's documentation (search_name null)."""
    body = {
        "result": {"sourcetype": "mongod", "count": "8"},
        "sid": "scheduler__admin__search__W2_at_1427942640_178",
        "results_link": "http://web.example.local:8000/app/search/@go?sid=scheduler__admin",
        "search_name": None,
        "owner": "admin",
        "app": "search",
    }
    body.update(changes)
    return body


def generic_body(**changes):
    body = {
        "dedup_key": "db-2/replica-lag",
        "status": "firing",
        "title": "Replica lag above 60 s on db-2",
        "description": "Replication is 94 s behind the primary.",
        "severity": "Critical",
        "labels": {"service": "orders-db", "env": "prod"},
        "starts_at": "2024-05-01T12:00:00Z",
        "links": ["https://grafana.example.com/d/replication"],
    }
    body.update(changes)
    return body


FIXTURES = [
    ("alertmanager", alertmanager_body()),
    ("alertmanager", alertmanager_body("resolved")),
    ("grafana", grafana_body()),
    ("grafana", grafana_body("resolved")),
    ("datadog", datadog_body()),
    ("datadog", datadog_default_body("Recovered")),
    ("pagerduty", pagerduty_trigger()),
    ("pagerduty", pagerduty_followup("resolve")),
    ("sentry", sentry_issue_alert()),
    ("sentry", sentry_issue("resolved")),
    ("sentry", sentry_metric_alert()),
    ("splunk", splunk_body()),
    ("generic", generic_body()),
    ("generic", {"alerts": [generic_body(), {"dedup_key": "x", "status": "resolved"}]}),
]


# — kinds ——————————————————————————————————————————————————————————————————————————————


def test_every_kind_has_an_adapter_and_a_label():
    assert [value for value, _ in KIND_CHOICES] == list(ADAPTERS)
    assert list(ADAPTERS) == [
        "alertmanager",
        "grafana",
        "datadog",
        "pagerduty",
        "sentry",
        "splunk",
        "generic",
    ]


def test_a_kind_without_an_adapter_is_a_payload_error():
    refused("heartbeat", generic_body(), "body: a heartbeat source takes no alerts")
    refused("nagios", generic_body(), 'body: sources of kind "nagios" take no alert payloads')


# — Alertmanager —————————————————————————————————————————————————————————————————————————


def test_alertmanager_firing():
    (alert,) = run("alertmanager", alertmanager_body())
    assert alert.fingerprint == "1a30ba71cca2921f" == alert.source_ref
    assert alert.status == "firing"
    assert alert.title == "BlackBox Probe Failure: https://server.example.org"
    assert alert.severity == "critical"
    assert alert.labels["job"] == "http_checks"
    assert alert.annotations["summary"].startswith("BlackBox")
    assert alert.description.startswith("Instance https://server.example.org")
    assert alert.group_key == '{}/{severity="critical"}:{alertname="ProbeFailure"}'
    # Nanoseconds cut to microseconds; the offset kept.
    assert alert.starts_at == dt.datetime(2023, 2, 6, 12, 8, 45, 828739, tzinfo=UTC)
    assert alert.ends_at is None  # "0001-01-01T00:00:00Z": Go's zero time
    assert alert.links == [
        "http://prometheus.example.org:9090/graph?g0.expr=probe_success",
        "https://runbooks.example.org/probe-failure",
        "http://alertmanager.example.org:9093",
    ]


def test_alertmanager_resolved():
    (alert,) = run("alertmanager", alertmanager_body("resolved"))
    assert alert.status == "resolved"
    assert alert.fingerprint == "1a30ba71cca2921f"
    assert alert.ends_at == dt.datetime(2023, 2, 6, 13, 18, 45, 828000, tzinfo=UTC)


def test_alertmanager_firing_alert_has_no_end_even_with_an_expiry():
    body = alertmanager_body()
    body["alerts"][0]["endsAt"] = "2023-02-06T13:12:45.828Z"  # Prometheus' validity hint
    (alert,) = run("alertmanager", body)
    assert alert.ends_at is None


def test_alertmanager_one_alert_per_entry_and_fallbacks():
    body = alertmanager_body()
    second = copy.deepcopy(body["alerts"][0])
    del second["fingerprint"], second["annotations"]
    second["labels"] = {"instance": "db-1", "alertname": "DiskFull"}
    body["alerts"].append(second)
    first, other = run("alertmanager", body)
    assert first.fingerprint == "1a30ba71cca2921f"
    assert other.title == "DiskFull"  # no summary: the alertname
    assert other.severity == ""
    assert other.fingerprint.startswith("sha256:")
    assert len(other.fingerprint) == 71
    assert other.source_ref == ""
    # The derived fingerprint does not depend on label order.
    second["labels"] = {"alertname": "DiskFull", "instance": "db-1"}
    assert run("alertmanager", body)[1].fingerprint == other.fingerprint


def test_alertmanager_accepts_exactly_500_alerts_and_refuses_501():
    body = alertmanager_body()
    body["alerts"] = [copy.deepcopy(body["alerts"][0]) for _ in range(MAX_ALERTS)]
    assert len(run("alertmanager", body)) == 500
    body["alerts"].append(body["alerts"][0])
    refused("alertmanager", body, "alerts: too many alerts (501); at most 500 per request")


def _with(body, path, value):
    """A copy of body with the value at a path ("alerts.0.status") set (or removed)."""
    body = copy.deepcopy(body)
    *parents, last = path.split(".")
    node = body
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    last = int(last) if isinstance(node, list) else last
    if value is REMOVE:
        del node[last]
    else:
        node[last] = value
    return body


REMOVE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("alerts.0.status", "pending", 'alerts[0].status: must be "firing" or "resolved"'),
        ("alerts.0.status", REMOVE, 'alerts[0].status: required ("firing" or "resolved")'),
        ("alerts.0.labels", REMOVE, "alerts[0].labels: required (at least alertname)"),
        ("alerts.0.labels", ["a"], "alerts[0].labels: expected an object, got a list"),
        ("alerts.0.annotations", "x", "alerts[0].annotations: expected an object, got a string"),
        ("alerts.0.fingerprint", 7, "alerts[0].fingerprint: must be a string, got a number"),
        ("alerts.0.startsAt", "yesterday", 'alerts[0].startsAt: not an RFC 3339 timestamp: "yes'),
        ("alerts.0.startsAt", "2023-02-30T10:00:00Z", "alerts[0].startsAt: not a valid date"),
        ("alerts.0.endsAt", True, "alerts[0].endsAt: must be an RFC 3339 timestamp, got a bool"),
        ("alerts.0.generatorURL", {}, "alerts[0].generatorURL: must be a string, got an object"),
        ("alerts.0", "alert", "alerts[0]: expected an object, got a string"),
        ("alerts", REMOVE, "alerts: required"),
        ("alerts", {"0": {}}, "alerts: expected a list, got an object"),
        ("version", REMOVE, 'version: required ("4" for the Alertmanager webhook)'),
        ("version", "1", 'version: expected "4" (the Alertmanager webhook format), got "1"'),
        ("groupKey", ["k"], "groupKey: must be a string, got a list"),
    ],
)
def test_alertmanager_wrong_shapes(path, value, message):
    refused("alertmanager", _with(alertmanager_body(), path, value), message)


def test_alertmanager_second_alert_named_in_the_error():
    body = alertmanager_body()
    body["alerts"].append(dict(body["alerts"][0], status="active"))
    refused("alertmanager", body, 'alerts[1].status: must be "firing" or "resolved"')


# — Grafana ————————————————————————————————————————————————————————————————————————————


def test_grafana_firing():
    (alert,) = run("grafana", grafana_body())
    assert alert.fingerprint == "c6eadffa33fcdf37"
    assert alert.status == "firing"
    assert alert.title == "This alert was triggered for zone us-1"
    assert alert.labels == {"alertname": "High memory usage", "team": "blue", "zone": "us-1"}
    assert alert.annotations["values"] == "B=44.23943737541908, C=1"
    assert alert.group_key == '{}:{alertname="High memory usage"}'
    assert alert.starts_at == dt.datetime(2021, 10, 12, 7, 51, 3, 157076, tzinfo=UTC)
    assert alert.ends_at is None
    assert alert.links == [  # empty dashboardURL and panelURL dropped
        "https://play.grafana.org/alerting/1afz29v7z/edit",
        "https://play.grafana.org/alerting/silence/new?alertmanager=grafana",
        "https://myrunbook.com/runbook/1234",
        "https://play.grafana.org/",
    ]


def test_grafana_resolved():
    (alert,) = run("grafana", grafana_body("resolved"))
    assert (alert.status, alert.fingerprint) == ("resolved", "c6eadffa33fcdf37")
    assert alert.ends_at == dt.datetime(2021, 10, 12, 7, 56, 3, 157076, tzinfo=UTC)


def test_grafana_without_fingerprint_gets_a_stable_hash_of_its_labels():
    body = grafana_body()
    del body["alerts"][0]["fingerprint"]
    (firing,) = run("grafana", body)
    resolved_body = grafana_body("resolved")
    del resolved_body["alerts"][0]["fingerprint"]
    resolved_body["alerts"][0]["labels"] = {"zone": "us-1", "team": "blue"} | {
        "alertname": "High memory usage"
    }
    (resolved,) = run("grafana", resolved_body)
    assert firing.fingerprint == resolved.fingerprint
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", firing.fingerprint)


def test_grafana_older_value_string():
    body = grafana_body()
    del body["alerts"][0]["values"]
    body["alerts"][0]["valueString"] = "[ metric='' labels={} value=14151.33 ]"
    (alert,) = run("grafana", body)
    assert alert.annotations["valueString"] == "[ metric='' labels={} value=14151.33 ]"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (alertmanager_body(), 'version: expected "1" (the Grafana alerting webhook format)'),
        (_with(grafana_body(), "version", REMOVE), 'version: required ("1"'),
        (_with(grafana_body(), "alerts.0.status", "alerting"), "alerts[0].status: must be"),
        (
            {"ruleId": 1, "ruleName": "CPU", "state": "alerting", "evalMatches": []},
            "alerts: required (this is a legacy Grafana alert notification",
        ),
    ],
)
def test_grafana_wrong_shapes(body, message):
    refused("grafana", body, message)


# — Datadog ————————————————————————————————————————————————————————————————————————————


def test_datadog_triggered():
    (alert,) = run("datadog", datadog_body())
    assert alert.fingerprint == "9bd4ac313a4d1e8fae2482df7b77628" == alert.group_key
    assert alert.status == "firing"
    assert alert.title == "Disk almost full"
    assert alert.severity == "p2"
    assert alert.labels["env"] == "prod"
    assert alert.labels["team"] == "storage"
    assert alert.labels["monitor"] == ""  # a tag without a value
    assert alert.labels["monitor_id"] == "1234"
    assert alert.labels["scope"] == "host:web-1"
    assert alert.labels["org"] == "Acme"
    assert alert.description == "@webhook-vigil Disk usage is 97% on web-1"
    assert alert.starts_at == dt.datetime(2014, 7, 29, 19, 37, 52, tzinfo=UTC)  # epoch ms
    assert alert.ends_at is None
    assert alert.links == ["https://app.datadoghq.com/event/event?id=7374523893428345"]
    assert alert.source_ref == "7374523893428345"


def test_datadog_recovered_resolves_the_same_fingerprint():
    (alert,) = run("datadog", datadog_body("Recovered"))
    assert alert.status == "resolved"
    assert alert.fingerprint == "9bd4ac313a4d1e8fae2482df7b77628"
    assert alert.ends_at == dt.datetime(2014, 7, 29, 19, 37, 52, tzinfo=UTC)
    assert alert.starts_at is None
    assert alert.severity == "p2"


@pytest.mark.parametrize(
    ("transition", "status"),
    [
        ("Triggered", "firing"),
        ("Re-Triggered", "firing"),
        ("Warn", "firing"),
        ("Re-Warn", "firing"),
        ("No Data", "firing"),
        ("Renotify", "firing"),
        ("Recovered", "resolved"),
        ("Resolved", "resolved"),
    ],
)
def test_datadog_transitions(transition, status):
    assert run("datadog", datadog_body(transition))[0].status == status


def test_datadog_without_aggregation_key_uses_the_monitor_and_scope():
    body = datadog_body()
    del body["aggreg_key"]
    (web1,) = run("datadog", body)
    assert web1.fingerprint.startswith("datadog:1234:")
    body["alert_scope"] = "host:web-2"
    (web2,) = run("datadog", body)
    assert web2.fingerprint != web1.fingerprint
    recovered = datadog_body("Recovered")
    del recovered["aggreg_key"]
    assert run("datadog", recovered)[0].fingerprint == web1.fingerprint


def test_datadog_default_template_reads_the_title():
    (firing,) = run("datadog", datadog_default_body("Triggered"))
    (resolved,) = run("datadog", datadog_default_body("Recovered"))
    assert (firing.status, resolved.status) == ("firing", "resolved")
    assert firing.fingerprint == resolved.fingerprint
    assert firing.title == "Disk almost full"
    assert firing.labels["scope"] == "host:web-1"
    other = datadog_default_body()
    other["title"] = "[P1] [Triggered on {host:web-2}] Disk almost full"
    assert run("datadog", other)[0].fingerprint != firing.fingerprint


def test_datadog_tags_as_a_list_and_unfilled_variables():
    body = datadog_body()
    body["tags"] = ["env:prod", "role:db", "role:cache"]
    body["alert_priority"] = "$ALERT_PRIORITY"  # a variable Datadog left as it was
    body["link"] = "$LINK"
    (alert,) = run("datadog", body)
    assert alert.labels["role"] == "db,cache"
    assert alert.severity == "error"  # falls back to the alert type
    assert alert.links == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"title": "something", "body": "no ids"},
            'alert_id: required: add "alert_id": "$ALERT_ID"',
        ),
        (_with(datadog_body(), "tags", 5), "tags: must be a string"),
        (_with(datadog_body(), "alert_id", ["1"]), "alert_id: must be a string or a number"),
        (_with(datadog_body(), "date", "July"), 'date: not an RFC 3339 timestamp: "July"'),
        (_with(datadog_body(), "org", {"name": []}), "org.name: must be"),
        (grafana_body(), "alert_id: required"),
        (pagerduty_trigger(), "alert_id: required"),
    ],
)
def test_datadog_wrong_shapes(body, message):
    refused("datadog", body, message)


# — PagerDuty Events API v2 ———————————————————————————————————————————————————————————————


def test_pagerduty_trigger():
    (alert,) = run("pagerduty", pagerduty_trigger())
    assert alert.fingerprint == "samplekeyhere" == alert.source_ref
    assert alert.status == "firing"
    assert alert.title == "Example alert on host1.example.com"
    assert alert.severity == "info"
    assert alert.labels == {
        "source": "monitoringtool:cloudvendor:central-region-dc-01:852559987:cluster/api",
        "component": "postgres",
        "group": "prod-datapipe",
        "class": "deploy",
        "client": "Sample Monitoring Service",
    }
    assert alert.annotations == {"load avg": "0.75", "ping time": "1500ms"}
    # "+0000" (no colon), as in PagerDuty's own example.
    assert alert.starts_at == dt.datetime(2015, 7, 17, 8, 42, 58, 315000, tzinfo=UTC)
    assert alert.links == [
        "https://example.com/",
        "https://monitoring.example.com",
        "https://example.com/image",
    ]


def test_pagerduty_never_keeps_the_routing_key():
    for body in (pagerduty_trigger(), pagerduty_followup("resolve")):
        (alert,) = run("pagerduty", body)
        assert "R0UT1NGK3Y" not in repr(alert)


@pytest.mark.parametrize(
    ("action", "status"), [("acknowledge", "acknowledged"), ("resolve", "resolved")]
)
def test_pagerduty_acknowledge_and_resolve_need_only_the_dedup_key(action, status):
    (alert,) = run("pagerduty", pagerduty_followup(action))
    assert alert.status == status
    assert alert.fingerprint == "samplekeyhere"
    assert alert.title == "samplekeyhere"


def test_pagerduty_trigger_without_dedup_key_gets_a_stable_one():
    body = pagerduty_trigger()
    del body["dedup_key"]
    first, again = run("pagerduty", body)[0], run("pagerduty", copy.deepcopy(body))[0]
    assert first.fingerprint == again.fingerprint
    assert first.fingerprint.startswith("pagerduty:")
    body["payload"]["component"] = "mysql"
    assert run("pagerduty", body)[0].fingerprint != first.fingerprint


def test_pagerduty_long_dedup_key_is_hashed_to_fit():
    body = pagerduty_followup("resolve")
    body["dedup_key"] = "k" * 255  # PagerDuty's maximum
    (alert,) = run("pagerduty", body)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", alert.fingerprint)
    body["dedup_key"] = "k" * 254 + "j"
    assert run("pagerduty", body)[0].fingerprint != alert.fingerprint


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (pagerduty_followup("resolve") | {"dedup_key": ""}, "dedup_key: required to resolve"),
        (_with(pagerduty_followup("acknowledge"), "dedup_key", REMOVE), "dedup_key: required"),
        (pagerduty_followup("escalate"), 'event_action: must be "trigger", "acknowledge" or'),
        (_with(pagerduty_trigger(), "event_action", REMOVE), 'event_action: required ("trigger"'),
        (_with(pagerduty_trigger(), "payload", REMOVE), "payload: required"),
        (_with(pagerduty_trigger(), "payload", "text"), "payload: expected an object, got a st"),
        (_with(pagerduty_trigger(), "payload.summary", REMOVE), "payload.summary: required"),
        (_with(pagerduty_trigger(), "payload.source", 42), "payload.source: must be a string"),
        (
            _with(pagerduty_trigger(), "payload.severity", "high"),
            'payload.severity: must be "critical", "error", "warning" or "info"',
        ),
        (_with(pagerduty_trigger(), "dedup_key", 12), "dedup_key: must be a string, got a nu"),
        (_with(pagerduty_trigger(), "routing_key", 1), "routing_key: must be a string"),
        (_with(pagerduty_trigger(), "links", {"href": "x"}), "links: expected a list, got an obj"),
        (_with(pagerduty_trigger(), "links.0", "https://x"), "links[0]: expected an object"),
        (_with(pagerduty_trigger(), "links.0.href", REMOVE), "links[0].href: required"),
        (_with(pagerduty_trigger(), "payload.timestamp", "soon"), "payload.timestamp: not an"),
        (
            {"service_key": "k", "event_type": "trigger", "description": "v1", "incident_key": "1"},
            "event_action: required (this is a PagerDuty Events API v1 body",
        ),
        (grafana_body(), "event_action: required"),
    ],
)
def test_pagerduty_wrong_shapes(body, message):
    refused("pagerduty", body, message)


# — Sentry —————————————————————————————————————————————————————————————————————————————


def test_sentry_issue_alert_triggered():
    (alert,) = run("sentry", sentry_issue_alert())
    assert alert.fingerprint == "sentry:1117540176"
    assert alert.status == "firing"
    assert alert.title == "ReferenceError: heck is not defined"
    assert alert.severity == "error"
    assert alert.description == "?(<anonymous>)"
    assert alert.labels == {
        "environment": "production",
        "level": "error",
        "platform": "javascript",
        "project": "1",
        "rule": "Very Important Alert Rule!",
    }  # the user tag (an IP address) is not kept
    assert alert.starts_at == dt.datetime(2019, 8, 19, 21, 6, 17, 677000, tzinfo=UTC)
    assert alert.links == ["https://sentry.io/organizations/test-org/issues/1117540176/events/e48/"]
    assert alert.source_ref == "e4874d664c3540c1a32eab185f12c5ab"


def test_sentry_issue_resolved_meets_the_alert():
    (alert,) = run("sentry", sentry_issue("resolved"))
    assert alert.status == "resolved"
    assert alert.fingerprint == run("sentry", sentry_issue_alert())[0].fingerprint
    assert alert.labels["project"] == "front-end"
    assert alert.links == ["https://sentry.io/organizations/test-org/issues/1117540176/"]


@pytest.mark.parametrize(
    ("action", "status"),
    [
        ("created", "firing"),
        ("unresolved", "firing"),
        ("resolved", "resolved"),
        ("archived", "resolved"),
        ("ignored", "resolved"),
        ("assigned", "acknowledged"),
    ],
)
def test_sentry_issue_actions(action, status):
    assert run("sentry", sentry_issue(action))[0].status == status


def test_sentry_issue_id_from_the_issue_url_and_numbers():
    body = sentry_issue_alert()
    del body["data"]["event"]["issue_id"]
    assert run("sentry", body)[0].fingerprint == "sentry:1117540176"
    body["data"]["event"]["issue_id"] = 1117540176
    assert run("sentry", body)[0].fingerprint == "sentry:1117540176"


def test_sentry_metric_alert_critical_and_resolved():
    (critical,) = run("sentry", sentry_metric_alert("critical"))
    (resolved,) = run("sentry", sentry_metric_alert("resolved"))
    assert critical.fingerprint == resolved.fingerprint == "sentry:metric-alert:7"
    assert (critical.status, resolved.status) == ("firing", "resolved")
    assert critical.title == "Too many errors"
    assert critical.severity == "critical"
    assert resolved.ends_at == dt.datetime(2020, 9, 13, 12, 46, 40, tzinfo=UTC)
    assert critical.links == ["https://sentry.io/organizations/baz/alerts/1/"]


def test_sentry_legacy_webhooks_plugin():
    body = {
        "id": "541485531",
        "project": "alerta5",
        "project_name": "alerta5",
        "project_slug": "alerta5",
        "culprit": "raven.scripts.runner in main",
        "url": "https://sentry.io/alertaio/alerta5/issues/541485531/",
        "logger": None,
        "level": "error",
        "message": "This is an example Python exception",
        "event": {"event_id": "0476467adf8f499ea795a48fcc4bf290"},
    }
    (alert,) = run("sentry", body)
    assert alert.fingerprint == "sentry:541485531"
    assert alert.title == "This is an example Python exception"
    assert alert.links == ["https://sentry.io/alertaio/alerta5/issues/541485531/"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_with(sentry_issue_alert(), "action", REMOVE), "action: required"),
        (_with(sentry_issue_alert(), "action", "resolved"), 'action: must be "triggered" for'),
        (_with(sentry_issue_alert(), "data", REMOVE), "data: required"),
        (_with(sentry_issue_alert(), "data", []), "data: expected an object, got a list"),
        (
            _with(_with(sentry_issue_alert(), "data.event.issue_id", REMOVE), "data.event", {}),
            "data.event.issue_id: required",
        ),
        (_with(sentry_issue_alert(), "data.event.issue_id", {}), "data.event.issue_id: must be"),
        (_with(sentry_issue_alert(), "data.event.title", 1), "data.event.title: must be a str"),
        (sentry_issue("deleted"), "action: must be one of created, unresolved, resolved, archived"),
        (_with(sentry_issue(), "data.issue.id", REMOVE), "data.issue.id: required"),
        (sentry_metric_alert("open"), 'action: must be "critical", "warning" or "resolved"'),
        ({"action": "triggered", "data": {}}, "data: expected data.event (issue alert)"),
        (grafana_body(), "action: required"),
    ],
)
def test_sentry_wrong_shapes(body, message):
    refused("sentry", body, message)


# — Splunk —————————————————————————————————————————————————————————————————————————————


def test_splunk_documented_example_with_null_search_name():
    (alert,) = run("splunk", splunk_body())
    assert alert.status == "firing"
    # The sid without its per-run tail names the saved search.
    assert alert.fingerprint.startswith("splunk:scheduler__admin__search__W2:")
    assert alert.title == "Splunk search scheduler__admin__search__W2"
    assert alert.labels == {
        "count": "8",
        "sourcetype": "mongod",
        "splunk_app": "search",
        "splunk_owner": "admin",
    }
    assert alert.links == ["http://web.example.local:8000/app/search/@go?sid=scheduler__admin"]
    assert alert.source_ref == "scheduler__admin__search__W2_at_1427942640_178"


def test_splunk_fingerprint_from_search_name_and_result_row():
    named = splunk_body(search_name="Errors on web hosts", result={"host": "web-1", "count": "9"})
    (first,) = run("splunk", named)
    assert first.title == "Errors on web hosts"
    assert first.fingerprint.startswith("splunk:Errors on web hosts:")
    # The next run: another sid and count, same host → the same alert.
    later = splunk_body(
        search_name="Errors on web hosts",
        sid="scheduler__admin__search__W2_at_1427943000_181",
        result={"host": "web-1", "count": "14", "_time": "1427943000"},
    )
    (again,) = run("splunk", later)
    assert again.fingerprint == first.fingerprint
    assert again.starts_at == dt.datetime(2015, 4, 2, 2, 50, tzinfo=UTC)
    assert "_time" not in again.labels
    other_host = splunk_body(search_name="Errors on web hosts", result={"host": "web-2"})
    assert run("splunk", other_host)[0].fingerprint != first.fingerprint


def test_splunk_multivalue_fields_and_severity():
    body = splunk_body(
        search_name="Notable", result={"dest": ["web-1", "web-2"], "urgency": "High"}
    )
    (alert,) = run("splunk", body)
    assert alert.labels["dest"] == "web-1,web-2"
    assert alert.severity == "high"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_with(splunk_body(), "result", REMOVE), "result: required"),
        (_with(splunk_body(), "result", [{"a": "b"}]), "result: expected an object, got a list"),
        (_with(splunk_body(), "sid", REMOVE), "sid: required"),
        (_with(splunk_body(), "sid", 12), "sid: must be a string, got a number"),
        (_with(splunk_body(), "search_name", 3), "search_name: must be a string"),
        (_with(splunk_body(), "results_link", False), "results_link: must be a string"),
        (generic_body(), "result: required"),
    ],
)
def test_splunk_wrong_shapes(body, message):
    refused("splunk", body, message)


# — generic ————————————————————————————————————————————————————————————————————————————


def test_generic_firing():
    (alert,) = run("generic", generic_body())
    assert alert.fingerprint == "db-2/replica-lag" == alert.source_ref
    assert alert.status == "firing"
    assert alert.title == "Replica lag above 60 s on db-2"
    assert alert.description == "Replication is 94 s behind the primary."
    assert alert.severity == "critical"
    assert alert.labels == {"env": "prod", "service": "orders-db"}
    assert alert.starts_at == dt.datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert alert.links == ["https://grafana.example.com/d/replication"]


def test_generic_resolve_needs_only_dedup_key_and_status():
    (alert,) = run("generic", {"dedup_key": "db-2/replica-lag", "status": "resolved"})
    assert (alert.status, alert.fingerprint) == ("resolved", "db-2/replica-lag")
    assert alert.title == "db-2/replica-lag"


def test_generic_batch():
    body = {"alerts": [generic_body(), generic_body(dedup_key="b", status="resolved")]}
    firing, resolved = run("generic", body)
    assert (firing.status, resolved.status) == ("firing", "resolved")
    assert resolved.fingerprint == "b"
    assert run("generic", {"alerts": []}) == []


def test_generic_contract_is_documented_with_examples_that_work():
    doc = generic.__doc__
    for field in ("dedup_key", "status", "title", "labels", "starts_at", "links"):
        assert field in doc
    decoder = json.JSONDecoder()
    examples = [
        decoder.raw_decode(" ".join(doc[start:].split()))[0]
        for start in (match.start() for match in re.finditer(r'\{"dedup_key"', doc))
    ]
    assert [example["status"] for example in examples] == ["firing", "resolved"]
    first, second = (run("generic", example)[0] for example in examples)
    assert first.fingerprint == second.fingerprint


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2024-05-01T12:00:00Z", dt.datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01t12:00:00z", dt.datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01T14:00:00+02:00", dt.datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01T07:30:00-0430", dt.datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01T12:00:00.5Z", dt.datetime(2024, 5, 1, 12, 0, 0, 500000, tzinfo=UTC)),
        ("2024-05-01T12:00:00.123456789Z", dt.datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)),
        (1714564800, dt.datetime(2024, 5, 1, 12, tzinfo=UTC)),
        (1714564800.25, dt.datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=UTC)),
        (1714564800000, dt.datetime(2024, 5, 1, 12, tzinfo=UTC)),  # milliseconds
        ("0001-01-01T00:00:00Z", None),
        ("", None),
        (None, None),
    ],
)
def test_generic_timestamps(stamp, expected):
    (alert,) = run("generic", generic_body(starts_at=stamp))
    assert alert.starts_at == expected


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([generic_body()], "body: expected a JSON object, got a list"),
        (_with(generic_body(), "dedup_key", REMOVE), "dedup_key: required"),
        (_with(generic_body(), "dedup_key", "  "), "dedup_key: required"),
        (_with(generic_body(), "dedup_key", 5), "dedup_key: must be a string, got a number"),
        (generic_body(dedup_key="k" * 201), "dedup_key: at most 200 characters"),
        (_with(generic_body(), "status", REMOVE), 'status: required ("firing" or "resolved")'),
        (generic_body(status="FIRING"), 'status: must be "firing" or "resolved"'),
        (generic_body(status="acknowledged"), 'status: must be "firing" or "resolved"'),
        (_with(generic_body(), "title", REMOVE), 'title: required when status is "firing"'),
        (generic_body(title=["x"]), "title: must be a string, got a list"),
        (generic_body(severity="x" * 31), "severity: at most 30 characters"),
        (generic_body(labels=["env=prod"]), "labels: expected an object, got a list"),
        (generic_body(labels={"replicas": 3}), "labels.replicas: must be a string, got a num"),
        (generic_body(labels={"a b": None}), 'labels["a b"]: must be a string, got null'),
        (generic_body(starts_at="2024-05-01T12:00:00"), "starts_at: needs a time zone"),
        (generic_body(starts_at="2024-05-01"), 'starts_at: not an RFC 3339 timestamp: "2024'),
        (generic_body(ends_at="May 1st"), "ends_at: not an RFC 3339 timestamp"),
        (generic_body(ends_at=1e300), "ends_at: timestamp out of range"),
        (generic_body(ends_at="2024-05-01T25:00:00Z"), "ends_at: not a valid date and time"),
        (generic_body(ends_at="2024-05-01T12:00:00+24:00"), "ends_at: time zone offset out of"),
        (generic_body(links="https://x.example"), "links: expected a list, got a string"),
        (generic_body(links=[{"href": "https://x"}]), "links[0]: must be a string, got an obj"),
        (generic_body(links=["javascript:alert(1)"]), "links[0]: must be an http(s) URL"),
        (generic_body(links=["/relative"]), "links[0]: must be an http(s) URL"),
        ({"alerts": "no"}, "alerts: expected a list, got a string"),
        ({"alerts": [generic_body(), 7]}, "alerts[1]: expected an object, got a number"),
        (
            {"alerts": [generic_body(), generic_body(status="ok")]},
            'alerts[1].status: must be "firing" or "resolved"',
        ),
        (
            {"alerts": [generic_body(), generic_body(labels={"k": 1})]},
            "alerts[1].labels.k: must be a string",
        ),
        (
            {"alerts": [generic_body()] * (MAX_ALERTS + 1)},
            "alerts: too many alerts (501); at most 500 per request",
        ),
        (pagerduty_followup("resolve"), 'status: required ("firing" or "resolved")'),
        (grafana_body(), "alerts[0].dedup_key: required"),
    ],
)
def test_generic_wrong_shapes(body, message):
    refused("generic", body, message)


# — what every alert is held to ————————————————————————————————————————————————————————————


def test_titles_are_one_line_and_cut_to_200_with_an_ellipsis():
    (alert,) = run("generic", generic_body(title="Disk\nfull " + "x" * 300))
    assert len(alert.title) == 200
    assert alert.title.startswith("Disk full xxx")
    assert alert.title.endswith("…")
    assert run("generic", generic_body(title="y" * 200))[0].title == "y" * 200


def test_labels_are_capped_to_64_of_200_characters():
    labels = {f"label{number:03}": "v" * 300 for number in range(100)}
    labels["k" * 250] = "long key"
    (alert,) = run("generic", generic_body(labels=labels))
    assert len(alert.labels) == 64
    assert all(len(key) <= 200 and len(value) <= 200 for key, value in alert.labels.items())
    assert alert.labels["label000"] == "v" * 199 + "…"


def test_vendor_label_values_are_flattened_to_strings():
    body = alertmanager_body()
    body["alerts"][0]["labels"].update(
        {"replicas": 3, "ratio": 0.5, "canary": True, "gone": None, "nested": {"a": [1, 2]}}
    )
    (alert,) = run("alertmanager", body)
    assert alert.labels["replicas"] == "3"
    assert alert.labels["ratio"] == "0.5"
    assert alert.labels["canary"] == "true"
    assert "gone" not in alert.labels
    assert alert.labels["nested"] == '{"a":[1,2]}'


def test_text_loses_nul_characters_and_lone_surrogates():
    body = generic_body(title="bad\x00title \ud800", labels={"k": "v\x00"})
    (alert,) = run("generic", body)
    assert alert.title == "badtitle ?"
    assert alert.labels == {"k": "v"}
    alert.title.encode()  # storable


def test_unsafe_and_malformed_vendor_links_are_dropped():
    body = alertmanager_body()
    body["alerts"][0]["generatorURL"] = "javascript:alert(document.cookie)"
    body["externalURL"] = "http://[::1"  # unparseable
    (alert,) = run("alertmanager", body)
    assert alert.links == ["https://runbooks.example.org/probe-failure"]


# — junk ———————————————————————————————————————————————————————————————————————————————


def _deep(depth=20_000):
    value: object = "bottom"
    for number in range(depth):
        value = [value] if number % 2 else {"k": value}
    return value


JUNK_BODIES = [
    None,
    [],
    "x",
    42,
    4.2,
    True,
    {},
    {"alerts": "no"},
    {"alerts": [None, 1, "x"]},
    {"alerts": [{}]},
    {"data": "x", "action": 5},
    {"payload": [], "event_action": []},
    _deep(),
    {"alerts": _deep()},
]


@pytest.mark.parametrize("kind", list(ADAPTERS))
@pytest.mark.parametrize("body", JUNK_BODIES, ids=range(len(JUNK_BODIES)))
def test_junk_is_only_ever_a_payload_error(kind, body):
    with pytest.raises(PayloadError):
        normalize(kind, body)


def test_deeply_nested_values_inside_valid_bodies_do_not_crash():
    body = alertmanager_body()
    body["alerts"][0]["labels"]["deep"] = _deep()
    body["alerts"][0]["annotations"]["deep"] = _deep()
    (alert,) = run("alertmanager", body)
    assert alert.labels["deep"] == "…"
    body = pagerduty_trigger()
    body["payload"]["custom_details"] = _deep()
    run("pagerduty", body)
    run("splunk", splunk_body(result={"deep": _deep(), "host": "web-1"}))


JUNK_VALUES = [
    None,
    0,
    -1,
    1e300,
    float("nan"),
    True,
    "",
    "x" * 300,
    "0001-01-01T00:00:00Z",
    "$ALERT_ID",
    [],
    [None, {"a": 1}],
    {},
    {"": ""},
]


def _paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*path, index))


def _replaced(body, path, value):
    if not path:
        return copy.deepcopy(value)
    body = copy.deepcopy(body)
    node = body
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = copy.deepcopy(value)
    return body


@pytest.mark.parametrize(("kind", "body"), FIXTURES, ids=[kind for kind, _ in FIXTURES])
def test_any_part_of_a_real_payload_replaced_by_junk(kind, body):
    """Every value of every fixture, in turn, replaced by each junk value (and removed):
    the answer is alerts that keep every guarantee, or a PayloadError — nothing else."""
    outcomes = {"alerts": 0, "refused": 0}
    messages = []
    for path in _paths(body):
        variants = [_replaced(body, path, junk) for junk in JUNK_VALUES]
        if path:
            removed = copy.deepcopy(body)
            node = removed
            for key in path[:-1]:
                node = node[key]
            del node[path[-1]]
            variants.append(removed)
        for variant in variants:
            try:
                alerts = normalize(kind, variant)
            except PayloadError as error:
                messages.append(str(error))
                outcomes["refused"] += 1
            else:
                for alert in alerts:
                    check(alert)
                outcomes["alerts"] += 1
    assert outcomes["alerts"]
    assert outcomes["refused"]
    # Every refusal starts with the path it is about.
    assert all(re.match(r'(body|[\w"][\w"\[\]. -]*): \S', message) for message in messages)


def _random_json(rng, depth=0):
    choice = rng.randrange(9 if depth < 4 else 6)
    if choice == 0:
        return None
    if choice == 1:
        return rng.choice([True, False])
    if choice == 2:
        return rng.choice([0, -7, 2**70, 1.5, 1e308, 1714564800000])
    if choice in (3, 4, 5):
        return rng.choice(
            ["", "firing", "resolved", "trigger", "triggered", "4", "1", "x" * 250,
             "2024-05-01T12:00:00Z", "https://example.com/", "\x00", "Recovered"]
        )  # fmt: skip
    if choice in (6, 7):
        keys = [
            "alerts", "status", "labels", "dedup_key", "event_action", "payload", "version",
            "data", "action", "event", "issue", "result", "sid", "alert_id", "title", "links",
            "summary", "source", "severity", "fingerprint", "startsAt", "tags", "issue_id",
        ]  # fmt: skip
        return {rng.choice(keys): _random_json(rng, depth + 1) for _ in range(rng.randrange(6))}
    return [_random_json(rng, depth + 1) for _ in range(rng.randrange(4))]


@pytest.mark.parametrize("kind", list(ADAPTERS))
def test_random_json_is_alerts_or_a_payload_error(kind):
    rng = random.Random(f"vigil-{kind}")
    for _ in range(400):
        body = _random_json(rng)
        if isinstance(body, dict) and rng.random() < 0.5:
            body["version"] = "4" if kind == "alertmanager" else "1"
        try:
            alerts = normalize(kind, body)
        except PayloadError:
            continue
        for alert in alerts:
            check(alert)


def test_adapters_are_the_same_functions_normalize_uses():
    for kind, adapter in ADAPTERS.items():
        assert getattr(adapters, kind) is adapter
