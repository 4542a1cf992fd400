"""The organisation's alert pages: sources (list, create with the secret shown once, health,
edit, enable, rotate with an overlap, send a test alert), correlation rules with "try this
rule" over the last 7 days, and maintenance windows — permissions and tenancy included."""

import datetime as dt
import html
import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from incidents.models import Incident
from integrations import ingest, selectors
from integrations.adapters import normalize
from integrations.models import (
    Alert,
    AlertGroup,
    AlertSource,
    CorrelationRule,
    MaintenanceWindow,
    OutboundCall,
    RawPayload,
    hash_secret,
)
from integrations.services import sample_payload
from taxonomy.models import Service
from tenancy.models import AuditEntry
from tenancy.roles import Role
from tests.integrations.test_hooks import SECRET, am_alert, am_body, make_source, post

pytestmark = pytest.mark.django_db

NON_ADMIN_ROLES = [Role.VIEWER, Role.RESPONDER, Role.MANAGER, Role.COMPLIANCE]


@pytest.fixture(autouse=True)
def fresh_rate_window():
    ingest._WINDOW = ingest._Window()


def url(name, **kwargs):
    return reverse(f"integrations:{name}", kwargs={"org_slug": "acme", **kwargs})


def service(org, name="Checkout"):
    with scopes_disabled():
        return Service.objects.get_or_create(organization=org, name=name)[0]


def source_post(**overrides):
    data = {
        "name": "prod",
        "kind": "alertmanager",
        "default_service": "",
        "default_team": "",
        "default_category": "",
        "rate_limit_per_minute": "6000",
        "alertmanager_api_url": "",
        "outbound_webhook_url": "",
        "heartbeat_minutes": "",
    }
    return {**data, **overrides}


def shown(response, testid):
    """The text of the element with this data-testid on a page."""
    match = re.search(rf'data-testid="{testid}">([^<]*)<', response.content.decode())
    return match.group(1) if match else None


def fresh(source):
    with scopes_disabled():
        return AlertSource.objects.get(pk=source.pk)


# — the source list ———————————————————————————————————————————————————————————————————


def test_the_list_explains_sources_when_there_are_none(acme, make_member, login):
    viewer = make_member(acme, Role.VIEWER)
    page = login(viewer.user).get(url("source_list")).content.decode()
    assert "No alert sources yet." in page
    assert "An organisation admin can add one." in page
    assert "Add source" not in page


def test_everyone_reads_the_list_with_its_figures_and_admins_may_add(
    acme, acme_admin, make_member, login, client
):
    source = make_source(acme, name="prod")
    make_source(acme, name="staging", is_enabled=False)
    assert post(source, am_body(am_alert(), am_alert(fingerprint="fp-2"))).status_code == 202
    assert post(source, {"nope": 1}).status_code == 400
    viewer = make_member(acme, Role.VIEWER)
    page = login(viewer.user).get(url("source_list")).content.decode()
    assert "Add source" not in page
    row = page.split("prod</a>")[1].split("</tr>")[0]
    assert "Prometheus Alertmanager" in row
    assert "Enabled" in row
    # 2 alerts, 2 payloads (one rejected) in 24 h; 1 rejected post
    assert re.findall(r'class="num[^"]*">(?:<span class="int-bad">)?(\d+)', row) == ["2", "2", "1"]
    assert "Disabled" in page.split("staging</a>")[1]
    client.logout()
    assert "Add source" in login(acme_admin.user).get(url("source_list")).content.decode()


def test_the_org_nav_links_to_the_alert_pages(acme, make_member, login):
    viewer = make_member(acme, Role.VIEWER)
    page = login(viewer.user).get(reverse("tenancy:org_home", args=["acme"])).content.decode()
    assert f'href="{url("source_list")}"' in page
    assert ">Alerts</a>" in page


# — creating a source: the secret is shown once ———————————————————————————————————————


