"""POST /hooks/<public-id>/: authentication, signatures, bad input, dedup, suppression,
correlation and resolve sync — against the real database."""

import datetime as dt
import hashlib
import hmac
import json
import threading
import time

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_scopes import scopes_disabled

from incidents.models import Incident, TimelineEvent
from integrations import ingest
from integrations.models import (
    Alert,
    AlertGroup,
    AlertSource,
    CorrelationRule,
    MaintenanceWindow,
    RawPayload,
)
from taxonomy.models import OrgSettings, Service, SeverityLevel
from tests import logcanary

pytestmark = pytest.mark.django_db
SECRET = logcanary.HOOK_SECRET


@pytest.fixture(autouse=True)
def fresh_rate_window():
    ingest._WINDOW = ingest._Window()


def make_source(org, kind="alertmanager", **fields):
    with scopes_disabled():
        source = AlertSource(
            organization=org, name=fields.pop("name", f"{kind} prod"), kind=kind, **fields
        )
        source.set_secret(SECRET)
        source.save()
        return source


def am_alert(name="HighErrorRate", status="firing", fingerprint="fp-1", **labels):
    return {
        "status": status,
        "labels": {"alertname": name, "severity": "critical", **labels},
        "annotations": {"summary": f"{name} on checkout"},
        "startsAt": "2026-11-27T10:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.local/graph",
        "fingerprint": fingerprint,
    }


def am_body(*alerts, status="firing"):
    return {
        "version": "4",
        "groupKey": '{}:{alertname="HighErrorRate"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "vigil",
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.local",
        "alerts": list(alerts),
    }


def post(
    source,
    body,
    *,
    secret=SECRET,
    path_secret=None,
    headers=None,
    raw=None,
    content_type="application/json",
):
    url = f"/hooks/{source.public_id}/" + (f"{path_secret}/" if path_secret else "")
    extra = {"HTTP_AUTHORIZATION": f"Bearer {secret}"} if secret else {}
    extra.update(headers or {})
    data = raw if raw is not None else json.dumps(body)
    return Client().post(url, data=data, content_type=content_type, **extra)


def groups(org):
    with scopes_disabled():
        return list(AlertGroup.objects.filter(organization=org).order_by("pk"))


def incidents(org):
    with scopes_disabled():
        return list(Incident.objects.filter(organization=org).order_by("number"))


# — authentication ——————————————————————————————————————————————————————————————————————


def test_a_firing_alert_is_stored_and_opens_an_incident(acme):
    source = make_source(acme)
    response = post(source, am_body(am_alert()))
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 1
    assert body["incidents"] == ["ACME-1"]
    [incident] = incidents(acme)
    assert incident.source == "alert"
    assert incident.severity.level == 1  # "critical"
    assert incident.title == "HighErrorRate on checkout"
    with scopes_disabled():
        raw = RawPayload.objects.get()
        assert raw.status == "processed"
        assert json.loads(raw.body)["alerts"][0]["fingerprint"] == "fp-1"
        alert = Alert.objects.get()
        assert alert.incident_linked_at is not None


def test_an_unknown_or_disabled_source_is_404_and_says_nothing_more(acme):
    source = make_source(acme, is_enabled=False)
    for public_id in ("nope", source.public_id):
        response = Client().post(
            f"/hooks/{public_id}/",
            data="{}",
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {SECRET}",
        )
        assert response.status_code == 404
        assert response.json() == {"error": "Unknown alert source."}


def test_a_wrong_or_missing_secret_is_401_and_stores_nothing(acme):
    source = make_source(acme)
    assert post(source, am_body(am_alert()), secret="wrong").status_code == 401
    assert post(source, am_body(am_alert()), secret=None).status_code == 401
    with scopes_disabled():
        assert not RawPayload.objects.exists()
        assert AlertSource.objects.get(pk=source.pk).rejected_count == 2


