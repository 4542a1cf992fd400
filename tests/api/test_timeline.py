"""GET /incidents/<key>/timeline/, GET|POST /incidents/<key>/comments/, GET|POST
/incidents/<key>/status-updates/: every role of acme, another tenant, restricted incidents,
masking, validation, read-only tokens, pagination."""

import datetime

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from compliance import unmask
from incidents import coordination, services
from incidents.models import StatusUpdate, StatusUpdateTemplate, TimelineEvent
from tenancy.roles import Role
from tenancy.scoping import org_scope
from tests.api.resources_support import EMAIL, MASKED, ROLES, page
from tests.incidents.factories import declare, severity

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_broker")]


@pytest.fixture
def incident(acme, people):
    incident = declare(acme, people[Role.RESPONDER].user, title="Checkout fails")
    with org_scope(acme):
        services.incident_comment(
            incident=incident, actor=people[Role.RESPONDER].user, text=f"Customer {EMAIL} called"
        )
    return incident


@pytest.fixture
def secret(acme, people):
    """A restricted incident: only admins and people granted access see it."""
    return declare(acme, people[Role.ADMIN].user, title="Card data exposure", is_restricted=True)


def events(incident, kind=None):
    with scopes_disabled():
        rows = TimelineEvent.objects.filter(incident=incident)
        if kind:
            rows = rows.filter(kind=kind)
        return list(rows.values_list("message", flat=True))


def updates(incident):
    with scopes_disabled():
        return StatusUpdate.objects.filter(incident=incident).count()


# — timeline ——————————————————————————————————————————————————————————————————————————


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_the_timeline_newest_first_with_personal_data_masked(
    as_role, incident, role
):
    rows = page(as_role(role).get(f"/api/v1/incidents/{incident.key}/timeline/"))

    assert [row["kind"] for row in rows] == ["comment", "created"]
    assert rows[0]["message"] == f"Customer {MASKED} called"
    assert rows[0]["actor"] == "responder@acme.test"
    assert EMAIL not in str(rows)


def test_a_reader_who_revealed_the_incident_sees_it_unmasked(as_role, people, incident):
    with org_scope(incident.organization):
        unmask.incident_unmask(incident=incident, actor=people[Role.COMPLIANCE].user, reason="x")

    revealed = page(as_role(Role.COMPLIANCE).get(f"/api/v1/incidents/{incident.key}/timeline/"))
    other = page(as_role(Role.MANAGER).get(f"/api/v1/incidents/{incident.key}/timeline/"))

    assert revealed[0]["message"] == f"Customer {EMAIL} called"
    assert other[0]["message"] == f"Customer {MASKED} called"


@pytest.mark.parametrize("path", ["timeline", "comments", "status-updates"], ids=lambda path: path)
def test_another_organisation_gets_404_for_every_incident_resource(as_role, incident, path):
    response = as_role("globex").get(f"/api/v1/incidents/{incident.key}/{path}/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("path", ["timeline", "comments", "status-updates"])
def test_a_restricted_incident_is_404_until_granted(as_role, people, secret, path):
    url = f"/api/v1/incidents/{secret.key}/{path}/"
    assert as_role(Role.MANAGER).get(url).status_code == 404
    assert as_role(Role.ADMIN).get(url).status_code == 200

    with org_scope(secret.organization):
        services.incident_grant_access(
            incident=secret, actor=people[Role.ADMIN].user, user=people[Role.MANAGER].user
        )

    assert as_role(Role.MANAGER).get(url).status_code == 200


def test_the_kind_filter_narrows_and_an_unknown_kind_is_a_400(as_role, incident):
    url = f"/api/v1/incidents/{incident.key}/timeline/"
    rows = page(as_role(Role.VIEWER).get(url, {"kind": "created"}))
    bad = as_role(Role.VIEWER).get(url, {"kind": "nonsense"})

    assert [row["kind"] for row in rows] == ["created"]
    assert bad.status_code == 400
    assert "kind" in bad.json()["fields"]


def test_the_timeline_is_cursor_paginated_without_gaps_or_repeats(as_role, people, incident):
    with org_scope(incident.organization):
        for number in range(5):
            services.incident_comment(
                incident=incident, actor=people[Role.RESPONDER].user, text=f"note {number}"
            )
    client = as_role(Role.VIEWER)
    seen, url = [], f"/api/v1/incidents/{incident.key}/timeline/?page_size=3"
    while url:
        body = client.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]

    assert len(seen) == 7
    assert seen == sorted(seen, reverse=True)  # newest first; ids grow with time here


