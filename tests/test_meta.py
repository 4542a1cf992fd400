"""Meta-tests that keep the tenancy and audit rules true as Vigil grows."""

import re

import pytest
from auditlog.registry import auditlog
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver
from django_scopes.manager import DisabledQuerySet

from accounts.models import SecurityEvent, UserSession
from api.models import IdempotencyRecord
from compliance.models import AuditChain
from incidents.models import IncidentGroupObjectPermission, IncidentUserObjectPermission, KeyCounter
from integrations.models import Alert, AlertGroup, RawPayload, SignatureSeen
from reporting.models import Rollup, RollupBar, RollupDay, RollupDirty
from tenancy.models import AuditEntry, Organization, OrgOwned, User

VIGIL_APPS = {
    "tenancy",
    "taxonomy",
    "incidents",
    "incident_channels",
    "statuspage",
    "integrations",
    "postmortems",
    "compliance",
    "compliance_reports",
    "compliance_reviews",
    "compliance_retention",
    "reporting",
    "ticketing",
    "api",
    "accounts",
}

ROLLUPS = {
    model: "derived numbers (reporting.rollups): written and read only by that module's SQL, "
    "always by organisation_id, rebuilt from the incidents at any time"
    for model in (Rollup, RollupBar, RollupDay, RollupDirty)
}

# Models that are not tenant-owned, each with the reason.
NOT_TENANT_OWNED = {
    **ROLLUPS,
    Organization: "the tenant itself",
    User: "a person; reaches organisations through memberships",
    IncidentUserObjectPermission: "guardian grant; reaches its org through the incident and is "
    "read only through incidents.selectors (a subquery of the scoped incident list)",
    IncidentGroupObjectPermission: "guardian grant; as above",
    UserSession: "a person's browser session; reaches organisations through the user",
    SecurityEvent: "sign-in events of a person (or of an unknown address): not one org's",
}
# Models that are not audited, each with the reason.
NOT_AUDITED = {
    IdempotencyRecord: "which request an Idempotency-Key answered (status, object), kept 24 "
    "hours; the writes it stands for are audited themselves",
    **ROLLUPS,
    AuditEntry: "the audit trail itself",
    KeyCounter: "a counter bumped in SQL; each number's use is audited as its incident's creation",
    RawPayload: "machine input, stored verbatim: the row is its own record",
    Alert: "machine input, normalised from a stored raw payload",
    AlertGroup: "machine state derived from alerts (links to incidents are on the timeline)",
    SignatureSeen: "replay guard for HMAC signatures",
    AuditChain: "the audit chain's own bookkeeping (anchor, last verification); auditing it "
    "would grow the chain it verifies",
    UserSession: "an index of live sessions, rewritten at every sign-in and sign-out",
    SecurityEvent: "the security log: append-only record of sign-in events itself",
}


def vigil_models():
    return [m for m in apps.get_models() if m._meta.app_label in VIGIL_APPS]


def test_every_tenant_owned_model_has_the_org_link_and_the_scoped_default_manager():
    for model in vigil_models():
        if model in NOT_TENANT_OWNED:
            continue
        field = model._meta.get_field("organization")
        assert field.related_model is Organization, f"{model.__name__}.organization"
        manager = model._default_manager
        assert hasattr(manager, "with_scopes_disabled"), f"{model.__name__} is not scoped"
        assert isinstance(manager.get_queryset(), DisabledQuerySet), (
            f"{model.__name__}.objects reads without a scope"
        )


def test_tenant_owned_models_inherit_orgowned_or_are_the_audit_entry():
    for model in vigil_models():
        if model in NOT_TENANT_OWNED or model is AuditEntry:
            continue
        assert issubclass(model, OrgOwned), model.__name__


def test_every_vigil_model_is_registered_with_auditlog():
    for model in vigil_models():
        if model in NOT_AUDITED:
            continue
        assert auditlog.contains(model), f"{model.__name__} is not audited"


def _walk(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry


# URL prefixes that are not organisation pages, each with the reason.
NOT_UNDER_ORG = {
    "": "redirects to the user's organisation",
    "healthz": "probe",
    "readyz": "probe",
    "accounts/": "sign-in, password and invitation pages",
    "admin/": "the cross-tenant staff admin",
    "hooks/": "monitoring tools authenticate with the source's secret, not a login",
    "api/": "the REST API: a personal token names the user and the organisation",
    "static/": "assets",
    "status/": "the organisation's public status page: no login, published messages only",
}


def all_routes():
    return list(_walk(get_resolver().url_patterns))


def test_every_domain_url_sits_under_the_org_slug():
    for route, _ in all_routes():
        if route.startswith("o/<slug:org_slug>/"):
            continue
        assert route == "" or any(route.startswith(p) for p in NOT_UNDER_ORG if p), route


SAMPLE_VALUES = {
    "int": "1",
    "slug": "x",
    "str": "ACME-1",
    "uuid": "00000000-0000-0000-0000-000000000001",
    "path": "x",
}


def fill(route: str, org_slug: str) -> str:
    def value(match):
        converter, name = match.group(1) or "str", match.group(2)
        if name == "org_slug":
            return org_slug
        return SAMPLE_VALUES[converter]

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", value, route)


@pytest.mark.django_db
def test_a_user_of_another_organisation_gets_404_on_every_org_url(
    acme, globex_admin, login, acme_admin
):
    client = login(globex_admin.user)
    org_routes = [r for r, _ in all_routes() if r.startswith("o/<slug:org_slug>/")]
    assert len(org_routes) >= 10
    for route in org_routes:
        url = fill(route, "acme")
        for method in (client.get, client.post):
            response = method(url)
            assert response.status_code == 404, f"{method.__name__.upper()} {url}"
            assert b"Acme" not in response.content, url


@pytest.mark.django_db
def test_an_unknown_organisation_and_a_foreign_one_look_the_same(globex_admin, acme, login):
    client = login(globex_admin.user)
    foreign = client.get("/o/acme/")
    unknown = client.get("/o/no-such-org/")
    assert foreign.status_code == unknown.status_code == 404

    def normalised(response):
        content = re.sub(rb'"X-CSRFToken": "[^"]*"', b"", response.content)
        return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]*"', b"", content)

    assert normalised(foreign) == normalised(unknown)
