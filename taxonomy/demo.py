"""Demo taxonomy per organisation: services, escalation paths, rules and custom fields."""

from taxonomy.defaults import seed_taxonomy_defaults
from taxonomy.models import (
    Category,
    ClassificationRule,
    CustomFieldDefinition,
    EscalationPath,
    EscalationStep,
    Service,
    SeverityLevel,
)
from tenancy.models import Organization, Team
from tenancy.roles import Role

SERVICES = {
    "acme": [
        ("Checkout", 1, "Payments", "https://status.acme.test/checkout"),
        ("Card Authorisation", 1, "Payments", ""),
        ("Merchant Portal", 2, "Platform", ""),
        ("Ledger", 1, "Platform", ""),
        ("Identity", 1, "Security", ""),
        ("Reporting API", 3, "Platform", ""),
    ],
    "globex": [
        ("Grid Telemetry", 1, "Grid Operations", ""),
        ("Customer Portal", 2, "Networking", ""),
        ("Billing", 2, "Grid Operations", ""),
        ("SCADA Gateway", 1, "Networking", ""),
    ],
}

RULES = [
    # name, words, category, severity level
    ("Card declines are payments incidents", "declin", "Third-party", None),
    ("Database words", "database", "Database", None),
    ("Suspicious access is security", "suspicious", "Security", 2),
]

CUSTOM_FIELDS = [
    {
        "key": "customer_impact",
        "label": "Customer impact",
        "field_type": "choice",
        "choices": ["none", "degraded", "outage"],
        "required_from": "resolved",
        "is_regulatory": True,
    },
    {
        "key": "affected_customers",
        "label": "Affected customers",
        "field_type": "number",
        "required_from": "",
    },
    {
        "key": "customer_contact",
        "label": "Customer contact (PII)",
        "field_type": "text",
        "is_sensitive": True,
    },
    {
        "key": "regulator_notified",
        "label": "Regulator notified",
        "field_type": "boolean",
        "is_regulatory": True,
    },
]


def seed_taxonomy(org: Organization) -> None:
    """Idempotent: creates only what is missing."""
    seed_taxonomy_defaults(org)
    teams = {t.name: t for t in Team.objects.filter(organization=org)}
    for name, tier, team_name, url in SERVICES.get(org.slug, []):
        if not Service.objects.filter(organization=org, name=name).exists():
            Service.objects.create(
                organization=org,
                name=name,
                tier=tier,
                owning_team=teams.get(team_name),
                health_check_url=url,
            )
    severities = {s.level: s for s in SeverityLevel.objects.filter(organization=org)}
    categories = {c.name: c for c in Category.objects.filter(organization=org)}
    first_team = next(iter(teams.values()), None)
    for level, steps in (
        (1, [(0, "team"), (5, "role"), (15, "role_admin")]),
        (2, [(0, "team"), (15, "role")]),
        (3, [(0, "team")]),
        (4, [(60, "team")]),
    ):
        severity = severities.get(level)
        if (
            severity is None
            or EscalationPath.objects.filter(
                organization=org, severity=severity, category=None
            ).exists()
        ):
            continue
        path = EscalationPath.objects.create(
            organization=org, name=f"{severity.name} default", severity=severity
        )
        for position, (delay, target) in enumerate(steps, start=1):
            step = EscalationStep(
                organization=org, path=path, position=position, delay_minutes=delay
            )
            if target == "team" and first_team is not None:
                step.target_kind, step.team = "team", first_team
            elif target == "role_admin":
                step.target_kind, step.role = "role", Role.ADMIN
            else:
                step.target_kind, step.role = "role", Role.MANAGER
            step.save()
    for position, (name, words, category, level) in enumerate(RULES, start=1):
        if ClassificationRule.objects.filter(organization=org, name=name).exists():
            continue
        ClassificationRule.objects.create(
            organization=org,
            name=name,
            position=position * 10,
            match_text=words,
            set_category=categories.get(category),
            set_severity=severities.get(level) if level else None,
        )
    for position, spec in enumerate(CUSTOM_FIELDS, start=1):
        if not CustomFieldDefinition.objects.filter(organization=org, key=spec["key"]).exists():
            CustomFieldDefinition.objects.create(organization=org, position=position * 10, **spec)