def test_the_secret_in_the_url_works_only_when_the_source_opted_in(acme):
    closed = make_source(acme, name="closed")
    opened = make_source(acme, name="opened", secret_in_url=True)
    assert post(closed, am_body(am_alert()), secret=None, path_secret=SECRET).status_code == 401
    assert post(opened, am_body(am_alert()), secret=None, path_secret=SECRET).status_code == 202


def test_a_rotated_secret_overlaps_until_its_expiry(acme):
    source = make_source(acme)
    with scopes_disabled():
        source.set_secret(
            "new-" + SECRET, keep_previous_until=timezone.now() + dt.timedelta(hours=1)
        )
        source.save()
    assert post(source, am_body(am_alert()), secret=SECRET).status_code == 202
    assert (
        post(source, am_body(am_alert(fingerprint="fp-2")), secret="new-" + SECRET).status_code
        == 202
    )
    with scopes_disabled():
        AlertSource.objects.filter(pk=source.pk).update(
            previous_secret_expires_at=timezone.now() - dt.timedelta(seconds=1)
        )
    assert post(source, am_body(am_alert()), secret=SECRET).status_code == 401


def test_pagerduty_senders_may_put_the_secret_in_routing_key(acme):
    source = make_source(acme, kind="pagerduty")
    event = {
        "routing_key": SECRET,
        "event_action": "trigger",
        "dedup_key": "disk-1",
        "payload": {"summary": "Disk full on db-1", "severity": "critical", "source": "db-1"},
    }
    assert post(source, event, secret=None).status_code == 202
    event["routing_key"] = "wrong"
    assert post(source, event, secret=None).status_code == 401


# — signatures ———————————————————————————————————————————————————————————————————————————


