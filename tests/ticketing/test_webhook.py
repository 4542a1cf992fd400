"""The trackers' webhook back into Vigil: secret, shapes, link, comments once, no echo."""

import json

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from incidents.models import TimelineEvent
from integrations.ticketing import inbound
from integrations.ticketing.models import TicketComment, TicketLink
from tests.incidents.factories import declare, transition
from tests.ticketing.conftest import (
    SNOW_USER,
    calls,
    jira_fields,
    make_integration,
    send_all,
    servicenow_fields,
)

pytestmark = pytest.mark.django_db


def jira_comment(key="OPS-1", comment_id="20001", body="Looking at the DB now.", **extra):
    return {
        "timestamp": 1516745644071,
        "webhookEvent": "comment_created",
        "comment": {
            "self": f"https://example.atlassian.net/rest/api/2/issue/10001/comment/{comment_id}",
            "id": comment_id,
            "author": {"name": "alex", "displayName": "Alex Doe", "accountId": "557058:93f7"},
            "body": body,
            "created": "2026-11-27T10:00:00.000+0000",
        },
        "issue": {
            "id": "10001",
            "key": key,
            "self": "https://example.atlassian.net/rest/api/2/issue/10001",
            "fields": {"summary": extra.pop("summary", "ACME-1: Checkout fails")},
        },
        **extra,
    }


def hook(integration) -> str:
    return reverse("ticketing_hook", args=[integration.public_id])


def post(client, url, payload, secret=None, query=True, **headers):
    body = payload if isinstance(payload, bytes | str) else json.dumps(payload)
    if secret and query:
        url = f"{url}?secret={secret}"
    elif secret:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    headers.setdefault("content_type", "application/json")
    return client.post(url, data=body, **headers)


def comments(incident) -> list[str]:
    with scopes_disabled():
        return list(
            TimelineEvent.objects.filter(incident=incident, kind="comment").values_list(
                "message", flat=True
            )
        )


@pytest.fixture
def linked(acme, acme_admin, responder, jira):
    """An incident mirrored to Jira as OPS-1, and the integration's webhook secret."""
    integration, secret = make_integration(acme_admin, jira_fields(jira.url))
    incident = declare(acme, responder)
    send_all()
    return integration, secret, incident


def test_a_jira_comment_lands_on_the_timeline_once(client, linked):
    integration, secret, incident = linked

    first = post(client, hook(integration), jira_comment(), secret)
    again = post(client, hook(integration), jira_comment(), secret)

    assert first.status_code == 200
    assert first.json() == {"incident": incident.key, "linked": False, "comment": "added"}
    assert again.json()["comment"] == "already on the timeline"
    assert comments(incident) == ["Jira comment on OPS-1 by Alex Doe: Looking at the DB now."]


def test_the_secret_may_come_as_a_bearer_header(client, linked):
    integration, secret, incident = linked
    response = post(client, hook(integration), jira_comment(), secret, query=False)
    assert response.status_code == 200
    assert len(comments(incident)) == 1


def test_jira_issue_updated_with_a_comment_is_used_and_other_events_ignored(client, linked):
    integration, secret, incident = linked
    updated = jira_comment(comment_id="20002")
    updated["webhookEvent"] = "jira:issue_updated"
    updated["issue_event_type_name"] = "issue_commented"
    deleted = {**jira_comment(comment_id="20003"), "webhookEvent": "jira:issue_deleted"}

    assert post(client, hook(integration), updated, secret).json()["comment"] == "added"
    ignored = post(client, hook(integration), deleted, secret)
    assert ignored.status_code == 202
    assert ignored.json() == {"ignored": "This event is not used by Vigil."}
    assert len(comments(incident)) == 1


def test_an_issue_update_without_a_comment_changes_nothing(client, linked):
    integration, secret, incident = linked
    payload = jira_comment()
    payload["webhookEvent"] = "jira:issue_updated"
    del payload["comment"]
    response = post(client, hook(integration), payload, secret)
    assert response.json() == {"incident": incident.key, "linked": False, "comment": "none"}
    assert comments(incident) == []


