"""`/api/v1/incidents/`: the same tenancy, role, restricted and masking matrix as the browser,
the list page's filters, declare / update / transitions through the same services."""

import pytest
from django_scopes import scopes_disabled

from compliance import unmask
from incidents import services
from incidents.lifecycle import Status
from incidents.models import Incident, TimelineEvent
from taxonomy.models import CustomFieldDefinition
from tenancy.roles import Role
from tenancy.scoping import org_scope
from tests.incidents.factories import (
    ServiceFactory,
    declare,
    document,
    fresh,
    severity,
)

pytestmark = pytest.mark.django_db

LIST = "/api/v1/incidents/"


def detail(key):
    return f"/api/v1/incidents/{key}/"


def transition(key, name):
    return f"/api/v1/incidents/{key}/transitions/{name}/"


@pytest.fixture
def as_role(acme, make_member, make_token, api):
    """as_role(role, scope="write") → (client, user) for a new acme member with that role."""

    def make(role, scope="write"):
        membership = make_member(acme, role)
        if role == Role.VIEWER:
            scope = "read"  # (a viewer write token is refused by the role: test_token_pages)
        return api(make_token(membership, scope=scope)), membership.user

    return make


@pytest.fixture
def incident(acme, responder):
    return declare(acme, responder, title="Checkout fails")


def count_incidents(org):
    with scopes_disabled():
        return Incident.objects.filter(organization=org).count()


# — read: tenancy, roles, restricted ————————————————————————————————————————————————————


@pytest.mark.parametrize(
    "role", [Role.VIEWER, Role.RESPONDER, Role.MANAGER, Role.COMPLIANCE, Role.ADMIN]
)
def test_every_role_reads_the_orgs_incidents(as_role, incident, role):
    client, _ = as_role(role, scope="read")

    listed = client.get(LIST)
    one = client.get(detail(incident.key))

    assert listed.status_code == 200
    assert [row["key"] for row in listed.json()["results"]] == [incident.key]
    assert one.status_code == 200
    assert one.json()["key"] == incident.key
    assert one.json()["status"] == "reported"
    assert one.json()["severity"]["name"] == "SEV-3"


def test_another_orgs_token_sees_nothing_and_gets_404(api, make_token, globex_admin, incident):
    client = api(make_token(globex_admin))

    assert client.get(LIST).json()["results"] == []
    assert client.get(detail(incident.key)).status_code == 404
    response = client.patch(detail(incident.key), {"version": 1, "title": "x"}, format="json")
    assert response.status_code == 404
    dismiss = client.post(transition(incident.key, "dismiss"), {"note": "x"}, format="json")
    assert dismiss.status_code == 404
    assert fresh(incident).title == "Checkout fails"
    assert fresh(incident).status == Status.REPORTED


def test_restricted_incidents_are_invisible_without_access(as_role, acme, responder):
    secret = declare(acme, responder, title="Breach", is_restricted=True)
    declare(acme, responder, title="Ordinary")
    viewer, _ = as_role(Role.VIEWER)
    manager, _ = as_role(Role.MANAGER)
    admin, _ = as_role(Role.ADMIN)

    for client in (viewer, manager):
        assert [r["title"] for r in client.get(LIST).json()["results"]] == ["Ordinary"]
        assert client.get(detail(secret.key)).status_code == 404
    dismiss = manager.post(transition(secret.key, "dismiss"), {"note": "x"}, format="json")
    edit = manager.patch(detail(secret.key), {"version": 1, "title": "x"}, format="json")
    assert dismiss.status_code == 404
    assert edit.status_code == 404
    assert fresh(secret).status == Status.REPORTED
    assert {r["title"] for r in admin.get(LIST).json()["results"]} == {"Breach", "Ordinary"}
    assert admin.get(detail(secret.key)).status_code == 200


def test_a_user_granted_access_to_a_restricted_incident_reads_it(
    as_role, acme, responder, acme_admin
):
    secret = declare(acme, responder, title="Breach", is_restricted=True)
    client, user = as_role(Role.RESPONDER)
    assert client.get(detail(secret.key)).status_code == 404

    with org_scope(acme):
        services.incident_grant_access(incident=secret, actor=acme_admin.user, user=user)

    assert client.get(detail(secret.key)).status_code == 200


