"""People, components and messages for the status page tests: a responder drafts, two
spokespersons approve and publish; acme's public page is on."""

import pytest
from django_scopes import scopes_disabled

from incidents.statuspage import services
from incidents.statuspage.models import (
    Component,
    ComponentState,
    ExternalMessage,
    Spokesperson,
    StatusPageSettings,
)
from tenancy.roles import Role
from tenancy.scoping import org_scope
from tests.incidents.factories import declare


@pytest.fixture
def speaker(acme, make_member):
    """A spokesperson (a manager by role)."""
    user = make_member(acme, Role.MANAGER, email="sam@acme.test", full_name="Sam Speaker").user
    Spokesperson.objects.create(organization=acme, user=user)
    return user


@pytest.fixture
def second_speaker(acme, make_member):
    user = make_member(acme, Role.RESPONDER, email="sue@acme.test", full_name="Sue Second").user
    Spokesperson.objects.create(organization=acme, user=user)
    return user


@pytest.fixture
def page_on(acme):
    return StatusPageSettings.objects.create(
        organization=acme, is_public=True, title="Acme status", introduction="Our services."
    )


@pytest.fixture
def payments(acme):
    return Component.objects.create(organization=acme, name="Card payments", order=1)


@pytest.fixture
def dashboard(acme):
    return Component.objects.create(organization=acme, name="Dashboard", order=2)


@pytest.fixture
def incident(acme, responder):
    return declare(acme, responder, title="Checkout fails")


@pytest.fixture
def queued(monkeypatch):
    """Celery .delay() calls of the status page and the delivery task, recorded instead of
    sent to Redis: {"subscribers": [(org_id, message_id)], "deliveries": [...]}."""
    from incidents import tasks as incident_tasks
    from incidents.statuspage import tasks

    calls = {"subscribers": [], "deliveries": []}
    monkeypatch.setattr(
        tasks.notify_subscribers_task, "delay", lambda *a: calls["subscribers"].append(a)
    )
    monkeypatch.setattr(
        incident_tasks.deliver_task, "delay", lambda *a: calls["deliveries"].append(a)
    )
    return calls


def draft(org, actor, *, affected=None, incident=None, **fields):
    fields.setdefault("title", "Card payments: we are investigating")
    fields.setdefault("body", "Some card payments fail. We are on it.")
    with org_scope(org):
        return services.message_create(
            organization=org, actor=actor, affected=affected or {}, incident=incident, **fields
        )


def approve(org, actor, message):
    with org_scope(org):
        return services.message_approve(organization=org, actor=actor, message=message)


def publish(org, actor, message, **kwargs):
    with org_scope(org):
        return services.message_publish(organization=org, actor=actor, message=message, **kwargs)


def fresh(message) -> ExternalMessage:
    with scopes_disabled():
        return ExternalMessage.objects.get(pk=message.pk)


def component_state(component) -> str:
    with scopes_disabled():
        return Component.objects.get(pk=component.pk).state


@pytest.fixture
def published(acme, responder, speaker, payments, queued, page_on):
    """A message Rita drafted, Sam approved and published: payments in a partial outage."""
    message = draft(acme, responder, affected={payments: ComponentState.PARTIAL_OUTAGE})
    approve(acme, speaker, message)
    return publish(acme, speaker, message)
