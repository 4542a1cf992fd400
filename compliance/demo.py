"""Demo compliance data: regulatory facts on three demo incidents — an open personal-data breach
(GDPR Art. 33 running), a material incident whose 8-K was submitted, and one touching a financial
system (SOX evidence, no deadline) — recorded through the services by the compliance demo user.

Idempotent: an organisation whose incidents already carry facts is left alone."""

from datetime import timedelta

from django.utils import timezone

from compliance import obligations
from compliance.frameworks import ensure_frameworks
from compliance.models import IncidentFacts, IncidentObligation
from incidents.models import Incident
from tenancy.models import Membership, Organization
from tenancy.roles import Role


def seed_compliance(org: Organization) -> None:
    ensure_frameworks(org.pk)
    if IncidentFacts.objects.filter(organization=org).exists():
        return
    clerk = (
        Membership.objects.filter(organization=org, role__in=[Role.COMPLIANCE, Role.ADMIN])
        .order_by("-role")
        .select_related("user")
        .first()
    )
    if clerk is None:
        return
    actor = clerk.user
    candidates = list(
        Incident.objects.filter(
            organization=org, kind=Incident.Kind.REAL, is_restricted=False, duplicate_of=None
        ).order_by("-number")[:40]
    )
    open_ones = [i for i in candidates if i.status not in ("resolved", "closed")]
    done = [i for i in candidates if i.status in ("resolved", "closed")]
    now = timezone.now()
    if open_ones:
        incident = open_ones[0]
        obligations.save_facts(
            incident,
            actor=actor,
            data={
                "personal_data_breach": True,
                "subjects_affected": 1850,
                "data_categories": "Names, e-mail addresses, masked card numbers",
                "aware_at": max(incident.reported_at, now - timedelta(hours=20)),
            },
        )
    if done:
        incident = done[0]
        obligations.save_facts(
            incident,
            actor=actor,
            data={
                "material": True,
                "materiality_determined_at": incident.reported_at + timedelta(hours=6),
            },
        )
        row = IncidentObligation.objects.filter(
            incident=incident, obligation__key="sec-8k-105"
        ).first()
        if row is not None:
            obligations.mark_submitted(
                row,
                actor=actor,
                submitted_at=min(now, incident.reported_at + timedelta(days=2)),
                reference="0001193125-26-000417",
            )
    if len(done) > 1:
        obligations.save_facts(done[1], actor=actor, data={"financial_system": True})