# — masking ———————————————————————————————————————————————————————————————————————————


@pytest.fixture
def personal(acme, responder):
    with scopes_disabled():
        CustomFieldDefinition.objects.create(
            organization=acme, key="contact", label="Contact", field_type="text", is_sensitive=True
        )
        CustomFieldDefinition.objects.create(
            organization=acme, key="note", label="Note", field_type="text"
        )
    return declare(
        acme,
        responder,
        title="Mail to alice@example.test bounces",
        description="Call +49 30 1234567 about it",
        custom_fields={"contact": "bob@example.test", "note": "ask carol@example.test"},
    )


@pytest.mark.parametrize("role", [Role.VIEWER, Role.RESPONDER, Role.COMPLIANCE, Role.ADMIN])
def test_personal_data_and_sensitive_fields_are_masked_as_in_the_browser(as_role, personal, role):
    client, _ = as_role(role, scope="read")

    one = client.get(detail(personal.key)).json()
    row = client.get(LIST).json()["results"][0]

    for body in (one, row):
        assert body["title"] == "Mail to [e-mail hidden] bounces"
        assert "1234567" not in body["description"]
        assert body["custom_fields"]["contact"] == "[hidden]"
        assert body["custom_fields"]["note"] == "ask [e-mail hidden]"
        assert body["is_masked"] is True


def test_a_compliance_reader_who_revealed_the_incident_sees_it_unmasked(as_role, personal):
    client, user = as_role(Role.COMPLIANCE, scope="read")
    with org_scope(personal.organization):
        unmask.incident_unmask(incident=personal, actor=user, reason="DSAR")

    one = client.get(detail(personal.key)).json()
    row = client.get(LIST).json()["results"][0]

    for body in (one, row):
        assert body["title"] == "Mail to alice@example.test bounces"
        assert body["custom_fields"]["contact"] == "bob@example.test"
        assert body["is_masked"] is False


def test_text_seen_masked_cannot_be_overwritten(as_role, personal):
    client, _ = as_role(Role.RESPONDER)

    title = client.patch(detail(personal.key), {"version": 1, "title": "Other"}, format="json")
    sensitive = client.patch(
        detail(personal.key), {"version": 1, "custom_fields": {"contact": "x"}}, format="json"
    )

    assert title.status_code == 403
    assert "title" in title.json()["detail"]
    assert sensitive.status_code == 403
    assert fresh(personal).title == "Mail to alice@example.test bounces"
    assert fresh(personal).custom_fields["contact"] == "bob@example.test"


def test_masked_text_is_not_a_search_oracle(as_role, personal):
    client, _ = as_role(Role.RESPONDER, scope="read")

    response = client.get(LIST, {"q": "alice@example.test"})

    assert response.status_code == 200
    assert response.json()["results"] == []


# — list filters and pagination ———————————————————————————————————————————————————————


def test_the_list_filters_like_the_list_page(as_role, acme, responder):
    payments = ServiceFactory(organization=acme, name="Payments")
    a = declare(acme, responder, title="Database replica lag")
    b = declare(
        acme,
        responder,
        title="Checkout errors",
        severity=severity(acme, "SEV-4"),
        primary_service=payments,
    )
    c = declare(acme, responder, title="Noise")
    with org_scope(acme):
        services.incident_transition(incident=c, name="dismiss", actor=responder, note="probe")
    client, _ = as_role(Role.VIEWER, scope="read")

    def keys(**params):
        response = client.get(LIST, params)
        assert response.status_code == 200, response.json()
        return {row["key"] for row in response.json()["results"]}

    assert keys(q="replica") == {a.key}
    assert keys(severity=severity(acme, "SEV-4").pk) == {b.key}
    assert keys(service=payments.pk) == {b.key}
    assert keys(status="open") == {a.key, b.key}
    assert keys(status="dismissed") == {c.key}
    assert keys(counted="false") == {c.key}
    assert keys() == {a.key, b.key, c.key}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "sleeping"}, "status"),
        ({"severity": "999999"}, "severity"),
        ({"severity": "abc"}, "severity"),
        ({"since": "yesterday"}, "since"),
        ({"kind": "party"}, "kind"),
        ({"commander": "abc"}, "commander"),
    ],
)
def test_a_bad_filter_value_is_a_400_naming_the_filter(as_role, incident, params, field):
    client, _ = as_role(Role.VIEWER, scope="read")

    response = client.get(LIST, params)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["fields"]
    assert field in response.json()["detail"]


