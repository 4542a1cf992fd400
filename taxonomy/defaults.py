"""Every organisation starts with sensible categories and severity levels it can edit."""

from decimal import Decimal

from django.db import transaction

from taxonomy.models import Category, OrgSettings, SeverityLevel
from tenancy.models import Organization

DEFAULT_CATEGORIES = [
    ("Network", "Connectivity, DNS, load balancers, CDN"),
    ("Application", "Our own services and their releases"),
    ("Database", "Primary stores, replicas, caches"),
    ("Infrastructure", "Compute, storage, clusters, cloud accounts"),
    ("Security", "Breaches, vulnerabilities, suspicious access"),
    ("Third-party", "Vendors, payment processors, SaaS we depend on"),
]

DEFAULT_SEVERITIES = [
    {
        "level": 1,
        "name": "SEV-1",
        "description": "Critical: major customer impact, data or regulatory exposure.",
        "requires_customer_visible": True,
        "min_users_affected_pct": Decimal(25),
        "min_downtime_minutes": 60,
        "on_revenue_at_risk": False,
        "on_data_at_risk": True,
        "on_regulatory_exposure": True,
    },
    {
        "level": 2,
        "name": "SEV-2",
        "description": "Major: customers see a degradation; revenue may be at risk.",
        "requires_customer_visible": True,
        "min_users_affected_pct": Decimal(5),
        "min_downtime_minutes": 15,
        "on_revenue_at_risk": True,
    },
    {
        "level": 3,
        "name": "SEV-3",
        "description": "Minor: limited or internal impact, a workaround exists.",
        "min_users_affected_pct": Decimal(1),
        "min_downtime_minutes": 5,
    },
    {
        "level": 4,
        "name": "SEV-4",
        "description": "Low: cosmetic or no user impact.",
    },
]


@transaction.atomic
def seed_taxonomy_defaults(organization: Organization) -> None:
    """Create the default categories, severity levels and settings that are missing.
    Idempotent; never changes what an organisation already edited."""
    OrgSettings.objects.with_scopes_disabled().get_or_create(organization=organization)
    existing = set(
        Category.objects.with_scopes_disabled()
        .filter(organization=organization)
        .values_list("name", flat=True)
    )
    for name, description in DEFAULT_CATEGORIES:
        if name not in existing:
            Category.objects.create(organization=organization, name=name, description=description)
    levels = set(
        SeverityLevel.objects.with_scopes_disabled()
        .filter(organization=organization)
        .values_list("level", flat=True)
    )
    for spec in DEFAULT_SEVERITIES:
        if spec["level"] not in levels:
            SeverityLevel.objects.create(organization=organization, **spec)
