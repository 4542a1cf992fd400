"""The API tokens page: create (shown once, stored hashed), list, revoke; members see their
own tokens, admins everyone's; another user's token is 404."""

import datetime
import hashlib

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from api.models import ApiToken
from tenancy.models import AuditEntry

pytestmark = pytest.mark.django_db

PAGE = "/o/acme/settings/api-tokens/"


def revoke_url(token):
    return f"{PAGE}{token.pk}/revoke/"


def tokens():
    with scopes_disabled():
        return list(ApiToken.objects.order_by("pk"))


def test_creating_a_token_shows_it_once_and_stores_only_its_hash(responder, login, api):
    client = login(responder)

    response = client.post(PAGE, {"name": "chat bot", "scope": "write", "expires_in": "30"})

    assert response.status_code == 200
    shown = response.context["shown"]
    assert shown.startswith("vgl_")
    assert shown in response.content.decode()
    assert "no-store" in response["Cache-Control"]  # no cache keeps the page with the token
    (token,) = tokens()
    assert token.user == responder
    assert token.scope == "write"
    secret = shown.split("_", 2)[2]
    assert token.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in token.secret_hash
    expected = timezone.now() + datetime.timedelta(days=30)
    assert abs((token.expires_at - expected).total_seconds()) < 60
    # Shown once: the list page never shows it again.
    again = client.get(PAGE).content.decode()
    assert shown not in again
    assert "chat bot" in again
    # And it works.
    assert api(shown).get("/api/v1/me/").status_code == 200


def test_a_token_may_expire_on_a_date_within_a_year(responder, login):
    client = login(responder)
    day = timezone.localdate() + datetime.timedelta(days=200)

    client.post(
        PAGE, {"name": "x", "scope": "read", "expires_in": "date", "expires_on": day.isoformat()}
    )

    (token,) = tokens()
    assert timezone.localtime(token.expires_at).date() == day


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "", "scope": "read", "expires_in": "30"}, "name"),
        ({"name": "x" * 101, "scope": "read", "expires_in": "30"}, "name"),
        ({"name": "x", "scope": "admin", "expires_in": "30"}, "scope"),
        ({"name": "x", "scope": "read", "expires_in": "9999"}, "expires_in"),
        ({"name": "x", "scope": "read", "expires_in": "date"}, "expires_on"),
        (
            {"name": "x", "scope": "read", "expires_in": "date", "expires_on": "2000-01-01"},
            "expires_on",
        ),
        (
            {"name": "x", "scope": "read", "expires_in": "date", "expires_on": "2999-01-01"},
            "expires_on",
        ),
    ],
)
def test_bad_input_creates_nothing_and_says_why(responder, login, data, field):
    response = login(responder).post(PAGE, data)

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert response.context["shown"] is None
    assert tokens() == []


def test_a_viewer_may_hold_a_write_token_that_does_no_more_than_the_role(viewer, login, api):
    """A viewer may change the status of an action item they own, in the browser and so
    through the API; everything else a viewer's write token tries is refused by the role."""
    client = login(viewer)

    response = client.post(PAGE, {"name": "x", "scope": "write", "expires_in": "30"})

    assert response.context["shown"]
    assert [t.scope for t in tokens()] == ["write"]
    declare = api(response.context["shown"]).post(
        "/api/v1/incidents/", {"title": "x"}, format="json"
    )
    assert declare.status_code in (403, 404)


def test_members_see_and_revoke_only_their_own_tokens(
    responder, other_responder, login, make_token, acme
):
    from tenancy.models import Membership

    with scopes_disabled():
        mine = Membership.objects.get(organization=acme, user=responder)
        theirs = Membership.objects.get(organization=acme, user=other_responder)
    make_token(mine, name="mine")
    make_token(theirs, name="theirs")
    own, other = tokens()
    client = login(responder)

    page = client.get(PAGE)

    assert [t.name for t in page.context["tokens"]] == ["mine"]
    assert page.context["others"] is None
    assert "theirs" not in page.content.decode()
    assert client.get(revoke_url(other)).status_code == 404
    assert client.post(revoke_url(other)).status_code == 404
    with scopes_disabled():
        assert ApiToken.objects.get(pk=other.pk).revoked_at is None


def test_revoking_asks_first_then_the_token_stops_working(responder, login, api, acme):
    client = login(responder)
    shown = client.post(PAGE, {"name": "bot", "scope": "read", "expires_in": "7"}).context["shown"]
    (token,) = tokens()

    confirm = client.get(revoke_url(token))
    assert confirm.status_code == 200
    assert "Revoke" in confirm.content.decode()
    assert api(shown).get("/api/v1/me/").status_code == 200

    done = client.post(revoke_url(token))

    assert done.status_code == 302
    with scopes_disabled():
        assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    assert api(shown).get("/api/v1/me/").status_code == 401
    assert "revoked" in client.get(PAGE).content.decode()


def test_admins_see_and_revoke_every_token_of_the_org(
    responder, admin, login, make_token, acme, globex_admin
):
    from tenancy.models import Membership

    with scopes_disabled():
        make_token(Membership.objects.get(organization=acme, user=responder), name="rita's")
    make_token(globex_admin, name="globex's")
    client = login(admin)

    page = client.get(PAGE)

    assert [t.name for t in page.context["others"]] == ["rita's"]
    assert "globex's" not in page.content.decode()
    ritas, globex = tokens()
    assert client.post(revoke_url(globex)).status_code == 404
    assert client.post(revoke_url(ritas)).status_code == 302
    with scopes_disabled():
        assert ApiToken.objects.get(pk=ritas.pk).revoked_at is not None
        assert ApiToken.objects.get(pk=globex.pk).revoked_at is None


def test_another_org_cannot_reach_the_page(stranger, login):
    assert login(stranger).get(PAGE).status_code == 404


def test_creating_and_revoking_are_in_the_audit_trail_without_the_hash(responder, login):
    client = login(responder)
    client.post(PAGE, {"name": "bot", "scope": "read", "expires_in": "7"})
    (token,) = tokens()
    client.post(revoke_url(token))

    with scopes_disabled():
        entries = list(
            AuditEntry.objects.filter(
                object_pk=str(token.pk), content_type__model="apitoken"
            ).order_by("pk")
        )
    assert len(entries) == 2
    assert entries[0].actor == responder
    assert "secret_hash" not in str(entries[0].changes)
    assert token.secret_hash not in str(entries[0].changes)
    assert "revoked_at" in str(entries[1].changes)


def test_the_user_menu_links_to_the_page(responder, login):
    assert PAGE.encode() in login(responder).get("/o/acme/").content


def test_the_service_refuses_tokens_for_non_members(acme, globex, viewer):
    from api.services import token_create
    from tenancy.scoping import org_scope

    later = timezone.now() + datetime.timedelta(days=7)
    with org_scope(globex), pytest.raises(ValueError, match="members"):
        token_create(organization=globex, user=viewer, name="x", scope="read", expires_at=later)
    assert tokens() == []
