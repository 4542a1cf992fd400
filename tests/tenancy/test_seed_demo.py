"""seed_demo: the documented demo data, idempotent, refused when DEBUG is off."""

import pytest
from django.core.management import CommandError, call_command
from django_scopes import scopes_disabled

from tenancy.demo import DEMO_PASSWORD
from tenancy.models import AuditEntry, Membership, Organization, Team, User

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def few_demo_incidents(monkeypatch):
    """The demo's incident history is exercised in tests/incidents; here a few will do."""
    from incidents import demo

    monkeypatch.setattr(demo, "DEMO_INCIDENTS", {"acme": 6, "globex": 3})


def snapshot():
    with scopes_disabled():
        return {
            "orgs": sorted(Organization.objects.values_list("slug", "key_prefix")),
            "users": sorted(User.objects.values_list("email", "password")),
            "memberships": sorted(
                Membership.objects.values_list("organization__slug", "user__email", "role")
            ),
            "teams": sorted(
                Team.objects.values_list("organization__slug", "name", "members__email")
            ),
            "audit": AuditEntry.objects.count(),
        }


def test_seed_demo_creates_the_documented_organisations_and_users(settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    data = snapshot()
    assert data["orgs"] == [("acme", "ACME"), ("globex", "GLX")]
    roles = {(org, email): role for org, email, role in data["memberships"]}
    assert roles[("acme", "admin@acme.test")] == "admin"
    assert roles[("acme", "manager@acme.test")] == "manager"
    assert roles[("acme", "responder@acme.test")] == "responder"
    assert roles[("acme", "compliance@acme.test")] == "compliance"
    assert roles[("acme", "viewer@acme.test")] == "viewer"
    assert roles[("globex", "admin@globex.test")] == "admin"
    assert roles[("acme", "consultant@vigil.test")] == "responder"
    assert roles[("globex", "consultant@vigil.test")] == "viewer"
    for user in User.objects.all():
        assert user.check_password(DEMO_PASSWORD), user.email


def test_seed_demo_twice_changes_nothing(settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    first = snapshot()
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert snapshot() == first


def test_seed_demo_refuses_when_debug_is_off_unless_forced(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG is off"):
        call_command("seed_demo")
    assert not Organization.objects.exists()
    call_command("seed_demo", "--force", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert Organization.objects.count() == 2


def test_seed_demo_changes_are_attributed_to_the_command(settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    with scopes_disabled():
        origins = set(AuditEntry.objects.values_list("origin", flat=True))
    assert origins == {"command:seed_demo"}