def test_another_orgs_severity_id_is_a_bad_filter_value(as_role, incident, globex):
    client, _ = as_role(Role.VIEWER, scope="read")

    response = client.get(LIST, {"severity": severity(globex, "SEV-3").pk})

    assert response.status_code == 400
    assert "severity" in response.json()["fields"]


def test_the_list_is_cursor_paginated_newest_first(as_role, acme, responder):
    made = [declare(acme, responder, title=f"Incident {n}") for n in range(5)]
    client, _ = as_role(Role.VIEWER, scope="read")

    first = client.get(LIST, {"page_size": 2}).json()
    second = client.get(first["next"]).json()
    third = client.get(second["next"]).json()

    keys = [r["key"] for page in (first, second, third) for r in page["results"]]
    assert keys == [i.key for i in reversed(made)]
    assert third["next"] is None


def test_the_list_reads_in_a_fixed_number_of_queries(
    as_role, acme, responder, django_assert_max_num_queries
):
    for n in range(8):
        declare(acme, responder, title=f"Incident {n}")
    client, _ = as_role(Role.VIEWER, scope="read")
    with django_assert_max_num_queries(20):
        response = client.get(LIST)
    assert len(response.json()["results"]) == 8


# — declare ————————————————————————————————————————————————————————————————————————————


