"""The demo: admins and compliance officers get an authenticator with the published demo
secret, so `make run` still signs them in; demo_totp_code prints its current code."""

import io

import pytest
from django.core.management import call_command
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.demo import DEMO_TOTP_KEY
from tenancy.demo import DEMO_PASSWORD, seed_people
from tenancy.models import User
from tenancy.scoping import org_scope
from tests.accounts.conftest import CODE, LOGIN

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_people(two_factor_required):
    from accounts.demo import seed_two_factor

    orgs = seed_people()
    for org in orgs.values():
        with org_scope(org):
            seed_two_factor(org)
            seed_two_factor(org)  # idempotent


def test_demo_admins_and_compliance_get_the_demo_authenticator(demo_people):
    holders = set(
        TOTPDevice.objects.filter(key=DEMO_TOTP_KEY, confirmed=True).values_list(
            "user__email", flat=True
        )
    )
    assert holders == {"admin@acme.test", "compliance@acme.test", "admin@globex.test"}


def test_the_demo_admin_signs_in_with_the_printed_code(client, demo_people):
    out = io.StringIO()
    call_command("demo_totp_code", stdout=out)
    code = out.getvalue().strip()
    assert len(code) == 6
    response = client.post(LOGIN, {"username": "admin@acme.test", "password": DEMO_PASSWORD})
    assert response["Location"].startswith(CODE)
    response = client.post(CODE, {"code": code, "next": "/o/acme/"})
    assert response["Location"] == "/o/acme/"
    admin = User.objects.get(email="admin@acme.test")
    assert client.session["_auth_user_id"] == str(admin.pk)
    assert client.get("/o/acme/").status_code == 200
