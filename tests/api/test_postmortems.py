"""GET /postmortems/, /postmortems/<id or key>/, /action-items/, /action-items/<id>/ and PATCH
/action-items/<id>/ (status only, through postmortems.actions): every role, another tenant,
restricted incidents 404 until granted, masking, filters, validation, read tokens, pages."""

import datetime as dt

import pytest
from django_scopes import scopes_disabled

from compliance import unmask
from incidents import services
from incidents.models import TimelineEvent
from postmortems.models import ActionItem
from tenancy.roles import Role
from tenancy.scoping import org_scope
from tests.api.resources_support import EMAIL, MASKED, ROLES, page
from tests.postmortems.test_actions_support import BERLIN, make_item, make_postmortem

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_broker")]

S = ActionItem.Status
TODAY = dt.datetime.now(tz=BERLIN).date()


@pytest.fixture
def pm(acme, people):
    postmortem = make_postmortem(acme, people[Role.RESPONDER].user, title="Checkout fails")
    with scopes_disabled():
        postmortem.summary = f"Reported by {EMAIL}"
        postmortem.timeline = [{"at": "2026-11-01T10:00:00+01:00", "text": f"{EMAIL} paged"}]
        postmortem.save()
    return postmortem


@pytest.fixture
def secret(acme, people):
    return make_postmortem(acme, people[Role.ADMIN].user, title="Breach", is_restricted=True)


def grant(incident, people, role=Role.MANAGER):
    with org_scope(incident.organization):
        services.incident_grant_access(
            incident=incident, actor=people[Role.ADMIN].user, user=people[role].user
        )


def status_of(item):
    with scopes_disabled():
        return ActionItem.objects.values_list("status", "completed_at").get(pk=item.pk)


# — post-mortems ——————————————————————————————————————————————————————————————————————


@pytest.mark.parametrize("role", ROLES)
def test_every_role_lists_and_reads_post_mortems_masked(as_role, pm, role):
    make_item(pm, title="Add a canary")
    client = as_role(role)

    rows = page(client.get("/api/v1/postmortems/"))
    by_id = client.get(f"/api/v1/postmortems/{pm.pk}/")
    by_key = client.get(f"/api/v1/postmortems/{pm.incident.key.lower()}/")

    assert [(r["id"], r["incident"], r["open_action_items"]) for r in rows] == [
        (pm.pk, pm.incident.key, 1)
    ]
    assert by_id.status_code == by_key.status_code == 200
    assert by_id.json() == by_key.json()
    body = by_id.json()
    assert body["sections"]["summary"] == f"Reported by {MASKED}"
    assert body["timeline"][0]["text"] == f"{MASKED} paged"
    assert EMAIL not in str(body)


def test_a_reader_who_revealed_the_incident_reads_it_unmasked(as_role, people, pm):
    with org_scope(pm.organization):
        unmask.incident_unmask(incident=pm.incident, actor=people[Role.COMPLIANCE].user)

    body = as_role(Role.COMPLIANCE).get(f"/api/v1/postmortems/{pm.pk}/").json()

    assert body["sections"]["summary"] == f"Reported by {EMAIL}"


def test_a_restricted_incidents_post_mortem_is_404_until_granted(as_role, people, secret):
    client = as_role(Role.MANAGER)
    assert client.get(f"/api/v1/postmortems/{secret.pk}/").status_code == 404
    assert client.get(f"/api/v1/postmortems/{secret.incident.key}/").status_code == 404
    assert page(client.get("/api/v1/postmortems/")) == []
    assert as_role(Role.ADMIN).get(f"/api/v1/postmortems/{secret.pk}/").status_code == 200

    grant(secret.incident, people)

    assert client.get(f"/api/v1/postmortems/{secret.pk}/").status_code == 200
    assert [r["id"] for r in page(client.get("/api/v1/postmortems/"))] == [secret.pk]


def test_another_organisation_gets_404_and_an_empty_list(as_role, pm):
    client = as_role("globex")

    assert client.get(f"/api/v1/postmortems/{pm.pk}/").status_code == 404
    assert client.get(f"/api/v1/postmortems/{pm.incident.key}/").status_code == 404
    assert page(client.get("/api/v1/postmortems/")) == []


@pytest.mark.parametrize("ref", ["999999", "NOPE-1", "9" * 30])
def test_unknown_post_mortems_are_404(as_role, pm, ref):
    assert as_role(Role.ADMIN).get(f"/api/v1/postmortems/{ref}/").status_code == 404


def test_the_status_filter_is_checked(as_role, pm):
    client = as_role(Role.VIEWER)

    assert [r["id"] for r in page(client.get("/api/v1/postmortems/", {"status": "draft"}))] == [
        pm.pk
    ]
    assert page(client.get("/api/v1/postmortems/", {"status": "published"})) == []
    assert client.get("/api/v1/postmortems/", {"status": "x"}).status_code == 400


# — action items ——————————————————————————————————————————————————————————————————————


@pytest.mark.parametrize("role", ROLES)
def test_every_role_lists_and_reads_action_items_masked(as_role, pm, role):
    item = make_item(pm, title=f"Email {EMAIL}", due_date=TODAY - dt.timedelta(days=2))
    client = as_role(role)

    rows = page(client.get("/api/v1/action-items/"))
    one = client.get(f"/api/v1/action-items/{item.pk}/").json()

    assert [(r["id"], r["title"], r["is_overdue"]) for r in rows] == [
        (item.pk, f"Email {MASKED}", True)
    ]
    assert one["incident"] == pm.incident.key
    assert one["title"] == f"Email {MASKED}"