def test_creating_a_source_shows_the_secret_once_and_stores_only_its_hash(
    acme, acme_admin, login, settings
):
    settings.SITE_URL = "https://vigil.example.com"
    checkout = service(acme)
    client = login(acme_admin.user)
    response = client.post(url("source_create"), source_post(default_service=checkout.pk))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    secret = shown(response, "secret")
    source = AlertSource.objects.with_scopes_disabled().get(organization=acme, name="prod")
    assert source.secret_hash == hash_secret(secret)
    assert secret not in source.secret_hash
    assert source.default_service == checkout
    assert source.is_enabled
    hook = f"https://vigil.example.com/hooks/{source.public_id}/"
    assert shown(response, "hook-url") == hook
    page = html.unescape(response.content.decode())
    assert f"Authorization: Bearer {secret}" in page  # the curl example
    assert "webhook_configs:" in page
    assert f'credentials: "{secret}"' in page
    assert "dedup_key     yes" in page  # the generic contract, from the adapter's docstring
    assert "only time Vigil shows it" in page
    # The secret works, and no other page shows it.
    client.logout()
    assert post(source, am_body(am_alert()), secret=secret).status_code == 202
    client = login(acme_admin.user)
    for name in ("source_detail", "source_update", "source_rotate"):
        other = client.get(url(name, pk=source.pk))
        assert other.status_code == 200
        assert secret not in other.content.decode(), name
    assert secret not in client.get(url("source_list")).content.decode()
    detail = client.get(url("source_detail", pk=source.pk)).content.decode()
    assert "rotate to get a new one" in detail


def test_secret_in_url_hmac_and_outbound_secrets_are_shown_once_too(acme, acme_admin, login):
    client = login(acme_admin.user)
    response = client.post(
        url("source_create"),
        source_post(
            name="splunk",
            kind="splunk",
            secret_in_url="on",
            use_hmac="on",
            outbound_webhook_url="https://hooks.example.com/vigil",
        ),
    )
    secret = shown(response, "secret")
    hmac_secret = shown(response, "hmac-secret")
    outbound = shown(response, "outbound-secret")
    source = AlertSource.objects.with_scopes_disabled().get(name="splunk")
    assert source.hmac_secret == hmac_secret
    assert source.outbound_secret == outbound
    page = response.content.decode()
    assert f"/hooks/{source.public_id}/{secret}/" in page
    assert "X-Vigil-Signature: t=$t,v1=$sig" in page  # the signed curl example
    assert "webhook_configs" not in page  # Alertmanager's snippet is for Alertmanager only
    detail = client.get(url("source_detail", pk=source.pk)).content.decode()
    for value in (secret, hmac_secret, outbound):
        assert value not in detail