def test_comments_vigil_wrote_are_not_copied_back(client, linked, responder):
    integration, secret, incident = linked
    transition(incident, "start_investigation", responder)
    send_all()
    [posted] = calls(kind="comment")
    assert posted.remote_id

    by_id = post(client, hook(integration), jira_comment(comment_id=posted.remote_id), secret)
    by_mark = post(
        client,
        hook(integration),
        jira_comment(comment_id="29999", body="[Vigil] ACME-1 is now mitigated"),
        secret,
    )

    assert by_id.json()["comment"] == "ignored: written by Vigil"
    assert by_mark.json()["comment"] == "ignored: written by Vigil"
    assert comments(incident) == []


def test_a_wrong_or_missing_secret_is_401_and_changes_nothing(client, linked):
    integration, _, incident = linked
    assert post(client, hook(integration), jira_comment(), "wrong").status_code == 401
    assert post(client, hook(integration), jira_comment(), "wrong", query=False).status_code == 401
    assert post(client, hook(integration), jira_comment()).status_code == 401
    assert comments(incident) == []


def test_another_organisations_secret_does_not_open_this_hook(client, linked, globex_admin, jira):
    integration, _, incident = linked
    _, globex_secret = make_integration(globex_admin, jira_fields(jira.url))
    response = post(client, hook(integration), jira_comment(), globex_secret)
    assert response.status_code == 401
    assert comments(incident) == []


def test_an_unknown_ticket_is_accepted_and_ignored(client, linked):
    integration, secret, incident = linked
    response = post(
        client, hook(integration), jira_comment(key="OPS-99", summary="Printer jam"), secret
    )
    assert response.status_code == 202
    assert response.json() == {"ignored": "No Vigil incident has ticket OPS-99."}
    assert comments(incident) == []


def test_a_missing_link_is_added_from_the_incident_key_in_the_summary(
    client, acme, acme_admin, responder, jira
):
    integration, secret = make_integration(acme_admin, jira_fields(jira.url))
    incident = declare(acme, responder)  # the create call is not sent yet
    payload = jira_comment(key="OPS-7", summary=f"{incident.key}: Checkout fails")

    response = post(client, hook(integration), payload, secret)

    assert response.json() == {"incident": incident.key, "linked": True, "comment": "added"}
    with scopes_disabled():
        link = TicketLink.objects.get(incident=incident)
        assert TimelineEvent.objects.filter(incident=incident, data__ticket="OPS-7").exists()
    assert (link.ticket_key, link.url) == ("OPS-7", f"{jira.url}/browse/OPS-7")


def test_a_key_of_another_organisation_links_nothing(client, linked, globex, globex_admin):
    integration, secret, _ = linked
    other = declare(globex, globex_admin.user)
    payload = jira_comment(key="OPS-8", summary=f"{other.key}: Their outage")

    response = post(client, hook(integration), payload, secret)

    assert response.status_code == 202
    with scopes_disabled():
        assert not TicketLink.objects.filter(incident=other).exists()
    assert comments(other) == []


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"{not json", "Malformed JSON"),
        ([1, 2], "Send a JSON object."),
        ({"webhookEvent": 5}, "`webhookEvent` must be a non-empty string."),
        ({"webhookEvent": "comment_created"}, "`issue` must be an object."),
        ({"webhookEvent": "comment_created", "issue": {"key": "OPS-1"}}, "`comment` must be"),
        (
            {"webhookEvent": "comment_created", "issue": {"key": "OPS-1"}, "comment": {"id": "1"}},
            "`comment.body` must be a non-empty string.",
        ),
        (
            {
                "webhookEvent": "comment_created",
                "issue": {"key": "OPS-1"},
                "comment": {"id": "1", "body": "x" * (inbound.MAX_COMMENT_CHARS + 1)},
            },
            "`comment.body` is longer than",
        ),
    ],
)
def test_a_malformed_delivery_is_400_and_changes_nothing(client, linked, payload, message):
    integration, secret, incident = linked
    response = post(client, hook(integration), payload, secret)
    assert response.status_code == 400
    assert response.json()["error"].startswith(message)
    assert comments(incident) == []
    with scopes_disabled():
        assert not TicketComment.objects.exists()