# — comments ——————————————————————————————————————————————————————————————————————————


def test_comments_lists_only_comment_events(as_role, incident):
    rows = page(as_role(Role.VIEWER).get(f"/api/v1/incidents/{incident.key}/comments/"))

    assert [row["kind"] for row in rows] == ["comment"]


@pytest.mark.parametrize("role", [Role.RESPONDER, Role.MANAGER, Role.ADMIN])
def test_roles_that_may_comment_add_one_to_the_timeline(as_role, incident, role):
    response = as_role(role).post(
        f"/api/v1/incidents/{incident.key}/comments/", {"text": "  Rolled back  "}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["message"] == "Rolled back"
    assert response.json()["actor"] == f"{role}@acme.test"
    assert events(incident, "comment")[0] == "Rolled back"


@pytest.mark.parametrize("role", [Role.VIEWER, Role.COMPLIANCE])
def test_roles_without_comment_incidents_are_refused_and_nothing_is_added(as_role, incident, role):
    before = events(incident)
    response = as_role(role).post(
        f"/api/v1/incidents/{incident.key}/comments/", {"text": "hello"}, format="json"
    )

    assert response.status_code == 403
    assert events(incident) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "text"),
        ({"text": ""}, "text"),
        ({"text": "   "}, "text"),
        ({"text": "x" * 10_001}, "text"),
        ({"text": ["a list"]}, "text"),
        ({"text": None}, "text"),
    ],
    ids=["missing", "empty", "blank", "too-long", "list", "null"],
)
def test_a_bad_comment_is_a_400_naming_the_field_and_changes_nothing(
    as_role, incident, body, field
):
    before = events(incident)
    response = as_role(Role.RESPONDER).post(
        f"/api/v1/incidents/{incident.key}/comments/", body, format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["fields"]
    assert events(incident) == before


def test_a_body_that_is_not_an_object_is_refused(as_role, incident):
    before = events(incident)
    response = as_role(Role.RESPONDER).post(
        f"/api/v1/incidents/{incident.key}/comments/", ["text"], format="json"
    )

    assert response.status_code == 400
    assert events(incident) == before


def test_a_read_token_may_not_comment(as_role, incident):
    before = events(incident)
    response = as_role(Role.RESPONDER, scope="read").post(
        f"/api/v1/incidents/{incident.key}/comments/", {"text": "hi"}, format="json"
    )

    assert response.status_code == 403
    assert events(incident) == before


def test_commenting_on_a_restricted_incident_without_access_is_404(as_role, secret):
    before = events(secret)
    response = as_role(Role.RESPONDER).post(
        f"/api/v1/incidents/{secret.key}/comments/", {"text": "hi"}, format="json"
    )

    assert response.status_code == 404
    assert events(secret) == before


def test_another_organisation_may_not_comment(as_role, incident):
    before = events(incident)
    response = as_role("globex").post(
        f"/api/v1/incidents/{incident.key}/comments/", {"text": "hi"}, format="json"
    )

    assert response.status_code == 404
    assert events(incident) == before


# — status updates ————————————————————————————————————————————————————————————————————


@pytest.fixture
def cadence(acme, people):
    """SEV-3 needs an update at least every 30 minutes."""
    coordination.cadence_save(
        organization=acme,
        actor=people[Role.ADMIN].user,
        minutes={severity(acme, "SEV-3").pk: 30},
    )


def test_a_responder_posts_a_status_update_through_the_service(as_role, incident, cadence):
    response = as_role(Role.RESPONDER).post(
        f"/api/v1/incidents/{incident.key}/status-updates/",
        {"current_status": "Rolling back", "impact": f"Ask {EMAIL}"},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["current_status"] == "Rolling back"
    assert body["impact"] == f"Ask {MASKED}"
    assert body["severity"] == "SEV-3"
    next_at = datetime.datetime.fromisoformat(body["next_update_at"])
    assert next_at - timezone.now() <= datetime.timedelta(minutes=30)
    assert updates(incident) == 1
    assert events(incident, "status_update")[0].startswith("Rolling back")


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_status_updates_masked(as_role, people, incident, role):
    with org_scope(incident.organization):
        coordination.status_update_post(
            incident=incident,
            actor=people[Role.RESPONDER].user,
            current_status=f"Mail {EMAIL}",
        )

    rows = page(as_role(role).get(f"/api/v1/incidents/{incident.key}/status-updates/"))

    assert [row["current_status"] for row in rows] == [f"Mail {MASKED}"]
    assert rows[0]["author"] == "responder@acme.test"


@pytest.mark.parametrize("role", [Role.VIEWER, Role.COMPLIANCE])
def test_roles_without_update_incidents_may_not_post_a_status_update(as_role, incident, role):
    response = as_role(role).post(
        f"/api/v1/incidents/{incident.key}/status-updates/",
        {"current_status": "ok"},
        format="json",
    )

    assert response.status_code == 403
    assert updates(incident) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "current_status"),
        ({"current_status": "  "}, "current_status"),
        ({"current_status": "x" * 5001}, "current_status"),
        ({"current_status": "ok", "impact": "x" * 5001}, "impact"),
        ({"current_status": "ok", "next_update_at": "tomorrow-ish"}, "next_update_at"),
        ({"current_status": "ok", "next_update_at": "2001-01-01T00:00:00Z"}, "next_update_at"),
        ({"current_status": "ok", "template": "x"}, "template"),
        ({"current_status": "ok", "template": 999999}, "template"),
    ],
    ids=["missing", "blank", "too-long", "impact-too-long", "bad-time", "past", "bad-id", "no-id"],
)
def test_a_bad_status_update_is_a_400_naming_the_field_and_changes_nothing(
    as_role, incident, body, field
):
    response = as_role(Role.RESPONDER).post(
        f"/api/v1/incidents/{incident.key}/status-updates/", body, format="json"
    )

    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    assert updates(incident) == 0