def test_bad_source_input_is_refused_with_the_input_kept(acme, globex, acme_admin, login):
    foreign = service(globex, "Grid")
    make_source(acme, name="prod")
    client = login(acme_admin.user)
    response = client.post(
        url("source_create"),
        source_post(name="new", default_service=foreign.pk, rate_limit_per_minute="0"),
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "Select a valid choice" in page
    assert "At least 1 post per minute." in page
    assert 'value="new"' in page
    response = client.post(url("source_create"), source_post(name="PROD"))
    assert "There is already a source called “PROD”." in response.content.decode()
    with scopes_disabled():
        assert list(AlertSource.objects.values_list("name", flat=True)) == ["prod"]


# — editing, enabling ———————————————————————————————————————————————————————————————


def test_admin_edits_a_source_and_turning_hmac_on_shows_its_secret_once(acme, acme_admin, login):
    source = make_source(acme, name="prod")
    client = login(acme_admin.user)
    response = client.post(
        url("source_update", pk=source.pk),
        source_post(name="prod-eu", kind="generic", heartbeat_minutes="15"),
        follow=True,
    )
    assert response.redirect_chain == [(url("source_detail", pk=source.pk), 302)]
    source = fresh(source)
    assert (source.name, source.kind, source.heartbeat_minutes) == ("prod-eu", "alertmanager", 15)
    assert source.secret_hash == hash_secret(SECRET)  # editing keeps the secret
    response = client.post(
        url("source_update", pk=source.pk), source_post(name="prod-eu", use_hmac="on")
    )
    assert response["Cache-Control"] == "no-store"
    assert shown(response, "hmac-secret") == fresh(source).hmac_secret != ""
    assert shown(response, "secret") is None  # the bearer secret is not re-issued
    client.post(url("source_update", pk=source.pk), source_post(name="prod-eu"))
    assert fresh(source).hmac_secret == ""


def test_a_disabled_source_refuses_alerts_until_enabled_again(acme, acme_admin, login):
    source = make_source(acme)
    client = login(acme_admin.user)
    response = client.post(url("source_toggle", pk=source.pk), {"enabled": "0"}, follow=True)
    assert "disabled: its senders now get 404" in response.content.decode()
    client.logout()
    assert post(source, am_body(am_alert())).status_code == 404
    login(acme_admin.user).post(url("source_toggle", pk=source.pk), {"enabled": "1"})
    assert post(source, am_body(am_alert())).status_code == 202


# — rotation ————————————————————————————————————————————————————————————————————————


def test_rotation_with_an_overlap_keeps_the_old_secret_working_until_it_ends(
    acme, acme_admin, login
):
    source = make_source(acme)
    client = login(acme_admin.user)
    before = timezone.now()
    response = client.post(url("source_rotate", pk=source.pk), {"overlap": "3600"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    new = shown(response, "secret")
    assert new
    assert new != SECRET
    source = fresh(source)
    assert source.secret_hash == hash_secret(new)
    expires = source.previous_secret_expires_at
    assert before + dt.timedelta(hours=1) <= expires <= timezone.now() + dt.timedelta(hours=1)
    assert "keeps working until" in response.content.decode()
    client.logout()
    assert post(source, am_body(am_alert()), secret=SECRET).status_code == 202
    assert post(source, am_body(am_alert(fingerprint="fp-2")), secret=new).status_code == 202
    # An hour later:
    with scopes_disabled():
        AlertSource.objects.filter(pk=source.pk).update(
            previous_secret_expires_at=timezone.now() - dt.timedelta(seconds=1)
        )
    assert post(source, am_body(am_alert()), secret=SECRET).status_code == 401
    assert post(source, am_body(am_alert()), secret=new).status_code == 202
    with scopes_disabled():
        [entry] = [
            e for e in AuditEntry.objects.filter(object_pk=str(source.pk)) if "secret" in e.changes
        ]
    assert entry.changes["secret"][1] == "rotated (overlap: 1 hour)"
    assert entry.actor == acme_admin.user


def test_rotation_without_overlap_stops_every_old_secret_now(acme, acme_admin, login):
    source = make_source(acme)
    client = login(acme_admin.user)
    first = shown(client.post(url("source_rotate", pk=source.pk), {"overlap": "86400"}), "secret")
    second = shown(client.post(url("source_rotate", pk=source.pk), {"overlap": "0"}), "secret")
    client.logout()
    assert post(source, am_body(am_alert()), secret=SECRET).status_code == 401
    assert post(source, am_body(am_alert()), secret=first).status_code == 401
    assert post(source, am_body(am_alert()), secret=second).status_code == 202
    source = fresh(source)
    assert source.previous_secret_hash == ""
    assert source.previous_secret_expires_at is None


def test_rotation_refuses_an_overlap_that_is_not_offered(acme, acme_admin, login):
    source = make_source(acme)
    response = login(acme_admin.user).post(url("source_rotate", pk=source.pk), {"overlap": "60"})
    assert "Select a valid choice" in response.content.decode()
    assert fresh(source).secret_hash == hash_secret(SECRET)


# — send test alert ———————————————————————————————————————————————————————————————————


def test_send_test_alert_runs_the_real_pipeline_and_shows_what_happened(acme, acme_admin, login):
    source = make_source(acme, name="prod")
    response = login(acme_admin.user).post(url("source_test", pk=source.pk))
    assert response.status_code == 200
    with scopes_disabled():
        raw = RawPayload.objects.get(source=source)
        group = AlertGroup.objects.get(source=source)
        incident = Incident.objects.get(organization=acme)
        assert raw.status == "processed"
        assert group.labels["vigil_test"] == "true"
        assert group.incident == incident
        assert Alert.objects.get().incident_linked_at is not None
    assert incident.title == "Test alert from Vigil (prod)"
    assert incident.severity.level == 4
    outcome = shown(response, "test-outcome")
    page = response.content.decode()
    assert f">{incident.key}</a>" in page
    assert "1 new group" in page
    assert group.fingerprint in page
    assert outcome is not None or "Incident:" in page


@pytest.mark.parametrize(
    "kind", ["alertmanager", "grafana", "datadog", "pagerduty", "sentry", "splunk", "generic"]
)
def test_every_kind_has_a_sample_its_adapter_reads(kind):
    [alert] = normalize(kind, sample_payload(kind, fingerprint="fp-9", title="Test it"))
    assert alert.status == "firing"
    assert alert.title == "Test it"


def test_a_heartbeat_source_and_a_disabled_one_send_no_test_alert(acme, acme_admin, login):
    heartbeat = make_source(acme, kind="heartbeat", name="cron", heartbeat_minutes=5)
    disabled = make_source(acme, name="old", is_enabled=False)
    client = login(acme_admin.user)
    response = client.post(url("source_test", pk=heartbeat.pk), follow=True)
    assert "Heartbeat sources take pings, not alerts." in response.content.decode()
    response = client.post(url("source_test", pk=disabled.pk), follow=True)
    assert "The source is disabled: enable it first." in response.content.decode()
    with scopes_disabled():
        assert not RawPayload.objects.exists()


# — the health page ———————————————————————————————————————————————————————————————————


def _linked_alerts(source, lags_seconds, *, hours_ago=1):
    """Post one alert per lag through the hook, then set when each was received and linked."""
    for index, _ in enumerate(lags_seconds):
        body = am_body(am_alert(fingerprint=f"lat-{hours_ago}-{index}"))
        assert post(source, body).status_code == 202
    with scopes_disabled():
        alerts = Alert.objects.filter(
            source=source, fingerprint__startswith=f"lat-{hours_ago}-"
        ).order_by("fingerprint")
        base = timezone.now() - dt.timedelta(hours=hours_ago)
        for alert, lag in zip(alerts, lags_seconds, strict=True):
            Alert.objects.filter(pk=alert.pk).update(
                received_at=base, incident_linked_at=base + dt.timedelta(seconds=lag)
            )


def test_the_health_page_shows_latency_percentiles_over_the_last_24_hours(acme, make_member, login):
    source = make_source(acme)
    _linked_alerts(source, [10, 20, 30, 100])
    _linked_alerts(source, [5000], hours_ago=30)  # older than 24 h: not counted
    with scopes_disabled():  # an alert that opened nothing (recorded only): not counted
        CorrelationRule.objects.create(organization=acme, name="quiet", action="record")
    assert post(source, am_body(am_alert(fingerprint="unlinked"))).status_code == 202
    with scopes_disabled():
        health = selectors.source_health(
            organization=acme, source=source, user=None, membership=None
        )
    assert health.linked_24h == 4
    assert health.alerts_24h == 5
    assert health.latency_p50 == dt.timedelta(seconds=25)  # percentile_cont interpolates
    assert health.latency_p95 == dt.timedelta(seconds=89.5)
    viewer = make_member(acme, Role.VIEWER)
    page = login(viewer.user).get(url("source_detail", pk=source.pk))
    assert "p50 25 s · p95 1 min" in shown(page, "latency") or "p50 25 s · p95 1 min" in (
        page.content.decode()
    )
    assert "over 4 alerts" in page.content.decode()


def test_the_health_page_lists_rejections_groups_outbound_calls_and_the_heartbeat(
    acme, acme_admin, make_member, login
):
    source = make_source(acme, heartbeat_minutes=10, outbound_webhook_url="https://x.test/h")
    assert post(source, am_body(am_alert(name="DiskFull"))).status_code == 202
    assert post(source, {"alerts": [{"status": "maybe"}]}).status_code == 400
    assert post(source, am_body(am_alert()), secret="wrong").status_code == 401
    with scopes_disabled():
        incident = Incident.objects.get()
        OutboundCall.objects.create(
            organization=acme,
            source=source,
            incident=incident,
            kind=OutboundCall.Kind.WEBHOOK,
            idempotency_key="k-1",
            status=OutboundCall.Status.FAILED,
            attempts=6,
            last_error="HTTP 502 from https://x.test/h",
        )
        Incident.objects.filter(pk=incident.pk).update(is_restricted=True)
    viewer = make_member(acme, Role.VIEWER)
    page = login(viewer.user).get(url("source_detail", pk=source.pk)).content.decode()
    assert "DiskFull on checkout" in page
    assert html.escape('version: required ("4"') in page  # the adapter's error
    assert "2 refused posts since it was created" in page
    assert "1 unreadable in 24 h" in page
    assert "HTTP 502 from https://x.test/h" in page
    assert "State webhook" in page
    assert "1 call failed after every retry." in page
    assert incident.key not in page
    assert "restricted" in page
    assert "Next due by" in page
    assert "Overdue" not in page
    assert SECRET not in page
    assert "Edit" not in page
    assert "Send test alert" not in page
    # the admin sees the restricted incident's key, and the buttons
    with scopes_disabled():
        AlertSource.objects.filter(pk=source.pk).update(
            created_at=timezone.now() - dt.timedelta(hours=1)
        )
    login(acme_admin.user)
    page = login(acme_admin.user).get(url("source_detail", pk=source.pk)).content.decode()
    assert incident.key in page
    assert "Send test alert" in page
    assert "Rotate secret" in page
    assert "Overdue" in page


def _queries(client, path) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return len(queries)


def test_the_list_and_the_health_page_read_a_fixed_number_of_queries(
    acme, acme_admin, login, django_assert_max_num_queries
):
    first = make_source(acme, name="a")
    post(first, am_body(am_alert()))
    client = login(acme_admin.user)
    few_list = _queries(client, url("source_list"))
    few_detail = _queries(client, url("source_detail", pk=first.pk))
    client.logout()
    for number in range(4):
        other = make_source(acme, name=f"more-{number}")
        post(other, am_body(*[am_alert(fingerprint=f"{number}-{i}") for i in range(5)]))
    post(first, am_body(*[am_alert(fingerprint=f"x-{i}") for i in range(8)]))
    post(first, {"bad": True})
    with scopes_disabled():
        for index, incident in enumerate(Incident.objects.all()):
            OutboundCall.objects.create(
                organization=acme,
                source=first,
                incident=incident,
                kind="webhook",
                idempotency_key=f"k{index}",
            )
    client = login(acme_admin.user)
    assert _queries(client, url("source_list")) == few_list
    assert _queries(client, url("source_detail", pk=first.pk)) == few_detail
    with django_assert_max_num_queries(15):
        client.get(url("source_detail", pk=first.pk))
    with django_assert_max_num_queries(10):
        client.get(url("source_list"))


# — correlation rules —————————————————————————————————————————————————————————————————


def rule_post(**overrides):
    data = {
        "name": "Database noise",
        "position": "10",
        "is_active": "on",
        "source": "",
        "match_labels": '{"team": "db"}',
        "match_text": "",
        "action": "create",
        "set_severity": "",
        "set_category": "",
        "set_service": "",
        "set_team": "",
        "threshold_count": "3",
        "threshold_window_minutes": "10",
        "min_firing_seconds": "0",
    }
    return {**data, **overrides}


def test_admin_creates_edits_and_deletes_a_rule_and_everyone_reads_them(
    acme, acme_admin, make_member, login, client
):
    admin = login(acme_admin.user)
    response = admin.post(url("rule_create"), rule_post(), follow=True)
    assert response.redirect_chain == [(url("rule_list"), 302)]
    with scopes_disabled():
        rule = CorrelationRule.objects.get()
    assert rule.match_labels == {"team": "db"}
    assert rule.threshold_count == 3
    admin.post(url("rule_update", pk=rule.pk), rule_post(name="DB", action="record"))
    with scopes_disabled():
        rule.refresh_from_db()
    assert (rule.name, rule.action) == ("DB", "record")
    client.logout()
    viewer = make_member(acme, Role.VIEWER)
    page = login(viewer.user).get(url("rule_list")).content.decode()
    assert "DB" in page
    assert "team=db" in page
    assert "Record only" in page
    assert "New rule" not in page
    client.logout()
    login(acme_admin.user).post(url("rule_delete", pk=rule.pk))
    with scopes_disabled():
        assert not CorrelationRule.objects.exists()


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ('{"team": "db"', "This is not valid JSON"),
        ('["team", "db"]', "Labels are a JSON object"),
        ('{"retries": 3}', "Label values must be strings"),
    ],
)
def test_bad_label_json_is_explained_and_nothing_is_saved(acme, acme_admin, login, labels, message):
    client = login(acme_admin.user)
    for extra in ({}, {"_try": "1"}):
        response = client.post(url("rule_create"), rule_post(match_labels=labels, **extra))
        assert response.status_code == 200
        assert message in response.content.decode()
    with scopes_disabled():
        assert not CorrelationRule.objects.exists()


def test_a_rule_cannot_point_at_another_organisations_rows(acme, globex, acme_admin, login):
    foreign_source = make_source(globex, name="theirs")
    foreign_service = service(globex, "Grid")
    response = login(acme_admin.user).post(
        url("rule_create"),
        rule_post(source=foreign_source.pk, set_service=foreign_service.pk),
    )
    assert response.content.decode().count("Select a valid choice") == 2
    with scopes_disabled():
        assert not CorrelationRule.objects.exists()


def _history(acme):
    """A week of alerts posted through the hook, then spread over time:
    db-a: 4 alerts within 6 minutes (team db)      → matches, passes "3 in 10 min"
    db-b: 2 alerts 20 minutes apart (team db)      → matches, held back by the threshold
    db-c: 3 alerts within 2 minutes, 3 days ago    → matches, passes
    web:  3 alerts (team web)                      → does not match
    old:  3 alerts (team db) 8 days ago            → outside the 7 days
    """
    source = make_source(acme, name="prom")
    now = timezone.now()
    plan = {
        "db-a": ("db", [now - dt.timedelta(minutes=m) for m in (30, 28, 26, 24)]),
        "db-b": ("db", [now - dt.timedelta(minutes=m) for m in (60, 40)]),
        "db-c": ("db", [now - dt.timedelta(days=3, minutes=m) for m in (3, 2, 1)]),
        "web": ("web", [now - dt.timedelta(minutes=m) for m in (9, 8, 7)]),
        "old": ("db", [now - dt.timedelta(days=8, minutes=m) for m in (3, 2, 1)]),
    }
    for fingerprint, (team, times) in plan.items():
        for _ in times:
            alert = am_alert(name=f"Alert {fingerprint}", fingerprint=fingerprint, team=team)
            assert post(source, am_body(alert)).status_code == 202
    with scopes_disabled():
        for fingerprint, (_, times) in plan.items():
            pks = Alert.objects.filter(fingerprint=fingerprint).order_by("pk")
            for alert, when in zip(pks, times, strict=True):
                Alert.objects.filter(pk=alert.pk).update(received_at=when)
    return source


def test_try_this_rule_replays_the_last_seven_days_without_saving(acme, acme_admin, login):
    client = login(acme_admin.user)
    with CaptureQueriesContext(connection) as empty:
        client.post(url("rule_create"), rule_post(_try="1"))
    client.logout()
    _history(acme)
    client = login(acme_admin.user)
    with CaptureQueriesContext(connection) as full:
        response = client.post(url("rule_create"), rule_post(_try="1"))
    assert len(full) == len(empty)  # constant: one read of the alerts, one of the rules
    assert response.status_code == 200
    result = " ".join(response.content.decode().split('data-testid="try-result"')[1].split())
    assert (
        "This rule would have matched <strong>9 alerts</strong> in <strong>3 groups</strong>"
        " and, with its gates, created <strong>2 incidents</strong>" in result
    )
    assert "1 group stopped by the threshold" in result
    assert "HighErrorRate" not in result
    assert "Alert db-a on checkout" in result
    assert 'value="Database noise"' in response.content.decode()  # the input is kept
    with scopes_disabled():
        assert not CorrelationRule.objects.exists()


def test_trying_counts_earlier_rules_minimum_firing_time_and_record_only(acme):
    source = _history(acme)
    with scopes_disabled():
        earlier = CorrelationRule.objects.create(
            organization=acme,
            name="Web first",
            position=1,
            match_labels={"alertname": "Alert db-c"},
        )
        tried = CorrelationRule(
            organization=acme,
            name="t",
            position=10,
            match_labels={"team": "db"},
            threshold_count=1,
            min_firing_seconds=600,
        )
        result = selectors.try_rule(organization=acme, rule=tried)
        assert (result.matched_groups, result.matched_alerts) == (3, 9)
        assert result.taken_earlier == 1
        assert result.earlier_rules == ["Web first"]
        # db-a has fired 30 min and db-b 60 min (still firing): both pass 10 minutes.
        assert result.incidents == 2
        # db-a resolves 7 minutes after its first alert: too soon.
        first = Alert.objects.filter(fingerprint="db-a").order_by("received_at").first()
        resolve = am_alert(name="Alert db-a", fingerprint="db-a", status="resolved", team="db")
    assert post(source, am_body(resolve, status="resolved")).status_code == 202
    with scopes_disabled():
        Alert.objects.filter(fingerprint="db-a", status="resolved").update(
            received_at=first.received_at + dt.timedelta(minutes=7)
        )
        result = selectors.try_rule(organization=acme, rule=tried)
        assert (result.incidents, result.held_back) == (1, 1)
        tried.action = CorrelationRule.Action.RECORD
        assert selectors.try_rule(organization=acme, rule=tried).incidents == 0
        earlier.delete()
        tried.source_id = make_source(acme, name="other").pk
        assert selectors.try_rule(organization=acme, rule=tried).matched_groups == 0


def test_try_is_bounded(acme):
    _history(acme)
    with scopes_disabled():
        rule = CorrelationRule(organization=acme, name="all", match_labels={})
        result = selectors.try_rule(organization=acme, rule=rule, limit=5)
    assert result.truncated
    assert result.scanned == 5


# — maintenance windows ———————————————————————————————————————————————————————————————


def window_post(**overrides):
    data = {
        "name": "DB upgrade",
        "starts_at": "2030-03-01T02:00",
        "ends_at": "2030-03-01T04:00",
        "recurrence": "none",
        "service": "",
        "match_labels": "",
        "is_active": "on",
    }
    return {**data, **overrides}


def test_admin_plans_a_window_in_the_organisations_time_zone(acme, acme_admin, login):
    checkout = service(acme)
    client = login(acme_admin.user)
    response = client.post(
        url("window_create"),
        window_post(service=checkout.pk, match_labels='{"env": "prod"}'),
        follow=True,
    )
    assert response.redirect_chain == [(url("window_list"), 302)]
    with scopes_disabled():
        window = MaintenanceWindow.objects.get()
    # Europe/Berlin in March is UTC+1.
    assert window.starts_at == dt.datetime(2030, 3, 1, 1, 0, tzinfo=dt.UTC)
    assert window.service == checkout
    assert window.match_labels == {"env": "prod"}
    page = client.get(url("window_update", pk=window.pk)).content.decode()
    assert 'value="2030-03-01T02:00"' in page
    assert "(Europe/Berlin)" in page


def test_windows_are_listed_as_active_upcoming_and_past(acme, make_member, login):
    now = timezone.now()
    with scopes_disabled():
        for name, start, end, recurrence in [
            ("Now", now - dt.timedelta(hours=1), now + dt.timedelta(hours=1), "none"),
            ("Later", now + dt.timedelta(days=2), now + dt.timedelta(days=2, hours=1), "none"),
            ("Done", now - dt.timedelta(days=2), now - dt.timedelta(days=1), "none"),
            (
                "Nightly",
                now - dt.timedelta(days=9, hours=3),
                now - dt.timedelta(days=9, hours=2),
                "daily",
            ),
        ]:
            MaintenanceWindow.objects.create(
                organization=acme, name=name, starts_at=start, ends_at=end, recurrence=recurrence
            )
    viewer = make_member(acme, Role.VIEWER)
    page = login(viewer.user).get(url("window_list")).content.decode()
    active = page.split('id="active-title"')[1].split('id="upcoming-title"')[0]
    upcoming = page.split('id="upcoming-title"')[1].split('id="past-title"')[0]
    past = page.split('id="past-title"')[1]
    assert "Now" in active
    assert "Later" not in active
    assert "Later" in upcoming
    assert "Nightly" in upcoming
    assert "Done" in past
    assert "New window" not in page


def test_a_window_must_end_after_it_starts_and_use_own_services(acme, globex, acme_admin, login):
    client = login(acme_admin.user)
    response = client.post(url("window_create"), window_post(ends_at="2030-03-01T01:00"))
    assert "The window must end after it starts." in response.content.decode()
    response = client.post(url("window_create"), window_post(service=service(globex, "Grid").pk))
    assert "Select a valid choice" in response.content.decode()
    response = client.post(
        url("window_create"),
        window_post(recurrence="daily", ends_at="2030-03-02T03:00"),
    )
    assert "must be shorter" in response.content.decode()
    with scopes_disabled():
        assert not MaintenanceWindow.objects.exists()


def test_admin_deletes_a_window(acme, acme_admin, login):
    with scopes_disabled():
        window = MaintenanceWindow.objects.create(
            organization=acme,
            name="x",
            starts_at=timezone.now(),
            ends_at=timezone.now() + dt.timedelta(hours=1),
        )
    login(acme_admin.user).post(url("window_delete", pk=window.pk))
    with scopes_disabled():
        assert not MaintenanceWindow.objects.exists()


# — permissions and tenancy ————————————————————————————————————————————————————————————


def _rows(acme):
    source = make_source(acme, name="prod")
    with scopes_disabled():
        rule = CorrelationRule.objects.create(organization=acme, name="r", match_text="disk")
        window = MaintenanceWindow.objects.create(
            organization=acme,
            name="w",
            starts_at=timezone.now(),
            ends_at=timezone.now() + dt.timedelta(hours=1),
        )
    return source, rule, window


def _state(acme):
    with scopes_disabled():
        return (
            list(AlertSource.objects.values()),
            list(CorrelationRule.objects.values()),
            list(MaintenanceWindow.objects.values()),
            RawPayload.objects.count(),
        )


@pytest.mark.parametrize("role", NON_ADMIN_ROLES)
def test_non_admins_read_everything_and_change_nothing(acme, make_member, login, role):
    source, rule, window = _rows(acme)
    before = _state(acme)
    client = login(make_member(acme, role).user)
    for name, kwargs in [
        ("source_list", {}),
        ("source_detail", {"pk": source.pk}),
        ("rule_list", {}),
        ("window_list", {}),
    ]:
        assert client.get(url(name, **kwargs)).status_code == 200, name
    writes = [
        ("source_create", {}, source_post(name="mine")),
        ("source_update", {"pk": source.pk}, source_post(name="mine")),
        ("source_toggle", {"pk": source.pk}, {"enabled": "0"}),
        ("source_rotate", {"pk": source.pk}, {"overlap": "0"}),
        ("source_test", {"pk": source.pk}, {}),
        ("rule_create", {}, rule_post()),
        ("rule_update", {"pk": rule.pk}, rule_post()),
        ("rule_delete", {"pk": rule.pk}, {}),
        ("window_create", {}, window_post()),
        ("window_update", {"pk": window.pk}, window_post()),
        ("window_delete", {"pk": window.pk}, {}),
    ]
    for name, kwargs, data in writes:
        assert client.post(url(name, **kwargs), data).status_code == 403, name
    for name in ("source_create", "source_update", "source_rotate", "rule_update"):
        kwargs = {} if name == "source_create" else {"pk": rule.pk if "rule" in name else source.pk}
        assert client.get(url(name, **kwargs)).status_code == 403, name
    assert _state(acme) == before


def test_another_organisations_admin_gets_404_for_every_page_and_pk(
    acme, globex, globex_admin, login
):
    source, rule, window = _rows(acme)
    before = _state(acme)
    client = login(globex_admin.user)
    pages = [
        ("source_list", {}),
        ("source_create", {}),
        ("source_detail", {"pk": source.pk}),
        ("source_update", {"pk": source.pk}),
        ("source_toggle", {"pk": source.pk}),
        ("source_rotate", {"pk": source.pk}),
        ("source_test", {"pk": source.pk}),
        ("rule_list", {}),
        ("rule_create", {}),
        ("rule_update", {"pk": rule.pk}),
        ("rule_delete", {"pk": rule.pk}),
        ("window_list", {}),
        ("window_create", {}),
        ("window_update", {"pk": window.pk}),
        ("window_delete", {"pk": window.pk}),
    ]
    for name, kwargs in pages:
        for method in (client.get, client.post):
            response = method(url(name, **kwargs))
            assert response.status_code == 404, name
            assert b"Acme" not in response.content
    # …and in its own organisation, acme's pks are not found either.
    for name, pk in [
        ("source_detail", source.pk),
        ("source_update", source.pk),
        ("source_rotate", source.pk),
        ("source_test", source.pk),
        ("source_toggle", source.pk),
        ("rule_update", rule.pk),
        ("rule_delete", rule.pk),
        ("window_update", window.pk),
        ("window_delete", window.pk),
    ]:
        path = reverse(f"integrations:{name}", kwargs={"org_slug": "globex", "pk": pk})
        assert client.post(path, {"enabled": "0", "overlap": "0"}).status_code == 404, name
        assert client.get(path).status_code in (404, 405), name
    assert _state(acme) == before


def test_the_generic_contract_on_the_page_is_the_adapters_docstring(acme, acme_admin, login):
    response = login(acme_admin.user).post(url("source_create"), source_post(kind="generic"))
    page = response.content.decode()
    assert "A resolve needs nothing but the two required fields." in page
    curl = re.search(r"--data '(\{.*?\n\})'", html.unescape(page), re.S)
    body = json.loads(curl.group(1))
    assert body["status"] == "firing"
    assert "dedup_key" in body