def signed(body: bytes, key: str, stamp: int | None = None) -> str:
    stamp = stamp or int(time.time())
    digest = hmac.new(key.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def test_signatures_valid_wrong_stale_and_replayed(acme):
    source = make_source(acme, hmac_secret="hmac-key")
    body = json.dumps(am_body(am_alert())).encode()
    good = signed(body, "hmac-key")
    assert post(source, None, raw=body, headers={"HTTP_X_VIGIL_SIGNATURE": good}).status_code == 202
    replay = post(source, None, raw=body, headers={"HTTP_X_VIGIL_SIGNATURE": good})
    assert replay.status_code == 401
    assert "replay" in replay.json()["error"]
    wrong = post(source, None, raw=body, headers={"HTTP_X_VIGIL_SIGNATURE": signed(body, "other")})
    assert wrong.json()["error"] == "Signature does not match."
    stale = signed(body, "hmac-key", stamp=int(time.time()) - 301)
    assert (
        "300 s"
        in post(source, None, raw=body, headers={"HTTP_X_VIGIL_SIGNATURE": stale}).json()["error"]
    )
    missing = post(source, None, raw=body)
    assert missing.status_code == 401
    two = (
        f"{signed(body, 'other')},v1="
        + signed(body, "hmac-key", int(time.time()) + 1).split("v1=")[1]
    )
    # several v1= values: one matching key is enough (rotation)
    two = signed(body, "hmac-key", int(time.time()) + 1).replace("v1=", "v1=deadbeef,v1=")
    assert post(source, None, raw=body, headers={"HTTP_X_VIGIL_SIGNATURE": two}).status_code == 202
    with scopes_disabled():
        assert RawPayload.objects.count() == 2


# — bad input ———————————————————————————————————————————————————————————————————————————


def test_bad_bodies_get_4xx_are_counted_and_half_write_nothing(acme):
    source = make_source(acme)
    not_json = post(source, None, raw="{not json")
    assert not_json.status_code == 400
    assert "not valid JSON" in not_json.json()["error"]
    wrong_shape = post(source, {"version": "4", "alerts": [{"status": "exploded"}]})
    assert wrong_shape.status_code == 400
    assert "alerts[0]" in wrong_shape.json()["error"]
    wrong_type = post(source, None, raw="a=b", content_type="application/x-www-form-urlencoded")
    assert wrong_type.status_code == 415
    huge = post(source, None, raw=json.dumps({"x": "y" * (1024 * 1024)}))
    assert huge.status_code == 413
    with scopes_disabled():
        assert not Alert.objects.exists()
        assert not AlertGroup.objects.exists()
        assert list(RawPayload.objects.values_list("status", flat=True)) == ["rejected", "rejected"]
        assert AlertSource.objects.get(pk=source.pk).rejected_count == 4
    assert incidents(acme) == []


def test_get_is_not_allowed(acme):
    source = make_source(acme)
    assert Client().get(f"/hooks/{source.public_id}/").status_code == 405


def test_rate_limit_answers_429_with_retry_after(acme):
    source = make_source(acme, rate_limit_per_minute=2)
    assert post(source, am_body(am_alert())).status_code == 202
    assert post(source, am_body(am_alert())).status_code == 202
    limited = post(source, am_body(am_alert()))
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 60


def test_one_noisy_tenant_does_not_limit_another(acme, globex):
    noisy = make_source(acme, rate_limit_per_minute=1)
    quiet = make_source(globex)
    post(noisy, am_body(am_alert()))
    assert post(noisy, am_body(am_alert())).status_code == 429
    assert post(quiet, am_body(am_alert())).status_code == 202


# — dedup, suppression, correlation, resolve ————————————————————————————————————————


def test_the_same_fingerprint_joins_its_open_group_instead_of_a_new_incident(acme):
    source = make_source(acme)
    for _ in range(3):
        post(source, am_body(am_alert()))
    [group] = groups(acme)
    assert group.count == 3
    assert len(incidents(acme)) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_posts_make_one_group(acme):
    source = make_source(acme)
    barrier = threading.Barrier(8)
    codes = []

    def send():
        barrier.wait()
        try:
            codes.append(post(source, am_body(am_alert())).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert codes == [202] * 8
    [group] = groups(acme)
    assert group.count == 8
    assert len(incidents(acme)) == 1


def test_alerts_inside_a_maintenance_window_are_stored_suppressed(acme):
    source = make_source(acme)
    now = timezone.now()
    with scopes_disabled():
        MaintenanceWindow.objects.create(
            organization=acme,
            name="DB upgrade",
            starts_at=now - dt.timedelta(minutes=5),
            ends_at=now + dt.timedelta(minutes=55),
            match_labels={"service": "db"},
        )
    response = post(source, am_body(am_alert(service="db"), am_alert(fingerprint="fp-2")))
    assert response.json()["suppressed"] == 1
    with scopes_disabled():
        suppressed = AlertGroup.objects.get(fingerprint="fp-1")
        assert suppressed.is_suppressed
        assert suppressed.incident is None
        assert Alert.objects.get(fingerprint="fp-1").suppressed_by.name == "DB upgrade"
    assert len(incidents(acme)) == 1


def test_a_record_only_rule_opens_nothing(acme):
    source = make_source(acme)
    with scopes_disabled():
        CorrelationRule.objects.create(
            organization=acme, name="noise", match_labels={"env": "staging"}, action="record"
        )
    post(source, am_body(am_alert(env="staging")))
    assert incidents(acme) == []
    assert len(groups(acme)) == 1


def test_a_threshold_rule_waits_for_enough_alerts(acme):
    source = make_source(acme)
    with scopes_disabled():
        CorrelationRule.objects.create(
            organization=acme,
            name="flaky disk",
            match_text="disk",
            threshold_count=3,
            threshold_window_minutes=5,
        )
    for n in range(2):
        post(source, am_body(am_alert(name="DiskPressure")))
        assert incidents(acme) == [], n
    post(source, am_body(am_alert(name="DiskPressure")))
    assert len(incidents(acme)) == 1


def test_an_attach_rule_joins_the_open_incident_of_the_service(acme):
    with scopes_disabled():
        checkout = Service.objects.create(organization=acme, name="Checkout")
        CorrelationRule.objects.create(
            organization=acme, name="checkout", action="attach", set_service=checkout
        )
    source = make_source(acme)
    post(source, am_body(am_alert(fingerprint="a")))
    post(source, am_body(am_alert(name="Latency", fingerprint="b")))
    [incident] = incidents(acme)
    with scopes_disabled():
        assert AlertGroup.objects.filter(incident=incident).count() == 2
        assert TimelineEvent.objects.filter(incident=incident, kind="alert").count() == 2


def test_a_rule_sets_the_classification(acme):
    with scopes_disabled():
        sev3 = SeverityLevel.objects.get(organization=acme, level=3)
        CorrelationRule.objects.create(
            organization=acme,
            name="staging is minor",
            match_labels={"env": "staging"},
            set_severity=sev3,
        )
    post(make_source(acme), am_body(am_alert(env="staging")))
    [incident] = incidents(acme)
    assert incident.severity.level == 3


def test_resolving_every_alert_mitigates_an_investigating_incident_when_the_org_wants(
    acme, make_member
):
    from incidents import services
    from tenancy.roles import Role
    from tenancy.scoping import org_scope

    responder = make_member(acme, Role.RESPONDER).user
    source = make_source(acme)
    with scopes_disabled():
        OrgSettings.objects.filter(organization=acme).update(alerts_resolve_mitigates=True)
    post(source, am_body(am_alert()))
    [incident] = incidents(acme)
    with org_scope(acme):
        services.incident_update(
            incident=incident,
            actor=responder,
            changes={"commander": responder, "impact_summary": "Checkout errors for 8 %"},
        )
        services.incident_transition(incident=incident, name="start_investigation", actor=responder)
    post(source, am_body(am_alert(status="resolved"), status="resolved"))
    [group] = groups(acme)
    assert group.status == "resolved"
    assert incidents(acme)[0].status == "mitigated"
    with scopes_disabled():
        messages = list(
            TimelineEvent.objects.filter(incident=incident, kind="alert").values_list(
                "message", flat=True
            )
        )
    assert "Every alert of this incident has resolved." in messages


def test_a_resolve_that_cannot_mitigate_says_what_is_missing(acme, make_member):
    from incidents import services
    from tenancy.roles import Role
    from tenancy.scoping import org_scope

    responder = make_member(acme, Role.RESPONDER).user
    source = make_source(acme)
    with scopes_disabled():
        OrgSettings.objects.filter(organization=acme).update(alerts_resolve_mitigates=True)
    post(source, am_body(am_alert()))
    [incident] = incidents(acme)
    with org_scope(acme):
        services.incident_update(
            incident=incident, actor=responder, changes={"commander": responder}
        )
        services.incident_transition(incident=incident, name="start_investigation", actor=responder)
    post(source, am_body(am_alert(status="resolved"), status="resolved"))
    assert incidents(acme)[0].status == "investigating"
    with scopes_disabled():
        messages = list(
            TimelineEvent.objects.filter(incident=incident, kind="alert").values_list(
                "message", flat=True
            )
        )
    assert "Not moved to mitigated: Missing: impact summary" in messages


def test_an_alert_firing_again_rejoins_its_open_incident(acme):
    source = make_source(acme)
    post(source, am_body(am_alert()))
    post(source, am_body(am_alert(status="resolved"), status="resolved"))
    post(source, am_body(am_alert()))
    assert len(incidents(acme)) == 1
    assert [g.status for g in groups(acme)] == ["resolved", "firing"]
    assert groups(acme)[1].incident_id == incidents(acme)[0].pk


def test_a_duplicate_hands_its_alert_groups_to_the_primary(acme, make_member):
    from incidents import services
    from tenancy.roles import Role
    from tenancy.scoping import org_scope

    responder = make_member(acme, Role.RESPONDER).user
    source = make_source(acme)
    post(source, am_body(am_alert(fingerprint="a")))
    post(source, am_body(am_alert(name="Other", fingerprint="b")))
    first, second = incidents(acme)
    with org_scope(acme):
        services.incident_transition(
            incident=second, name="mark_duplicate", actor=responder, duplicate_of=first
        )
    with scopes_disabled():
        assert AlertGroup.objects.filter(incident=first).count() == 2


def test_secrets_in_hook_paths_never_reach_the_logs():
    from config.redact import redact

    assert (
        redact("POST /hooks/abc123/topsecret/ HTTP/1.1") == "POST /hooks/abc123/[secret]/ HTTP/1.1"
    )
    assert redact("/hooks/abc123/heartbeat") == "/hooks/abc123/heartbeat"
    assert redact("/hooks/abc123/") == "/hooks/abc123/"


def test_the_database_being_down_answers_503():
    """A separate process whose DATABASE_URL points at a closed port: the sender is told to
    retry, not that its payload was accepted."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "import django, json; django.setup();"
        "from django.test import Client;"
        "r = Client().post('/hooks/any/', data='{}', content_type='application/json',"
        " HTTP_AUTHORIZATION='Bearer x');"
        "print(json.dumps({'code': r.status_code, 'retry': r.get('Retry-After')}))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:1/vigil",
        "ALLOWED_HOSTS": "testserver",
    }
    out = subprocess.run(  # noqa: S603
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"code": 503, "retry": "30"}


def test_a_pagerduty_acknowledge_records_the_alert_and_opens_nothing(acme):
    source = make_source(acme, kind="pagerduty")
    ack = {"routing_key": SECRET, "event_action": "acknowledge", "dedup_key": "disk-1"}
    assert post(source, ack, secret=None).status_code == 202
    assert groups(acme) == []
    assert incidents(acme) == []
    trigger = {
        **ack,
        "event_action": "trigger",
        "payload": {"summary": "Disk full", "severity": "error", "source": "db-1"},
    }
    post(source, trigger, secret=None)
    post(source, ack, secret=None)
    [group] = groups(acme)
    assert group.count == 1
    with scopes_disabled():
        assert Alert.objects.filter(group=group).count() == 2


def test_create_alert_source_prints_the_url_and_the_secret_last(acme):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command(
        "create_alert_source",
        "--org",
        "acme",
        "--kind",
        "alertmanager",
        "--name",
        "prod",
        "--secret-in-url",
        stdout=out,
    )
    *_, url_line, secret_line = out.getvalue().strip().splitlines()
    assert url_line.startswith("url: http://127.0.0.1:8000/hooks/")
    secret = secret_line.removeprefix("secret: ")
    assert url_line.endswith(f"/{secret}/")
    with scopes_disabled():
        source = AlertSource.objects.get(name="prod")
    assert source.secret_matches(secret)
    assert secret not in source.secret_hash
    path = url_line.removeprefix("url: http://127.0.0.1:8000")
    response = Client().post(
        path, data=json.dumps(am_body(am_alert())), content_type="application/json"
    )
    assert response.status_code == 202


def test_a_minimum_firing_time_is_checked_again_by_the_sweep(acme):
    source = make_source(acme)
    with scopes_disabled():
        CorrelationRule.objects.create(organization=acme, name="no blips", min_firing_seconds=120)
    post(source, am_body(am_alert()))
    assert incidents(acme) == []
    assert ingest.sweep_pending()["groups"] == 0
    later = timezone.now() + dt.timedelta(minutes=3)
    assert ingest.sweep_pending(now=later)["groups"] == 1
    assert len(incidents(acme)) == 1


def test_a_payload_whose_processing_failed_is_processed_by_the_sweep(acme):
    source = make_source(acme)
    raw = ingest.store_raw(
        source=source,
        body=json.dumps(am_body(am_alert())).encode(),
        content_type="application/json",
    )
    assert ingest.sweep_pending()["payloads"] == 0  # too fresh: the request may still be at it
    ingest.sweep_pending(now=timezone.now() + dt.timedelta(minutes=2))
    with scopes_disabled():
        raw.refresh_from_db()
    assert raw.status == "processed"
    assert len(incidents(acme)) == 1


def test_the_incident_page_lists_its_alerts(acme, make_member, login):
    from tenancy.roles import Role

    source = make_source(acme)
    post(source, am_body(am_alert()))
    post(source, am_body(am_alert()))
    responder = make_member(acme, Role.RESPONDER).user
    page = login(responder).get("/o/acme/incidents/ACME-1/")
    assert b"Related alerts" in page.content
    assert "HighErrorRate on checkout" in page.content.decode()
    assert "2×" in page.content.decode()


def test_an_old_hmac_secret_works_only_during_the_rotation_overlap(acme):
    source = make_source(
        acme,
        hmac_secret="new-key",
        previous_hmac_secret="old-key",
        previous_secret_expires_at=timezone.now() + dt.timedelta(hours=1),
    )
    body = json.dumps(am_body(am_alert())).encode()
    headers = {"HTTP_X_VIGIL_SIGNATURE": signed(body, "old-key")}
    assert post(source, None, raw=body, headers=headers).status_code == 202
    with scopes_disabled():
        AlertSource.objects.filter(pk=source.pk).update(
            previous_secret_expires_at=timezone.now() - dt.timedelta(seconds=1)
        )
    headers = {"HTTP_X_VIGIL_SIGNATURE": signed(body, "old-key", int(time.time()) + 2)}
    assert post(source, None, raw=body, headers=headers).status_code == 401


def test_a_test_alert_opens_a_test_incident_kept_out_of_metrics(acme):
    post(make_source(acme), am_body(am_alert(vigil_test="true")))
    [incident] = incidents(acme)
    assert incident.kind == "test"
    assert not incident.counts_in_metrics


def test_a_rule_clusters_alerts_by_its_label_keys_within_a_window(acme):
    source = make_source(acme)
    with scopes_disabled():
        CorrelationRule.objects.create(
            organization=acme,
            name="Checkout storm",
            match_labels={"service": "checkout"},
            group_by=["service", "region"],
            group_window_minutes=10,
        )
    post(source, am_body(am_alert(name="5xx", fingerprint="a", service="checkout", region="eu")))
    post(
        source, am_body(am_alert(name="Latency", fingerprint="b", service="checkout", region="eu"))
    )
    post(source, am_body(am_alert(name="5xx", fingerprint="c", service="checkout", region="us")))
    clusters = groups(acme)
    assert [g.count for g in clusters] == [2, 1]
    assert clusters[0].title == "Checkout storm: service=checkout, region=eu"
    assert len(incidents(acme)) == 2


def test_a_cluster_closes_after_a_quiet_window(acme):
    source = make_source(acme)
    with scopes_disabled():
        CorrelationRule.objects.create(
            organization=acme, name="storm", group_by=["service"], group_window_minutes=10
        )
    post(source, am_body(am_alert(fingerprint="a", service="db")))
    with scopes_disabled():
        AlertGroup.objects.update(last_seen=timezone.now() - dt.timedelta(minutes=11))
    post(source, am_body(am_alert(fingerprint="b", service="db")))
    assert [g.status for g in groups(acme)] == ["resolved", "firing"]


def test_a_flapping_alert_stops_opening_incidents(acme, make_member):
    source = make_source(acme)
    with scopes_disabled():
        CorrelationRule.objects.create(
            organization=acme, name="flappy", match_text="disk", flap_max=2, flap_window_minutes=60
        )
    for _ in range(5):
        post(source, am_body(am_alert(name="DiskPressure")))
        post(source, am_body(am_alert(name="DiskPressure", status="resolved"), status="resolved"))
    flagged = [g for g in groups(acme) if g.suppressed_reason == "flapping"]
    assert len(groups(acme)) == 5
    assert len(flagged) == 2
    assert all(g.incident_id is None for g in flagged)


# — one commit per post, failures after it ————————————————————————————————————————————


def _fail_in_the_database(*args, **kwargs):
    """A real error raised by PostgreSQL (division by zero), not a Python stand-in."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 / 0")


def test_a_processing_failure_commits_the_payload_as_queued_and_the_sweep_finishes_it(
    acme, monkeypatch
):
    source = make_source(acme)
    monkeypatch.setattr(ingest, "_insert_alerts", _fail_in_the_database)
    response = post(source, am_body(am_alert(), am_alert(fingerprint="fp-2")))
    assert response.status_code == 202
    assert response.json()["queued"] is True
    with scopes_disabled():
        raw = RawPayload.objects.get(pk=response.json()["payload"])
        assert raw.status == "received"
        assert raw.alert_count == 0
        assert not Alert.objects.exists()
    assert groups(acme) == []  # the savepoint took the half-done groups back
    monkeypatch.undo()
    assert ingest.sweep_pending(now=timezone.now() + dt.timedelta(minutes=2))["payloads"] == 1
    with scopes_disabled():
        raw.refresh_from_db()
        assert raw.status == "processed"
        assert Alert.objects.count() == 2
    assert len(incidents(acme)) == 2


def test_when_opening_the_incident_fails_the_alert_is_kept_and_the_sweep_opens_it(
    acme, monkeypatch
):
    from incidents import services as incident_services

    source = make_source(acme)
    monkeypatch.setattr(incident_services, "incident_create", _fail_in_the_database)
    response = post(source, am_body(am_alert()))
    assert response.status_code == 202
    assert response.json()["groups_new"] == 1
    assert response.json()["incidents"] == []
    [group] = groups(acme)
    assert group.incident_id is None
    with scopes_disabled():
        assert RawPayload.objects.get().status == "processed"
        assert Alert.objects.get().group_id == group.pk
    monkeypatch.undo()
    assert ingest.sweep_pending()["groups"] == 1
    [incident] = incidents(acme)
    assert groups(acme)[0].incident_id == incident.pk


def test_a_payload_is_applied_in_the_order_it_was_sent(acme):
    """fire, resolve, fire again in one payload: the first group resolves and a second one
    opens — the resolve ends a run of firing alerts before the next is upserted."""
    source = make_source(acme)
    response = post(
        source,
        am_body(am_alert(), am_alert(status="resolved"), am_alert(), am_alert()),
    )
    assert response.status_code == 202
    body = response.json()
    assert (body["accepted"], body["groups_new"], body["groups_joined"], body["resolved"]) == (
        4,
        2,
        1,
        1,
    )
    first, second = groups(acme)
    assert (first.status, first.count) == ("resolved", 1)
    assert (second.status, second.count) == ("firing", 2)
    with scopes_disabled():
        assert [a.group_id for a in Alert.objects.order_by("pk")] == [
            first.pk,
            first.pk,
            second.pk,
            second.pk,
        ]


def test_a_batch_repeating_a_fingerprint_counts_every_copy(acme):
    source = make_source(acme)
    alerts = [am_alert(fingerprint=f"fp-{i % 3}") for i in range(7)]
    body = post(source, am_body(*alerts)).json()
    assert (body["accepted"], body["groups_new"], body["groups_joined"]) == (7, 3, 4)
    assert sorted(g.count for g in groups(acme)) == [2, 2, 3]
    assert len(incidents(acme)) == 3


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_sharing_new_fingerprints_make_one_group_and_incident_each(acme):
    """Overlapping batches in different orders: no deadlock (rows are locked in fingerprint
    order), one group and one incident per fingerprint, every copy counted."""
    source = make_source(acme)
    fingerprints = [f"fp-{i:02d}" for i in range(12)]
    barrier = threading.Barrier(6)
    codes = []

    def send(offset):
        barrier.wait()
        try:
            rotated = fingerprints[offset:] + fingerprints[:offset]
            codes.append(post(source, am_body(*[am_alert(fingerprint=f) for f in rotated])))
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(k * 2,)) for k in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [c.status_code for c in codes] == [202] * 6
    made = groups(acme)
    assert sorted(g.fingerprint for g in made) == fingerprints
    assert {g.count for g in made} == {6}
    ingest.sweep_pending()  # a group whose lock a racing post held is linked here at the latest
    assert len(incidents(acme)) == 12
    assert all(g.incident_id for g in groups(acme))
    assert len({g.incident_id for g in groups(acme)}) == 12