def test_declare_creates_through_the_service_with_201_and_location(as_role, acme):
    client, user = as_role(Role.RESPONDER)
    payments = ServiceFactory(organization=acme, name="Payments")

    response = client.post(
        LIST,
        {
            "title": "Checkout down",
            "description": "500s everywhere",
            "severity": severity(acme, "SEV-2").pk,
            "primary_service": payments.pk,
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert response["Location"] == detail(body["key"])
    assert body["severity"]["name"] == "SEV-2"
    assert body["primary_service"] == {"id": payments.pk, "name": "Payments"}
    assert body["source"] == "api"
    with scopes_disabled():
        incident = Incident.objects.get(key=body["key"])
        assert incident.reporter == user
        assert incident.events.filter(kind=TimelineEvent.Kind.CREATED).exists()


def test_declare_applies_the_assessment_and_asks_for_an_override_reason(as_role, acme):
    client, _ = as_role(Role.RESPONDER)
    answers = {"customer_visible": True, "users_affected_pct": "60", "downtime_minutes": 30}

    refused = client.post(
        LIST,
        {"title": "Down", "assessment": answers, "severity": severity(acme, "SEV-4").pk},
        format="json",
    )

    assert refused.status_code == 422
    assert "override_reason" in refused.json()["fields"]
    assert count_incidents(acme) == 0
    proposed = client.post(LIST, {"title": "Down", "assessment": answers}, format="json")
    assert proposed.status_code == 201
    assert proposed.json()["severity"]["name"] in {"SEV-1", "SEV-2"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": 5, "kind": "party"}, "kind"),
        ({"title": "ok", "severity": "high"}, "severity"),
        ({"title": "ok", "severity": 999999}, "severity"),
        ({"title": "ok", "commander": 999999}, "commander"),
        ({"title": "ok", "affected_services": "all"}, "affected_services"),
        ({"title": "ok", "detected_at": "soon"}, "detected_at"),
        ({"title": "ok", "custom_fields": []}, "custom_fields"),
        ({"title": "ok", "assessment": {"users_affected_pct": 300}}, "assessment"),
    ],
)
def test_declare_refuses_bad_input_naming_the_field_and_creates_nothing(as_role, acme, body, field):
    client, _ = as_role(Role.RESPONDER)

    response = client.post(LIST, body, format="json")

    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert count_incidents(acme) == 0


def test_declare_refuses_another_orgs_rows_and_unknown_custom_fields(as_role, acme, globex):
    client, _ = as_role(Role.RESPONDER)
    foreign = ServiceFactory(organization=globex)

    service = client.post(LIST, {"title": "x", "primary_service": foreign.pk}, format="json")
    custom = client.post(LIST, {"title": "x", "custom_fields": {"nope": 1}}, format="json")
    future = client.post(LIST, {"title": "x", "detected_at": "2999-01-01T00:00:00Z"}, format="json")

    assert service.status_code == 400
    assert "primary_service" in service.json()["fields"]
    assert custom.status_code == 422
    assert "cf_nope" in custom.json()["fields"]
    assert future.status_code == 422
    assert "detected_at" in future.json()["fields"]
    assert count_incidents(acme) == 0


@pytest.mark.parametrize("role", [Role.VIEWER, Role.COMPLIANCE])
def test_roles_that_may_not_declare_get_403(as_role, acme, role):
    client, _ = as_role(role)

    response = client.post(LIST, {"title": "x"}, format="json")

    assert response.status_code == 403
    assert count_incidents(acme) == 0


def test_a_read_token_may_not_declare(as_role, acme):
    client, _ = as_role(Role.ADMIN, scope="read")

    assert client.post(LIST, {"title": "x"}, format="json").status_code == 403
    assert count_incidents(acme) == 0


def test_the_body_must_be_json(as_role, acme):
    client, _ = as_role(Role.RESPONDER)

    response = client.post(LIST, "title=x", content_type="application/x-www-form-urlencoded")
    broken = client.post(LIST, "{not json", content_type="application/json")

    assert response.status_code == 415
    assert broken.status_code == 400
    assert broken.json()["code"] == "parse_error"
    assert count_incidents(acme) == 0


# — update ————————————————————————————————————————————————————————————————————————————


def test_patch_changes_allowed_fields_through_the_service(as_role, acme, incident):
    client, _ = as_role(Role.RESPONDER)
    payments = ServiceFactory(organization=acme, name="Payments")

    response = client.patch(
        detail(incident.key),
        {
            "version": incident.version,
            "title": "Checkout fails for cards",
            "impact_summary": "Card payments failed.",
            "affected_services": [payments.pk],
            "root_cause_category": "code_change",
        },
        format="json",
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["title"] == "Checkout fails for cards"
    assert body["affected_services"] == [{"id": payments.pk, "name": "Payments"}]
    assert body["version"] == incident.version + 1
    with scopes_disabled():
        assert fresh(incident).impact_summary == "Card payments failed."
        assert incident.events.filter(kind=TimelineEvent.Kind.FIELD).count() >= 3


def test_patch_with_a_stale_version_is_409_and_changes_nothing(as_role, incident):
    client, _ = as_role(Role.RESPONDER)

    response = client.patch(
        detail(incident.key), {"version": incident.version + 5, "title": "New"}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "stale_version"
    assert fresh(incident).title == "Checkout fails"


def test_patch_with_only_a_stale_version_is_409_and_only_the_current_one_200(as_role, incident):
    client, _ = as_role(Role.RESPONDER)

    stale = client.patch(detail(incident.key), {"version": incident.version + 1}, format="json")
    current = client.patch(detail(incident.key), {"version": incident.version}, format="json")

    assert stale.status_code == 409
    assert stale.json()["code"] == "stale_version"
    assert current.status_code == 200
    assert current.json()["version"] == incident.version == fresh(incident).version


def test_patch_changes_the_severity_with_a_reason(as_role, acme, incident):
    client, _ = as_role(Role.MANAGER)
    sev2 = severity(acme, "SEV-2").pk

    no_reason = client.patch(detail(incident.key), {"version": 1, "severity": sev2}, format="json")
    mixed = client.patch(
        detail(incident.key), {"version": 1, "title": "New", "severity": sev2}, format="json"
    )

    assert no_reason.status_code == 422
    assert "reason" in no_reason.json()["fields"]
    assert mixed.status_code == 422
    assert fresh(incident).title == "Checkout fails", "the refused severity undid the title"
    assert fresh(incident).version == 1
    changed = client.patch(
        detail(incident.key),
        {"version": 1, "severity": sev2, "severity_reason": "More customers hit"},
        format="json",
    )
    assert changed.status_code == 200
    assert changed.json()["severity"]["name"] == "SEV-2"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "x"}, "version"),
        ({"version": "one"}, "version"),
        ({"version": 1, "title": ""}, "title"),
        ({"version": 1, "kind": "party"}, "kind"),
        ({"version": 1, "root_cause_category": "gremlins"}, "root_cause_category"),
        ({"version": 1, "involved_teams": [999999]}, "involved_teams"),
    ],
)
def test_patch_refuses_bad_input_naming_the_field(as_role, incident, body, field):
    client, _ = as_role(Role.RESPONDER)

    response = client.patch(detail(incident.key), body, format="json")

    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert fresh(incident).version == incident.version


