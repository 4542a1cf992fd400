"""Factories for taxonomy rows, and helpers that declare incidents and walk them through their
lifecycle with the real services (so every row an incident needs is there)."""

import factory
from django_scopes import scopes_disabled

from incidents import services
from incidents.lifecycle import Status
from incidents.models import Incident
from taxonomy.models import (
    Category,
    ClassificationRule,
    CustomFieldDefinition,
    Service,
    SeverityLevel,
)
from tenancy.scoping import org_scope
from tests.factories import OrganizationFactory, OrgOwnedFactory


class CategoryFactory(OrgOwnedFactory):
    class Meta:
        model = Category

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Category {n}")


class ServiceFactory(OrgOwnedFactory):
    class Meta:
        model = Service

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Service {n}")


class ClassificationRuleFactory(OrgOwnedFactory):
    class Meta:
        model = ClassificationRule

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Rule {n}")


class CustomFieldDefinitionFactory(OrgOwnedFactory):
    class Meta:
        model = CustomFieldDefinition

    organization = factory.SubFactory(OrganizationFactory)
    key = factory.Sequence(lambda n: f"field_{n}")
    label = factory.Sequence(lambda n: f"Field {n}")
    field_type = CustomFieldDefinition.FieldType.TEXT


def severity(organization, name: str) -> SeverityLevel:
    """One of the organisation's default levels (SEV-1 … SEV-4), seeded when it was created."""
    with scopes_disabled():
        return SeverityLevel.objects.get(organization=organization, name=name)


def fresh(incident: Incident) -> Incident:
    """The incident as stored now (services lock and return their own copy)."""
    with scopes_disabled():
        return Incident.objects.get(pk=incident.pk)


def declare(organization, actor, title: str = "Checkout fails", **kwargs) -> Incident:
    """Declare an incident through the service, SEV-3 unless told otherwise."""
    kwargs.setdefault("severity", severity(organization, "SEV-3"))
    with org_scope(organization):
        return services.incident_create(
            organization=organization, actor=actor, title=title, **kwargs
        )


def pass_verification(incident: Incident, actor) -> None:
    """A confirmation, asked of and answered by `actor`, that the fix works."""
    with org_scope(incident.organization_id):
        verification = services.verification_request_confirmation(
            incident=incident, actor=actor, confirmer=actor
        )
        services.verification_confirm(verification=verification, actor=actor, passed=True)


def document(incident: Incident, actor) -> Incident:
    """Fill everything the lifecycle asks for: summaries, root cause, a passed verification."""
    with org_scope(incident.organization_id):
        services.incident_update(
            incident=incident,
            actor=actor,
            changes={
                "impact_summary": "Card payments failed for some customers.",
                "resolution_summary": "Rolled back the release.",
                "root_cause_category": Incident.RootCause.CODE_CHANGE,
            },
        )
    pass_verification(incident, actor)
    return fresh(incident)


# The transitions that lead from "reported" to each state.
PATHS = {
    Status.REPORTED: [],
    Status.INVESTIGATING: ["start_investigation"],
    Status.MITIGATED: ["start_investigation", "mitigate"],
    Status.RESOLVED: ["start_investigation", "resolve"],
    Status.CLOSED: ["start_investigation", "resolve", "close"],
    Status.DISMISSED: ["dismiss"],
    Status.DUPLICATE: ["mark_duplicate"],
}


def transition(incident: Incident, name: str, actor, **kwargs) -> Incident:
    """Run one transition with what it needs besides requirements (a note, a primary)."""
    extra = {
        "dismiss": {"note": "False positive: a synthetic probe."},
        "reopen": {"note": "It broke again."},
    }.get(name, {})
    if name == "mark_duplicate" and "duplicate_of" not in kwargs:
        extra = {"duplicate_of": declare(incident.organization, actor, title="The real one")}
    with org_scope(incident.organization_id):
        return services.incident_transition(
            incident=incident, name=name, actor=actor, **{**extra, **kwargs}
        )


def bring_to(incident: Incident, status: str, actor) -> Incident:
    """Walk a documented incident to `status`."""
    for name in PATHS[status]:
        incident = transition(incident, name, actor)
    return fresh(incident)
