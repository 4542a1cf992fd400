"""Helpers for the post-mortem core tests (policy, scheduling, document, workflow)."""

import datetime as dt

import pytest
from django_scopes import scopes_disabled

from incidents.models import Incident, Notification, TimelineEvent
from postmortems.models import ActionItem, PostMortem, PostMortemDecision
from tenancy.roles import Role
from tenancy.scoping import org_scope
from tests.incidents.factories import bring_to, declare, document, severity

UTC = dt.UTC


def at(day, hour=12, minute=0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def major(org, actor, title="Card payments fail", level="SEV-2", **fields) -> Incident:
    """A documented incident of `level` commanded by `actor`, still reported."""
    fields.setdefault("commander", actor)
    incident = declare(org, actor, title=title, severity=severity(org, level), **fields)
    return document(incident, actor)


def resolved(org, actor, **fields) -> Incident:
    return bring_to(major(org, actor, **fields), "resolved", actor)


def postmortem_of(incident) -> PostMortem | None:
    with scopes_disabled():
        return PostMortem.objects.filter(incident_id=incident.pk).first()


def decision_of(incident) -> PostMortemDecision | None:
    with scopes_disabled():
        return PostMortemDecision.objects.filter(incident_id=incident.pk).first()


def fresh_pm(postmortem) -> PostMortem:
    with scopes_disabled():
        return PostMortem.objects.get(pk=postmortem.pk)


def sent(kind) -> list[str]:
    with scopes_disabled():
        return list(
            Notification.objects.filter(kind=kind)
            .order_by("recipient__email")
            .values_list("recipient__email", flat=True)
        )


def incident_timeline(incident) -> list[str]:
    with scopes_disabled():
        return list(
            TimelineEvent.objects.filter(incident_id=incident.pk, kind="postmortem")
            .order_by("created_at", "pk")
            .values_list("message", flat=True)
        )


def fill(postmortem, actor, *, approver=None):
    """Write every section, a why, an action item and (optionally) an approver."""
    from postmortems import services

    with org_scope(postmortem.organization_id):
        postmortem = services.postmortem_update(
            postmortem=postmortem,
            actor=actor,
            changes={
                "summary": "Card payments failed for 40 minutes.",
                "customer_impact": "About 3 % of checkouts failed.",
                "detection": "The 5xx alert fired after 4 minutes.",
                "response": "The on-call drained the failing node.",
                "recovery": "The release was rolled back.",
            },
        )
        services.why_add(
            postmortem=postmortem,
            actor=actor,
            why="Why did payments fail?",
            because="The release had no canary stage.",
        )
        ActionItem.objects.create(
            organization_id=postmortem.organization_id, postmortem=postmortem, title="Add a canary"
        )
        if approver is not None:
            services.approvers_set(postmortem=postmortem, actor=actor, users=[approver])
    return fresh_pm(postmortem)


@pytest.fixture
def rita(acme, make_member):
    return make_member(acme, Role.RESPONDER, email="rita@acme.test", full_name="Rita Ramos").user


@pytest.fixture
def oscar(acme, make_member):
    return make_member(acme, Role.RESPONDER, email="oscar@acme.test", full_name="Oscar Olsen").user


@pytest.fixture
def mona(acme, make_member):
    return make_member(acme, Role.MANAGER, email="mona@acme.test", full_name="Mona Meyer").user


@pytest.fixture
def vera(acme, make_member):
    return make_member(acme, Role.VIEWER, email="vera@acme.test", full_name="Vera Vogel").user