def test_patch_ignores_fields_that_are_not_editable(as_role, incident):
    client, _ = as_role(Role.RESPONDER)

    response = client.patch(
        detail(incident.key), {"version": 1, "status": "closed", "key": "X-1"}, format="json"
    )

    assert response.status_code == 200
    assert fresh(incident).status == Status.REPORTED
    assert fresh(incident).key == incident.key


@pytest.mark.parametrize("role", [Role.VIEWER, Role.COMPLIANCE])
def test_roles_that_may_not_update_get_403(as_role, incident, role):
    client, _ = as_role(role)

    response = client.patch(detail(incident.key), {"version": 1, "title": "x"}, format="json")

    assert response.status_code == 403
    assert fresh(incident).title == "Checkout fails"


# — transitions ——————————————————————————————————————————————————————————————————————————


def test_a_transition_moves_the_incident_and_records_it(as_role, acme, responder, incident):
    client, _ = as_role(Role.RESPONDER)

    response = client.post(transition(incident.key, "start_investigation"), {}, format="json")

    assert response.status_code == 200
    assert response.json()["status"] == "investigating"
    assert fresh(incident).status == Status.INVESTIGATING
    with scopes_disabled():
        assert incident.events.filter(kind=TimelineEvent.Kind.STATUS).count() == 1


def test_missing_requirements_are_named_as_the_browser_names_them(as_role, acme, incident):
    with scopes_disabled():
        CustomFieldDefinition.objects.create(
            organization=acme,
            key="customer_ref",
            label="Customer reference",
            field_type="text",
            required_from="resolved",
        )
    client, _ = as_role(Role.RESPONDER)
    client.post(transition(incident.key, "start_investigation"), {}, format="json")

    response = client.post(transition(incident.key, "resolve"), {}, format="json")

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "requirements_missing"
    assert body["missing"] == [
        {"field": "resolution_summary", "message": "resolution summary"},
        {"field": "root_cause_category", "message": "root-cause category"},
        {
            "field": "verification_passed",
            "message": "a passed verification (confirmation or health check)",
        },
        {"field": "custom:customer_ref", "message": "custom field “Customer reference”"},
    ]
    assert body["detail"].startswith("Missing: resolution summary")
    assert fresh(incident).status == Status.INVESTIGATING


def test_a_major_incident_needs_a_commander_to_investigate(as_role, acme, responder):
    major = declare(acme, responder, title="Everything down", severity=severity(acme, "SEV-1"))
    client, _ = as_role(Role.RESPONDER)

    response = client.post(transition(major.key, "start_investigation"), {}, format="json")

    assert response.status_code == 409
    assert [m["field"] for m in response.json()["missing"]] == ["commander_for_major"]
    assert fresh(major).status == Status.REPORTED


def test_a_documented_incident_walks_to_closed(as_role, responder, incident):
    document(incident, responder)
    client, _ = as_role(Role.MANAGER)

    for name, target in [
        ("start_investigation", "investigating"),
        ("mitigate", "mitigated"),
        ("resolve", "resolved"),
        ("close", "closed"),
    ]:
        response = client.post(transition(incident.key, name), {}, format="json")
        assert response.status_code == 200, response.json()
        assert response.json()["status"] == target


