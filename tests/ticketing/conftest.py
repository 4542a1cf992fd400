"""Stand-in trackers and integrations for the ticketing tests."""

import pytest
from django_scopes import scopes_disabled

from integrations.ticketing import services, sync
from integrations.ticketing.models import TicketCall, TicketIntegration
from tenancy.scoping import org_scope
from tests import logcanary
from tests.ticketing.standins import FakeJira, FakeServiceNow, basic

JIRA_USER, JIRA_TOKEN = "bot@acme.test", logcanary.TICKETING_TOKEN
SNOW_USER, SNOW_PASSWORD = "vigil.integration", logcanary.TICKETING_PASSWORD


@pytest.fixture
def jira():
    stand_in = FakeJira(basic(JIRA_USER, JIRA_TOKEN))
    yield stand_in
    stand_in.close()


@pytest.fixture
def servicenow():
    stand_in = FakeServiceNow(basic(SNOW_USER, SNOW_PASSWORD))
    yield stand_in
    stand_in.close()


def jira_fields(url: str, **overrides) -> dict:
    fields = {
        "name": "Ops Jira",
        "kind": TicketIntegration.Kind.JIRA,
        "base_url": url,
        "auth_scheme": TicketIntegration.AuthScheme.BASIC,
        "username": JIRA_USER,
        "credential": JIRA_TOKEN,
        "project_key": "OPS",
        "issue_type": "Task",
        "resolve_transition": "Done",
        "close_transition": "",
        "mirror": TicketIntegration.Mirror.ALL,
    }
    return {**fields, **overrides}


def servicenow_fields(url: str, **overrides) -> dict:
    fields = {
        "name": "ServiceNow",
        "kind": TicketIntegration.Kind.SERVICENOW,
        "base_url": url,
        "auth_scheme": TicketIntegration.AuthScheme.BASIC,
        "username": SNOW_USER,
        "credential": SNOW_PASSWORD,
        "table": "incident",
        "resolved_state": "6",
        "closed_state": "7",
        "close_code": "Solved (Permanently)",
        "mirror": TicketIntegration.Mirror.ALL,
    }
    return {**fields, **overrides}


def make_integration(membership, fields: dict):
    """(integration, webhook secret) created through the service."""
    return services.integration_create(
        organization=membership.organization, actor=membership, **fields
    )


def calls(**filters) -> list[TicketCall]:
    with scopes_disabled():
        return list(TicketCall.objects.filter(**filters).order_by("pk"))


def send_all(now=None) -> None:
    """Send every pending call once, in order (what the Celery task does per call)."""
    for call in calls(status=TicketCall.Status.PENDING):
        with org_scope(call.organization_id):
            sync.send(call=TicketCall.objects.get(pk=call.pk), now=now)
