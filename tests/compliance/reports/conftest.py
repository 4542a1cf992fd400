"""Reports tests: compliance staff, the default frameworks, an incident with regulatory facts,
and pdftotext."""

import subprocess
from datetime import UTC, datetime

import pytest
from django_scopes import scopes_disabled

from compliance.frameworks import ensure_frameworks
from compliance.models import IncidentFacts, IncidentObligation, Obligation
from tenancy.roles import Role
from tenancy.scoping import org_scope
from tests.incidents.factories import declare

DETECTED = datetime(2026, 3, 2, 8, 15, tzinfo=UTC)
AWARE = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
DUE = datetime(2026, 3, 5, 9, 30, tzinfo=UTC)


def pdf_text(data: bytes, *, layout: bool = False) -> str:
    """The text of a PDF, as pdftotext (poppler-utils) extracts it."""
    args = ["pdftotext", *(["-layout"] if layout else []), "-", "-"]
    done = subprocess.run(args, input=bytes(data), capture_output=True, check=True)  # noqa: S603
    return done.stdout.decode()


def pdf_pages(data: bytes) -> list[str]:
    """The text of each page (pdftotext separates pages with form feeds)."""
    return [page for page in pdf_text(data).split("\f") if page.strip()]


@pytest.fixture
def compliance_user(acme, make_member):
    member = make_member(acme, Role.COMPLIANCE, email="cora@acme.test", full_name="Cora Compliance")
    return member.user


@pytest.fixture
def frameworks(acme):
    ensure_frameworks(acme.pk)
    return acme


def obligation(org, key) -> Obligation:
    with scopes_disabled():
        return Obligation.objects.select_related("framework").get(organization=org, key=key)


@pytest.fixture
def breach(acme, frameworks, responder):
    """A personal-data breach at acme with its regulatory facts and a tracked GDPR Art. 33
    obligation (due 72 h after awareness)."""
    incident = declare(
        acme,
        responder,
        title="Customer export bucket public",
        description="An export bucket was public; contact dpo@acme.test or +49 30 1234 5678.",
        detected_at=DETECTED,
        commander=responder,
    )
    with org_scope(acme):
        IncidentFacts.objects.create(
            organization=acme,
            incident=incident,
            aware_at=AWARE,
            personal_data_breach=True,
            subjects_affected=1200,
            data_categories="names, e-mail addresses",
            major_ict=True,
            material=True,
            phi_breach=True,
            financial_system=True,
        )
        IncidentObligation.objects.create(
            organization=acme,
            incident=incident,
            obligation=obligation(acme, "gdpr-art33"),
            clock_started_at=AWARE,
            due_at=DUE,
        )
    return incident
