"""The demo seeder: acme's page on with components, a spokesperson, templates and one
published message; idempotent; other organisations untouched."""

import pytest
from django_scopes import scopes_disabled

from incidents.statuspage.demo import seed_status_page
from incidents.statuspage.models import (
    Component,
    ExternalMessage,
    MessageState,
    MessageTemplate,
    Spokesperson,
    StatusPageSettings,
)
from tenancy.roles import Role
from tenancy.scoping import org_scope

pytestmark = pytest.mark.django_db


def test_the_seeder_switches_acmes_page_on_once(acme, globex, make_member, client):
    make_member(acme, Role.MANAGER, email="manager@acme.test")
    make_member(acme, Role.RESPONDER, email="responder@acme.test")
    for _ in range(2):
        for org in (acme, globex):
            with org_scope(org):
                seed_status_page(org)

    with scopes_disabled():
        assert StatusPageSettings.objects.get(organization=acme).is_public
        assert not StatusPageSettings.objects.filter(organization=globex).exists()
        assert Component.objects.filter(organization=acme).count() == 5
        assert MessageTemplate.objects.filter(organization=acme).count() == 3
        assert Spokesperson.objects.get(organization=acme).user.email == "manager@acme.test"
        (message,) = ExternalMessage.objects.filter(organization=acme)
    assert message.state == MessageState.PUBLISHED
    page = client.get("/status/acme/").content.decode()
    assert "Payouts: resolved" in page
    assert "All systems operational" in page
