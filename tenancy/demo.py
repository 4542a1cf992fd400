"""Demo data: organisations, people and teams, plus a registry through which higher apps
(taxonomy, incidents, …) add their own demo rows without tenancy importing them."""

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django_scopes import scopes_disabled

from tenancy.models import Membership, Organization, Team, User
from tenancy.roles import Role

DEMO_PASSWORD = "vigil-demo-2026"  # noqa: S105 — published in the README on purpose

ORGANIZATIONS = [
    {"slug": "acme", "name": "Acme Payments", "key_prefix": "ACME", "timezone": "Europe/Berlin"},
    {
        "slug": "globex",
        "name": "Globex Energy",
        "key_prefix": "GLX",
        "timezone": "America/New_York",
    },
]

USERS = [
    # email, full name, {org slug: role}
    ("admin@acme.test", "Ada Admin", {"acme": Role.ADMIN}),
    ("manager@acme.test", "Mona Manager", {"acme": Role.MANAGER}),
    ("responder@acme.test", "Remy Responder", {"acme": Role.RESPONDER}),
    ("compliance@acme.test", "Carla Compliance", {"acme": Role.COMPLIANCE}),
    ("viewer@acme.test", "Victor Viewer", {"acme": Role.VIEWER}),
    ("admin@globex.test", "Gary Globex", {"globex": Role.ADMIN}),
    ("consultant@vigil.test", "Connie Consultant", {"acme": Role.RESPONDER, "globex": Role.VIEWER}),
]

TEAMS = {
    "acme": {
        "Platform": ["admin@acme.test", "responder@acme.test", "consultant@vigil.test"],
        "Payments": ["manager@acme.test", "responder@acme.test"],
        "Security": ["admin@acme.test", "compliance@acme.test"],
    },
    "globex": {
        "Grid Operations": ["admin@globex.test", "consultant@vigil.test"],
        "Networking": ["admin@globex.test"],
    },
}


@dataclass
class Seeder:
    name: str
    order: int
    run: Callable[[Organization], None]


SEEDERS: list[Seeder] = []


def register_seeder(name: str, order: int, run: Callable[[Organization], None]) -> None:
    """Add a per-organisation demo step; it runs inside that organisation's scope and must be
    idempotent (a second run changes nothing)."""
    if not any(s.name == name for s in SEEDERS):
        SEEDERS.append(Seeder(name, order, run))
        SEEDERS.sort(key=lambda s: s.order)


def seed_people() -> dict[str, Organization]:
    """The demo organisations, people and teams: across organisations by nature."""
    with scopes_disabled(), transaction.atomic():
        return _seed_people()


def _seed_people() -> dict[str, Organization]:
    orgs = {}
    for spec in ORGANIZATIONS:
        org, _ = Organization.objects.get_or_create(
            slug=spec["slug"],
            defaults={k: v for k, v in spec.items() if k != "slug"},
        )
        orgs[org.slug] = org
    users = {}
    for email, full_name, roles in USERS:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(
                email=email, password=DEMO_PASSWORD, full_name=full_name
            )
        users[email] = user
        for slug, role in roles.items():
            Membership.objects.with_scopes_disabled().get_or_create(
                organization=orgs[slug], user=user, defaults={"role": role}
            )
    for slug, teams in TEAMS.items():
        for name, emails in teams.items():
            team = (
                Team.objects.with_scopes_disabled()
                .filter(organization=orgs[slug], name=name)
                .first()
            )
            if team is None:
                team = Team.objects.create(organization=orgs[slug], name=name)
            present = set(team.members.values_list("email", flat=True))
            missing = [users[e] for e in emails if e not in present]
            if missing:
                team.members.add(*missing)
    return orgs