@pytest.mark.parametrize(
    ("name", "body", "field"),
    [
        ("dismiss", {}, "note"),
        ("dismiss", {"note": "   "}, "note"),
        ("mark_duplicate", {}, "duplicate_of"),
        ("mark_duplicate", {"duplicate_of": "ACME-999"}, "duplicate_of"),
    ],
)
def test_a_transition_without_what_it_needs_is_422(as_role, incident, name, body, field):
    client, _ = as_role(Role.RESPONDER)

    response = client.post(transition(incident.key, name), body, format="json")

    assert response.status_code == 422
    assert field in response.json()["fields"]
    assert fresh(incident).status == Status.REPORTED


def test_a_transition_not_possible_now_is_422_and_an_unknown_one_404(as_role, incident):
    client, _ = as_role(Role.RESPONDER)

    not_now = client.post(transition(incident.key, "close"), {}, format="json")
    unknown = client.post(transition(incident.key, "explode"), {}, format="json")
    bad_type = client.post(transition(incident.key, "dismiss"), {"note": ["a"]}, format="json")

    assert not_now.status_code == 422
    assert "not possible while the incident is reported" in str(not_now.json()["fields"])
    assert unknown.status_code == 404
    assert bad_type.status_code == 400
    assert fresh(incident).status == Status.REPORTED


def test_mark_duplicate_joins_the_primary(as_role, acme, responder, incident):
    primary = declare(acme, responder, title="The real one")
    client, _ = as_role(Role.RESPONDER)

    response = client.post(
        transition(incident.key, "mark_duplicate"), {"duplicate_of": primary.key}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["duplicate_of"] == primary.key


def test_a_restricted_primary_the_reader_cannot_see_is_unknown(as_role, acme, responder, incident):
    secret = declare(acme, responder, title="Breach", is_restricted=True)
    client, _ = as_role(Role.RESPONDER)

    response = client.post(
        transition(incident.key, "mark_duplicate"), {"duplicate_of": secret.key}, format="json"
    )

    assert response.status_code == 422
    assert fresh(incident).status == Status.REPORTED


@pytest.mark.parametrize("role", [Role.VIEWER, Role.COMPLIANCE])
def test_roles_that_may_not_transition_get_403(as_role, incident, role):
    client, _ = as_role(role)

    response = client.post(transition(incident.key, "dismiss"), {"note": "x"}, format="json")

    assert response.status_code == 403
    assert fresh(incident).status == Status.REPORTED


def test_a_stale_version_on_a_transition_is_409(as_role, incident):
    client, _ = as_role(Role.RESPONDER)

    response = client.post(
        transition(incident.key, "dismiss"), {"note": "x", "version": 99}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "stale_version"
    assert fresh(incident).status == Status.REPORTED


def test_only_the_commander_or_a_manager_changes_the_severity(
    as_role, acme, responder, other_responder
):
    commanded = declare(acme, responder, title="Down", commander=other_responder)
    client, _ = as_role(Role.RESPONDER)

    response = client.patch(
        detail(commanded.key),
        {"version": 1, "severity": severity(acme, "SEV-2").pk, "severity_reason": "worse"},
        format="json",
    )

    assert response.status_code == 403
    assert "commander" in response.json()["detail"]
    assert fresh(commanded).severity.name == "SEV-3"


def test_expired_and_revoked_tokens_cannot_read_or_write_incidents(
    api, make_token, acme, make_member, incident
):
    import datetime

    from django.utils import timezone

    from api.models import ApiToken
    from api.services import token_revoke

    member = make_member(acme, Role.RESPONDER)
    expired, revoked = make_token(member, name="old"), make_token(member, name="gone")
    with scopes_disabled():
        ApiToken.objects.filter(name="old").update(
            expires_at=timezone.now() - datetime.timedelta(seconds=1)
        )
        token_revoke(token=ApiToken.objects.get(name="gone"))

    for token in (expired, revoked):
        client = api(token)
        assert client.get(LIST).status_code == 401
        assert client.get(detail(incident.key)).status_code == 401
        assert client.post(LIST, {"title": "x"}, format="json").status_code == 401
        dismiss = client.post(transition(incident.key, "dismiss"), {"note": "x"}, format="json")
        assert dismiss.status_code == 401
    assert count_incidents(acme) == 1
    assert fresh(incident).status == Status.REPORTED
