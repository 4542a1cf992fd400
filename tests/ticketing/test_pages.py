"""The ticketing pages: admins create, edit, disable, rotate and delete; other roles are
refused and nothing changes; another organisation gets 404; secrets never rendered back."""

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from integrations.models import hash_secret
from integrations.ticketing import sync
from integrations.ticketing.models import TicketIntegration
from tenancy.models import AuditEntry
from tenancy.roles import Role
from tests.ticketing.conftest import JIRA_TOKEN, jira_fields, make_integration

pytestmark = pytest.mark.django_db


def url(name, org="acme", **kwargs):
    return reverse(f"ticketing:{name}", kwargs={"org_slug": org, **kwargs})


def form_data(**overrides) -> dict:
    data = {
        "name": "Ops Jira",
        "kind": "jira",
        "base_url": "https://example.atlassian.net/",
        "auth_scheme": "basic",
        "username": "bot@acme.test",
        "credential": JIRA_TOKEN,
        "credential_env": "",
        "project_key": "OPS",
        "issue_type": "Task",
        "resolve_transition": "Done",
        "close_transition": "",
        "table": "incident",
        "resolved_state": "6",
        "closed_state": "7",
        "close_code": "Solved (Permanently)",
        "mirror": "all",
        "min_severity": "",
    }
    return {**data, **overrides}


def integrations():
    with scopes_disabled():
        return list(TicketIntegration.objects.order_by("pk"))


@pytest.fixture
def existing(acme_admin):
    integration, secret = make_integration(acme_admin, jira_fields("https://jira.example"))
    return integration


def test_an_admin_creates_a_tracker_and_sees_the_secret_once(login, admin):
    client = login(admin)
    response = client.post(url("integration_create"), form_data())

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    [integration] = integrations()
    secret = response.context["secret"]
    assert hash_secret(secret) == integration.webhook_secret_hash
    assert f"?secret={secret}" in response.content.decode()
    assert integration.base_url == "https://example.atlassian.net"
    assert sync.credential(integration) == JIRA_TOKEN
    assert JIRA_TOKEN not in integration.credential_encrypted
    for page in (
        url("integration_detail", pk=integration.pk),
        url("integration_update", pk=integration.pk),
        url("integration_list"),
    ):
        html = client.get(page).content.decode()
        assert secret not in html
        assert JIRA_TOKEN not in html
        assert integration.credential_encrypted not in html
    with scopes_disabled():
        entry = AuditEntry.objects.filter(object_pk=str(integration.pk)).first()
    assert entry is not None
    assert "credential_encrypted" not in (entry.changes or {})


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"base_url": "ftp://example.com"}, "base_url", "Use an http:// or https:// address."),
        ({"base_url": "javascript:alert(1)"}, "base_url", "Use an http:// or https:// address."),
        ({"base_url": "https://"}, "base_url", "Enter a valid address"),
        ({"base_url": "https://x.test/?a=1"}, "base_url", "no query"),
        ({"project_key": "ops-1"}, "project_key", "A Jira project key"),
        ({"project_key": ""}, "project_key", "A Jira project key"),
        ({"issue_type": ""}, "issue_type", "Name the issue type"),
        ({"credential": ""}, "credential", "Give an environment reference"),
        ({"credential_env": "env:VIGIL_TICKETING_TOKEN"}, "credential", "not both"),
        (
            {"credential": "", "credential_env": "TOKEN"},
            "credential_env",
            "env:VIGIL_TICKETING_NAME",
        ),
        ({"credential": "", "credential_env": "env:bad name"}, "credential_env", "environment"),
        (
            {"credential": "", "credential_env": "env:SECRET_KEY"},
            "credential_env",
            "VIGIL_TICKETING_",
        ),
        ({"credential": "x" * 2001}, "credential", "at most 2000"),
        ({"username": ""}, "username", "Basic authentication needs"),
        ({"mirror": "min_severity"}, "min_severity", "Choose the weakest"),
        ({"kind": "servicenow", "table": "Incident!"}, "table", "A table name"),
        ({"kind": "servicenow", "resolved_state": "done"}, "resolved_state", "A state value"),
        ({"kind": "servicenow", "auth_scheme": "bearer"}, "auth_scheme", "basic"),
        ({"kind": "gitlab"}, "kind", "Select a valid choice"),
        ({"name": ""}, "name", "required"),
    ],
)
def test_bad_input_is_named_and_creates_nothing(login, admin, overrides, field, message):
    response = login(admin).post(url("integration_create"), form_data(**overrides))
    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors.get(field, []))
    assert message.lower() in errors.lower()
    assert integrations() == []