def test_action_item_filters(as_role, people, pm):
    owner = people[Role.RESPONDER].user
    late = make_item(pm, title="late", owner=owner, due_date=TODAY - dt.timedelta(days=1))
    done = make_item(pm, title="done", status=S.DONE)
    later = make_item(pm, title="later", due_date=TODAY + dt.timedelta(days=9))
    client = as_role(Role.VIEWER)

    def ids(**params):
        return [r["id"] for r in page(client.get("/api/v1/action-items/", params))]

    assert ids() == [late.pk, done.pk, later.pk]
    assert ids(status="finished") == [done.pk]
    assert ids(status="open") == [late.pk, later.pk]
    assert ids(owner=owner.pk) == [late.pk]
    assert ids(overdue="true") == [late.pk]
    assert ids(overdue="false") == [done.pk, later.pk]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "x"}, "status"),
        ({"owner": "abc"}, "owner"),
        ({"due_after": "soon"}, "due_after"),
    ],
)
def test_bad_action_item_filters_are_a_400_naming_the_parameter(as_role, pm, params, field):
    response = as_role(Role.VIEWER).get("/api/v1/action-items/", params)

    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_another_organisations_member_is_not_a_valid_owner_filter(as_role, people, pm):
    response = as_role(Role.VIEWER).get(
        "/api/v1/action-items/", {"owner": people["globex"].user.pk}
    )

    assert response.status_code == 400
    assert "owner" in response.json()["fields"]


def test_restricted_incidents_items_are_hidden_until_granted(as_role, people, secret):
    item = make_item(secret, title="Rotate keys")
    client = as_role(Role.MANAGER)
    assert page(client.get("/api/v1/action-items/")) == []
    assert client.get(f"/api/v1/action-items/{item.pk}/").status_code == 404
    response = client.patch(f"/api/v1/action-items/{item.pk}/", {"status": "done"}, format="json")
    assert response.status_code == 404
    assert status_of(item)[0] == S.OPEN

    grant(secret.incident, people)

    assert [r["id"] for r in page(client.get("/api/v1/action-items/"))] == [item.pk]


def test_another_organisation_gets_404_for_an_item_and_cannot_change_it(as_role, pm):
    item = make_item(pm)
    client = as_role("globex")

    assert client.get(f"/api/v1/action-items/{item.pk}/").status_code == 404
    response = client.patch(f"/api/v1/action-items/{item.pk}/", {"status": "done"}, format="json")
    assert response.status_code == 404
    assert page(client.get("/api/v1/action-items/")) == []
    assert status_of(item)[0] == S.OPEN


@pytest.mark.parametrize("role", [Role.RESPONDER, Role.MANAGER, Role.ADMIN])
def test_who_may_update_incidents_marks_an_item_done_and_the_time_is_recorded(as_role, pm, role):
    item = make_item(pm)

    response = as_role(role).patch(
        f"/api/v1/action-items/{item.pk}/", {"status": "done"}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "done"
    assert response.json()["completed_at"] is not None
    status, completed_at = status_of(item)
    assert status == S.DONE
    assert completed_at is not None
    with scopes_disabled():
        assert TimelineEvent.objects.filter(
            incident=pm.incident, data__action_item_id=item.pk, data__status="done"
        ).exists()


def test_reopening_clears_the_completion_time(as_role, pm):
    item = make_item(pm, status=S.DONE)

    response = as_role(Role.RESPONDER).patch(
        f"/api/v1/action-items/{item.pk}/", {"status": "open"}, format="json"
    )

    assert response.status_code == 200
    assert status_of(item) == (S.OPEN, None)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.COMPLIANCE])
def test_other_roles_may_not_change_an_item_they_do_not_own(as_role, pm, role):
    item = make_item(pm)

    response = as_role(role).patch(
        f"/api/v1/action-items/{item.pk}/", {"status": "done"}, format="json"
    )

    assert response.status_code == 403
    assert status_of(item) == (S.OPEN, None)


def test_the_owner_may_change_their_item_whatever_their_role(as_role, people, pm):
    item = make_item(pm, owner=people[Role.VIEWER].user)

    response = as_role(Role.VIEWER).patch(
        f"/api/v1/action-items/{item.pk}/", {"status": "in_progress"}, format="json"
    )

    assert response.status_code == 200
    assert status_of(item)[0] == S.IN_PROGRESS


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "status"),
        ({"status": "finished"}, "status"),
        ({"status": None}, "status"),
        ({"status": "done", "title": "renamed"}, "title"),
        ({"status": "open"}, "non_field_errors"),  # it is open already
    ],
)
def test_bad_patches_are_a_400_naming_the_field_and_change_nothing(as_role, pm, body, field):
    item = make_item(pm, title="keep")

    response = as_role(Role.ADMIN).patch(f"/api/v1/action-items/{item.pk}/", body, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    assert status_of(item) == (S.OPEN, None)
    with scopes_disabled():
        assert ActionItem.objects.get(pk=item.pk).title == "keep"


def test_a_read_token_may_not_change_an_item(as_role, pm):
    item = make_item(pm)

    response = as_role(Role.ADMIN, scope="read").patch(
        f"/api/v1/action-items/{item.pk}/", {"status": "done"}, format="json"
    )

    assert response.status_code == 403
    assert status_of(item) == (S.OPEN, None)


def test_action_items_are_cursor_paginated(as_role, pm):
    made = [make_item(pm, title=f"item {n}").pk for n in range(5)]
    client = as_role(Role.VIEWER)
    seen, url = [], "/api/v1/action-items/?page_size=2"
    while url:
        body = client.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]

    assert seen == made