def test_the_cadence_bounds_the_next_update_time(as_role, incident, cadence):
    too_late = (timezone.now() + datetime.timedelta(hours=2)).isoformat()
    response = as_role(Role.RESPONDER).post(
        f"/api/v1/incidents/{incident.key}/status-updates/",
        {"current_status": "ok", "next_update_at": too_late},
        format="json",
    )

    assert response.status_code == 400
    assert "30 min" in response.json()["fields"]["next_update_at"][0]
    assert updates(incident) == 0


def test_a_template_fills_what_the_request_leaves_out(acme, as_role, incident, cadence):
    with scopes_disabled():
        template = StatusUpdateTemplate.objects.create(
            organization=acme, name="API check", current_status="Looking at {key}",
            impact="Customers of {severity}",
        )  # fmt: skip

    response = as_role(Role.RESPONDER).post(
        f"/api/v1/incidents/{incident.key}/status-updates/",
        {"template": template.pk, "impact": "None"},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["current_status"] == f"Looking at {incident.key}"
    assert body["impact"] == "None"
    assert body["template"] == template.pk


def test_another_organisations_template_is_refused(globex, as_role, incident):
    with scopes_disabled():
        template = StatusUpdateTemplate.objects.create(
            organization=globex, name="Theirs", current_status="x"
        )

    response = as_role(Role.RESPONDER).post(
        f"/api/v1/incidents/{incident.key}/status-updates/",
        {"template": template.pk},
        format="json",
    )

    assert response.status_code == 400
    assert "template" in response.json()["fields"]
    assert updates(incident) == 0


def test_a_read_token_may_not_post_a_status_update(as_role, incident):
    response = as_role(Role.RESPONDER, scope="read").post(
        f"/api/v1/incidents/{incident.key}/status-updates/",
        {"current_status": "ok"},
        format="json",
    )

    assert response.status_code == 403
    assert updates(incident) == 0