def test_another_organisations_severity_cannot_be_chosen(login, admin, globex):
    from tests.incidents.factories import severity

    other = severity(globex, "SEV-2")
    response = login(admin).post(
        url("integration_create"), form_data(mirror="min_severity", min_severity=other.pk)
    )
    assert "min_severity" in response.context["form"].errors
    assert integrations() == []


def test_a_duplicate_name_is_refused(login, admin, existing):
    response = login(admin).post(url("integration_create"), form_data(name=existing.name))
    assert "Another integration has this name." in response.context["form"].errors["name"]
    assert len(integrations()) == 1


def test_editing_keeps_the_stored_credential_when_left_empty(login, admin, existing):
    client = login(admin)
    before = existing.credential_encrypted
    response = client.post(
        url("integration_update", pk=existing.pk),
        form_data(name="Renamed", credential="", base_url="http://jira.internal:8080"),
    )
    assert response.status_code == 302
    [integration] = integrations()
    assert (integration.name, integration.base_url) == ("Renamed", "http://jira.internal:8080")
    assert integration.credential_encrypted == before
    assert sync.credential(integration) == JIRA_TOKEN


def test_editing_can_switch_to_an_environment_reference(login, admin, existing):
    login(admin).post(
        url("integration_update", pk=existing.pk),
        form_data(credential="", credential_env="env:VIGIL_TICKETING_JIRA"),
    )
    [integration] = integrations()
    assert (integration.credential_env, integration.credential_encrypted) == (
        "VIGIL_TICKETING_JIRA",
        "",
    )


def test_a_bad_edit_changes_nothing(login, admin, existing):
    response = login(admin).post(
        url("integration_update", pk=existing.pk), form_data(base_url="file:///etc/passwd")
    )
    assert response.status_code == 200
    assert integrations()[0].base_url == "https://jira.example"


def test_disable_rotate_and_delete(login, admin, existing):
    client = login(admin)
    old_hash = existing.webhook_secret_hash

    client.post(url("integration_toggle", pk=existing.pk), {"enabled": "0"})
    assert integrations()[0].is_enabled is False
    rotated = client.post(url("integration_rotate", pk=existing.pk))
    assert hash_secret(rotated.context["secret"]) == integrations()[0].webhook_secret_hash
    assert integrations()[0].webhook_secret_hash != old_hash
    client.post(url("integration_delete", pk=existing.pk))
    assert integrations() == []


@pytest.mark.parametrize("role", [Role.VIEWER, Role.RESPONDER, Role.MANAGER, Role.COMPLIANCE])
def test_other_roles_are_refused_and_nothing_changes(login, acme, make_member, existing, role):
    client = login(make_member(acme, role).user)
    pk = existing.pk
    assert client.get(url("integration_list")).status_code == 403
    assert client.get(url("integration_detail", pk=pk)).status_code == 403
    assert client.post(url("integration_create"), form_data(name="Mine")).status_code == 403
    assert client.post(url("integration_update", pk=pk), form_data(name="X")).status_code == 403
    assert client.post(url("integration_toggle", pk=pk), {"enabled": "0"}).status_code == 403
    assert client.post(url("integration_rotate", pk=pk)).status_code == 403
    assert client.post(url("integration_delete", pk=pk)).status_code == 403
    [integration] = integrations()
    assert (integration.name, integration.is_enabled) == (existing.name, True)
    assert integration.webhook_secret_hash == existing.webhook_secret_hash


def test_another_organisation_gets_404(login, stranger, existing):
    client = login(stranger)
    pk = existing.pk
    assert client.get(url("integration_list")).status_code == 404
    assert client.get(url("integration_detail", pk=pk)).status_code == 404
    assert client.post(url("integration_delete", pk=pk)).status_code == 404
    # …and from its own organisation, acme's integration does not exist.
    assert client.get(url("integration_detail", org="globex", pk=pk)).status_code == 404
    assert client.post(url("integration_delete", org="globex", pk=pk)).status_code == 404
    assert len(integrations()) == 1


def test_the_detail_page_shows_the_call_log(login, admin, acme, responder, existing):
    from tests.incidents.factories import declare

    incident = declare(acme, responder)
    page = login(admin).get(url("integration_detail", pk=existing.pk)).content.decode()
    assert incident.key in page
    assert "Create ticket" in page
    assert "Pending" in page