def test_a_too_large_delivery_is_413(client, linked):
    integration, secret, incident = linked
    payload = jira_comment(body="x" * (inbound.MAX_BODY_BYTES + 10))
    response = post(client, hook(integration), payload, secret)
    assert response.status_code == 413
    assert comments(incident) == []


def test_not_json_is_415(client, linked):
    integration, secret, _ = linked
    response = post(client, hook(integration), "a=b", secret, content_type="text/plain")
    assert response.status_code == 415


def test_an_unknown_or_disabled_hook_is_404(client, linked, acme, acme_admin):
    from integrations.ticketing import services

    integration, secret, _ = linked
    unknown = post(client, reverse("ticketing_hook", args=["tnope"]), jira_comment(), secret)
    services.integration_set_enabled(
        organization=acme, actor=acme_admin, integration=integration, enabled=False
    )
    disabled = post(client, hook(integration), jira_comment(), secret)
    assert (unknown.status_code, disabled.status_code) == (404, 404)


def test_get_is_not_allowed(client, linked):
    integration, secret, _ = linked
    assert client.get(f"{hook(integration)}?secret={secret}").status_code == 405


# — ServiceNow (the business rule's shape, docs/ticketing.md) ———————————————————————————


def snow_note(record, note_id="a" * 32, value="Vendor engaged.", created_by="jane.doe"):
    return {
        "number": record["number"],
        "sys_id": record["sys_id"],
        "correlation_id": record.get("correlation_id", ""),
        "short_description": record.get("short_description", ""),
        "comment": {
            "sys_id": note_id,
            "element": "work_notes",
            "value": value,
            "created_by": created_by,
            "created_on": "2026-11-27 10:00:00",
        },
    }


def test_a_servicenow_work_note_lands_once_and_vigils_own_are_ignored(
    client, acme, acme_admin, responder, servicenow
):
    integration, secret = make_integration(acme_admin, servicenow_fields(servicenow.url))
    incident = declare(acme, responder)
    send_all()
    [record] = servicenow.records.values()

    added = post(client, hook(integration), snow_note(record), secret, query=False)
    again = post(client, hook(integration), snow_note(record), secret, query=False)
    own = post(
        client,
        hook(integration),
        snow_note(record, note_id="b" * 32, created_by=SNOW_USER),
        secret,
        query=False,
    )

    assert added.json()["comment"] == "added"
    assert again.json()["comment"] == "already on the timeline"
    assert own.json()["comment"] == "ignored: written by Vigil"
    assert comments(incident) == ["ServiceNow comment on INC0010001 by jane.doe: Vendor engaged."]


def test_a_servicenow_record_is_linked_by_its_correlation_id(
    client, acme, acme_admin, responder, servicenow
):
    integration, secret = make_integration(acme_admin, servicenow_fields(servicenow.url))
    incident = declare(acme, responder)
    record = {"number": "INC0020002", "sys_id": "c" * 32, "correlation_id": incident.key}

    response = post(client, hook(integration), snow_note(record), secret, query=False)

    assert response.json() == {"incident": incident.key, "linked": True, "comment": "added"}


def test_a_servicenow_delivery_without_number_is_400(client, acme, acme_admin, servicenow):
    integration, secret = make_integration(acme_admin, servicenow_fields(servicenow.url))
    response = post(client, hook(integration), {"sys_id": "x"}, secret, query=False)
    assert response.status_code == 400
    assert response.json() == {"error": "`number` must be a non-empty string."}
