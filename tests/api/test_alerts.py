"""GET /alerts/, /alerts/<id>/, /alert-groups/, /alert-groups/<id>/: every role reads them
(view_alerts), another tenant gets 404 and sees none of acme's, an incident the reader may not
open is not named, sender text is masked, filters are checked, pages follow the cursor."""

import datetime

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from incidents import services
from integrations.models import Alert, AlertGroup, AlertSource, RawPayload
from tenancy.roles import Role
from tenancy.scoping import org_scope
from tests.api.resources_support import EMAIL, MASKED, ROLES, page
from tests.incidents.factories import declare

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_broker")]

NOW = timezone.now()


def make_source(org, name="Prometheus"):
    return AlertSource.objects.create(
        organization=org, name=name, kind="alertmanager", secret_hash="0" * 64
    )


def make_alert(source, *, incident=None, title="CPU high", status="firing", ago=0, **fields):
    """A group and one alert in it, received `ago` minutes ago."""
    when = NOW - datetime.timedelta(minutes=ago)
    raw = RawPayload.objects.create(organization=source.organization, source=source, body="{}")
    group = AlertGroup.objects.create(
        organization=source.organization, source=source, fingerprint=f"fp-{title}-{ago}",
        status=status, title=title, first_seen=when, last_seen=when, incident=incident,
    )  # fmt: skip
    alert = Alert.objects.create(
        organization=source.organization, source=source, raw=raw, group=group,
        fingerprint=group.fingerprint, status=status, title=title, received_at=when,
        labels={"instance": "db-1"}, **fields,
    )  # fmt: skip
    return group, alert


@pytest.fixture
def source(acme):
    return make_source(acme)


@pytest.fixture
def incident(acme, people):
    return declare(acme, people[Role.RESPONDER].user, title="Database down")


@pytest.fixture
def secret(acme, people):
    return declare(acme, people[Role.ADMIN].user, title="Breach", is_restricted=True)


@pytest.mark.parametrize("role", ROLES)
def test_every_role_lists_alerts_and_groups_with_their_incident(as_role, source, incident, role):
    annotations = {"summary": f"call {EMAIL}", "runbook": "r1"}
    group, alert = make_alert(
        source, incident=incident, description=f"Page {EMAIL}", annotations=annotations
    )
    client = as_role(role)

    groups = page(client.get("/api/v1/alert-groups/"))
    alerts = page(client.get("/api/v1/alerts/"))

    assert [(g["id"], g["incident"], g["incident_restricted"]) for g in groups] == [
        (group.pk, incident.key, False)
    ]
    assert alerts[0]["id"] == alert.pk
    assert alerts[0]["incident"] == incident.key
    assert alerts[0]["group"] == group.pk
    assert alerts[0]["source_name"] == "Prometheus"
    assert alerts[0]["description"] == f"Page {MASKED}"
    assert alerts[0]["annotations"] == {"summary": f"call {MASKED}", "runbook": "r1"}
    assert EMAIL not in str(alerts)


def test_one_alert_and_one_group_by_id(as_role, source):
    group, alert = make_alert(source)
    client = as_role(Role.VIEWER)

    assert client.get(f"/api/v1/alerts/{alert.pk}/").json()["title"] == "CPU high"
    assert client.get(f"/api/v1/alert-groups/{group.pk}/").json()["count"] == 1
    assert client.get("/api/v1/alerts/999999999/").status_code == 404


def test_a_restricted_incident_is_not_named_to_a_reader_without_access(
    as_role, people, source, secret
):
    group, alert = make_alert(source, incident=secret)

    hidden = as_role(Role.MANAGER).get(f"/api/v1/alert-groups/{group.pk}/").json()
    hidden_alert = as_role(Role.MANAGER).get(f"/api/v1/alerts/{alert.pk}/").json()
    admin = as_role(Role.ADMIN).get(f"/api/v1/alert-groups/{group.pk}/").json()
    with org_scope(secret.organization):
        services.incident_grant_access(
            incident=secret, actor=people[Role.ADMIN].user, user=people[Role.MANAGER].user
        )
    granted = as_role(Role.MANAGER).get(f"/api/v1/alert-groups/{group.pk}/").json()

    assert (hidden["incident"], hidden["incident_restricted"]) == (None, True)
    assert (hidden_alert["incident"], hidden_alert["incident_restricted"]) == (None, True)
    assert secret.key not in str(hidden) + str(hidden_alert)
    assert admin["incident"] == secret.key
    assert granted["incident"] == secret.key


def test_another_organisation_sees_none_of_acmes_alerts(as_role, globex, source):
    group, alert = make_alert(source)
    theirs, _ = make_alert(make_source(globex, "Theirs"), title="Their alert")
    client = as_role("globex")

    assert [g["id"] for g in page(client.get("/api/v1/alert-groups/"))] == [theirs.pk]
    assert client.get(f"/api/v1/alert-groups/{group.pk}/").status_code == 404
    assert client.get(f"/api/v1/alerts/{alert.pk}/").status_code == 404


def test_filters_by_status_source_and_time(as_role, acme, source):
    old, _ = make_alert(source, title="old", status="resolved", ago=120)
    new, _ = make_alert(source, title="new", ago=5)
    other, _ = make_alert(make_source(acme, "Grafana"), title="other", ago=1)
    client = as_role(Role.VIEWER)

    def ids(**params):
        return [g["id"] for g in page(client.get("/api/v1/alert-groups/", params))]

    since = (NOW - datetime.timedelta(minutes=60)).isoformat()
    assert ids() == [other.pk, new.pk, old.pk]
    assert ids(status="resolved") == [old.pk]
    assert ids(source=source.pk) == [new.pk, old.pk]
    assert ids(since=since) == [other.pk, new.pk]
    assert ids(until=since) == [old.pk]
    assert [a["title"] for a in page(client.get("/api/v1/alerts/", {"status": "firing"}))] == [
        "other",
        "new",
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "burning"}, "status"),
        ({"source": "abc"}, "source"),
        ({"source": "-1"}, "source"),
        ({"source": "9" * 30}, "source"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "until"),
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/alerts/", "/api/v1/alert-groups/"])
def test_bad_filters_are_a_400_naming_the_parameter(as_role, source, path, params, field):
    response = as_role(Role.VIEWER).get(path, params)

    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_alerts_are_cursor_paginated(as_role, source):
    for minute in range(5):
        make_alert(source, title=f"a{minute}", ago=minute)
    client = as_role(Role.VIEWER)
    seen, url = [], "/api/v1/alerts/?page_size=2"
    while url:
        body = client.get(url).json()
        seen += [row["title"] for row in body["results"]]
        url = body["next"]

    assert seen == ["a0", "a1", "a2", "a3", "a4"]


def test_alerts_are_read_only(as_role, source):
    group, alert = make_alert(source)

    response = as_role(Role.ADMIN).delete(f"/api/v1/alerts/{alert.pk}/")

    assert response.status_code == 405
    with scopes_disabled():
        assert Alert.objects.filter(pk=alert.pk).exists()
