"""Demo data: acme's public status page with components, a spokesperson, templates and one
published message. Idempotent: a second run changes nothing."""

from datetime import timedelta

from django.utils import timezone

from incidents.statuspage.models import (
    Component,
    ComponentState,
    ExternalMessage,
    MessageComponent,
    MessageState,
    MessageTemplate,
    PublicStatus,
    Spokesperson,
    StatusPageSettings,
)
from tenancy.models import Membership, Organization
from tenancy.roles import Role

COMPONENTS = [
    ("Card payments", "Authorisations and captures through the API and terminals."),
    ("Checkout", "Hosted checkout pages and payment links."),
    ("Merchant dashboard", "Reports, refunds and settings for merchants."),
    ("Payouts", "Settlement to merchants' bank accounts."),
    ("Public API", "REST API and webhooks."),
]
TEMPLATES = [
    (
        "Investigating",
        PublicStatus.INVESTIGATING,
        "{components}: we are investigating",
        "We are investigating reports of problems with {components}. Current status: "
        "{status}. We will post the next update by {next_update}.",
    ),
    (
        "Identified",
        PublicStatus.IDENTIFIED,
        "{components}: cause identified",
        "We have identified the cause of the problems with {components} and are working on "
        "a fix. Next update by {next_update}.",
    ),
    (
        "Resolved",
        PublicStatus.RESOLVED,
        "{components}: resolved",
        "The problems with {components} are resolved. Everything works normally again. "
        "We are sorry for the disruption.",
    ),
]


def seed_status_page(org: Organization) -> None:
    if org.slug != "acme" or StatusPageSettings.objects.filter(organization=org).exists():
        return
    StatusPageSettings.objects.create(
        organization=org,
        is_public=True,
        title="Acme Payments status",
        introduction="Live status of Acme's payment services. Subscribe to hear about changes.",
    )
    members = {m.role: m.user for m in Membership.objects.filter(organization=org)}
    spokesperson = members.get(Role.MANAGER) or members.get(Role.ADMIN)
    if spokesperson:
        Spokesperson.objects.create(organization=org, user=spokesperson)
    components = [
        Component.objects.create(organization=org, name=name, description=text, order=i * 10)
        for i, (name, text) in enumerate(COMPONENTS)
    ]
    for name, status, title, body in TEMPLATES:
        MessageTemplate.objects.create(
            organization=org, name=name, status=status, title=title, body=body
        )
    drafter = members.get(Role.RESPONDER) or spokesperson
    if drafter is None or spokesperson is None:
        return
    published = timezone.now() - timedelta(days=2, hours=3)
    message = ExternalMessage.objects.create(
        organization=org,
        title="Payouts: resolved",
        body="Payouts to some merchants were delayed by about two hours this morning. All "
        "delayed payouts have now been sent. We are sorry for the disruption.",
        status=PublicStatus.RESOLVED,
        state=MessageState.PUBLISHED,
        drafted_by=drafter,
        approved_by=spokesperson,
        approved_at=published,
        published_by=spokesperson,
        published_at=published,
        created_at=published - timedelta(minutes=20),
        updated_at=published,
    )
    MessageComponent.objects.create(
        organization=org,
        message=message,
        component=components[3],
        state=ComponentState.OPERATIONAL,
    )
