"""Exposure figures: the page that enters, edits and deletes them, the feed token, and the feed
endpoint machines post to — its happy path and every wrong shape, with nothing written on
error."""

import datetime
import json
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django_scopes import scopes_disabled

from integrations.models import hash_secret
from reporting import exposure
from reporting.models import ExposureFeedToken, ExposureFigure
from tenancy.models import AuditEntry
from tenancy.roles import Role
from tenancy.scoping import org_scope
from tests.incidents.factories import ServiceFactory

pytestmark = pytest.mark.django_db

MONDAY = datetime.date(2026, 11, 23)


def list_url(org="acme"):
    return reverse("reporting:exposure_list", kwargs={"org_slug": org})


def feed_url(org="acme"):
    return reverse("reporting:exposure_feed", kwargs={"org_slug": org})


def figures(org=None):
    with scopes_disabled():
        rows = ExposureFigure.objects.order_by("week", "service__name")
        if org is not None:
            rows = rows.filter(organization=org)
        return [(f.week, f.service.name if f.service_id else None, f.value, f.unit) for f in rows]


def audit_actions(model, pk) -> list[tuple[int, str]]:
    with scopes_disabled():
        return list(
            AuditEntry.objects.filter(
                content_type=ContentType.objects.get_for_model(model), object_pk=str(pk)
            )
            .order_by("pk")
            .values_list("action", "origin")
        )


@pytest.fixture
def payments(acme):
    with scopes_disabled():
        return ServiceFactory(organization=acme, name="Payments API")


@pytest.fixture
def globex_service(globex):
    with scopes_disabled():
        return ServiceFactory(organization=globex, name="Grid")


@pytest.fixture
def token(acme, manager):
    return generate(acme, manager)


def generate(organization, actor) -> str:
    with org_scope(organization):
        return exposure.exposure_token_generate(organization=organization, actor=actor)


@pytest.fixture
def post(client):
    def send(body, *, token="", org="acme", content_type="application/json", raw=None):
        data = raw if raw is not None else json.dumps(body)
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        return client.post(feed_url(org), data=data, content_type=content_type, **headers)

    return send


# — the page ————————————————————————————————————————————————————————————————————————————


def test_a_manager_adds_a_figure_for_the_weeks_monday(acme, manager, payments, login):
    response = login(manager).post(
        list_url(),
        {"service": payments.pk, "week": "2026-11-26", "value": "1234.5", "unit": " deploys "},
    )

    assert response.status_code == 302
    assert figures() == [(MONDAY, "Payments API", Decimal("1234.50"), "deploys")]
    with scopes_disabled():
        pk = ExposureFigure.objects.get().pk
    assert audit_actions(ExposureFigure, pk) == [(AuditEntry.Action.CREATE, "web")]


def test_a_figure_for_the_whole_organisation(acme, manager, login):
    login(manager).post(list_url(), {"week": "2026-11-23", "value": "10", "unit": "requests"})
    assert figures() == [(MONDAY, None, Decimal(10), "requests")]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"week": "2026-11-23", "value": "-1", "unit": "requests"}, "value", "greater than or"),
        ({"week": "2026-11-23", "value": "many", "unit": "requests"}, "value", "Enter a number"),
        ({"week": "2026-02-30", "value": "1", "unit": "requests"}, "week", "valid date"),
        ({"week": "2026-11-23", "value": "1", "unit": "   "}, "unit", "required"),
        ({"week": "", "value": "1", "unit": "requests"}, "week", "required"),
    ],
)
def test_the_form_says_what_is_wrong_next_to_the_field(acme, manager, login, data, field, message):
    response = login(manager).post(list_url(), data)

    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert figures() == []


def test_another_organisations_service_is_not_a_choice(acme, manager, globex_service, login):
    response = login(manager).post(
        list_url(), {"service": globex_service.pk, "week": "2026-11-23", "value": "1", "unit": "x"}
    )

    assert "Select a valid choice" in response.context["form"].errors["service"][0]
    assert figures() == []


def test_a_second_figure_for_the_same_service_and_week_is_refused(acme, manager, login):
    client = login(manager)
    client.post(list_url(), {"week": "2026-11-23", "value": "1", "unit": "requests"})
    response = client.post(list_url(), {"week": "2026-11-25", "value": "2", "unit": "requests"})

    assert "week of 23 Nov 2026 already" in response.context["form"].errors["week"][0]
    assert figures() == [(MONDAY, None, Decimal(1), "requests")]


def test_edit_and_delete_are_audited(acme, manager, login):
    client = login(manager)
    client.post(list_url(), {"week": "2026-11-23", "value": "1", "unit": "requests"})
    with scopes_disabled():
        pk = ExposureFigure.objects.get().pk
    edit = reverse("reporting:exposure_edit", kwargs={"org_slug": "acme", "figure_id": pk})

    assert client.get(edit).status_code == 200
    client.post(edit, {"week": "2026-11-30", "value": "5", "unit": "requests"})
    assert figures() == [(datetime.date(2026, 11, 30), None, Decimal(5), "requests")]
    client.post(reverse("reporting:exposure_delete", kwargs={"org_slug": "acme", "figure_id": pk}))
    assert figures() == []
    assert [action for action, _ in audit_actions(ExposureFigure, pk)] == [
        AuditEntry.Action.CREATE,
        AuditEntry.Action.UPDATE,
        AuditEntry.Action.DELETE,
    ]


def test_the_list_is_paginated_newest_week_first_with_csv(acme, manager, payments, login):
    with scopes_disabled():
        for n in range(30):
            ExposureFigure.objects.create(
                organization=acme,
                week=MONDAY - datetime.timedelta(weeks=n),
                value=n,
                unit="requests",
            )
        ExposureFigure.objects.create(
            organization=acme, service=payments, week=MONDAY, value=3, unit="deploys"
        )
    client = login(manager)

    page = client.get(list_url()).context["page"]
    assert (page.paginator.count, len(page.object_list)) == (31, 25)
    assert page.object_list[0].week == MONDAY
    assert client.get(list_url(), {"page": "2"}).context["page"].number == 2
    csv = client.get(list_url(), {"format": "csv", "table": "figures"}).content.decode()
    lines = csv.splitlines()
    assert lines[0] == "week,service,value,unit,updated"
    assert lines[1].startswith("2026-11-23,,0.00,requests,")
    assert lines[2].startswith("2026-11-23,Payments API,3.00,deploys,")
    assert len(lines) == 32


def test_the_list_runs_the_same_queries_however_many_figures(
    acme, manager, payments, login, django_assert_max_num_queries
):
    client = login(manager)
    client.post(list_url(), {"week": "2026-11-23", "value": "1", "unit": "requests"})
    with django_assert_max_num_queries(30) as captured:
        client.get(list_url())
    with scopes_disabled():
        for n in range(1, 20):
            ExposureFigure.objects.create(
                organization=acme,
                service=payments,
                week=MONDAY - datetime.timedelta(weeks=n),
                value=n,
                unit="deploys",
            )
    with django_assert_max_num_queries(len(captured)):
        client.get(list_url())


def test_the_page_shows_its_empty_state(acme, manager, login):
    assert "No exposure figures yet." in login(manager).get(list_url()).content.decode()


@pytest.mark.parametrize("role", [Role.RESPONDER, Role.VIEWER, Role.COMPLIANCE])
def test_roles_that_may_not_manage_reports_get_404_and_change_nothing(
    acme, make_member, login, role
):
    client = login(make_member(acme, role).user)

    assert client.get(list_url()).status_code == 404
    response = client.post(list_url(), {"week": "2026-11-23", "value": "1", "unit": "x"})
    assert response.status_code == 404
    token_url = reverse("reporting:exposure_token", kwargs={"org_slug": "acme"})
    assert client.post(token_url).status_code == 404
    assert figures() == []
    with scopes_disabled():
        assert not ExposureFeedToken.objects.exists()


def test_another_organisations_figure_is_404(acme, globex, stranger, manager, login):
    with scopes_disabled():
        theirs = ExposureFigure.objects.create(
            organization=globex, week=MONDAY, value=1, unit="requests"
        )
    edit = reverse("reporting:exposure_edit", kwargs={"org_slug": "acme", "figure_id": theirs.pk})
    delete = reverse(
        "reporting:exposure_delete", kwargs={"org_slug": "acme", "figure_id": theirs.pk}
    )

    assert login(manager).get(edit).status_code == 404
    assert login(manager).post(delete).status_code == 404
    assert login(stranger).get(list_url()).status_code == 404
    assert figures() == [(MONDAY, None, Decimal(1), "requests")]


# — the token ———————————————————————————————————————————————————————————————————————————


def test_the_token_is_shown_once_and_stored_hashed(acme, manager, login):
    client = login(manager)
    response = client.post(reverse("reporting:exposure_token", kwargs={"org_slug": "acme"}))

    token = response.context["token"]
    assert token.startswith("vx_")
    assert token in response.content.decode()
    with scopes_disabled():
        row = ExposureFeedToken.objects.get()
    assert (row.prefix, row.token_hash) == (token[:12], hash_secret(token))
    assert token not in client.get(list_url()).content.decode()
    assert audit_actions(ExposureFeedToken, row.pk) == [(AuditEntry.Action.CREATE, "web")]


def test_regenerating_replaces_the_token(acme, manager, post, token):
    new = generate(acme, manager)

    assert post({"week": "2026-11-23", "value": 1, "unit": "x"}, token=token).status_code == 401
    assert post({"week": "2026-11-23", "value": 1, "unit": "x"}, token=new).status_code == 200
    with scopes_disabled():
        assert ExposureFeedToken.objects.filter(revoked_at__isnull=True).count() == 1


def test_a_revoked_token_is_refused(acme, manager, login, post, token):
    login(manager).post(
        reverse("reporting:exposure_token", kwargs={"org_slug": "acme"}), {"action": "revoke"}
    )
    # The test client is signed in now; the feed is for machines without a session.
    login(manager).logout()

    response = post({"week": "2026-11-23", "value": 1, "unit": "x"}, token=token)
    assert response.status_code == 401
    assert figures() == []


# — the feed ————————————————————————————————————————————————————————————————————————————


def test_the_feed_upserts_by_service_and_week(acme, payments, post, token):
    first = post(
        [
            {"week": "2026-11-23", "value": 12345, "unit": "requests"},
            {"week": "2026-11-25", "value": 4.5, "unit": "deploys", "service": "payments api"},
        ],
        token=token,
    )
    assert (first.status_code, first.json()) == (
        200,
        {"received": 2, "created": 2, "updated": 0},
    )
    again = post({"week": "2026-11-23", "value": 20000, "unit": "requests"}, token=token)

    assert again.json() == {"received": 1, "created": 0, "updated": 1}
    assert figures() == [  # (a service's figure sorts before the organisation's)
        (MONDAY, "Payments API", Decimal("4.50"), "deploys"),
        (MONDAY, None, Decimal(20000), "requests"),
    ]
    with scopes_disabled():
        pk = ExposureFigure.objects.get(service__isnull=True).pk
    assert audit_actions(ExposureFigure, pk) == [
        (AuditEntry.Action.CREATE, "exposure feed"),
        (AuditEntry.Action.UPDATE, "exposure feed"),
    ]


GOOD = {"week": "2026-11-23", "value": 1, "unit": "requests"}


@pytest.mark.parametrize(
    ("body", "code", "item", "field"),
    [
        ("not a list", "invalid_body", None, None),
        ([], "empty", None, None),
        ([GOOD] * 501, "too_many_items", None, None),
        ([GOOD, 7], "invalid_item", 1, None),
        ([GOOD, {**GOOD, "week": 20261123}], "invalid_week", 1, "week"),
        ([{**GOOD, "week": "2026-13-01"}], "invalid_week", 0, "week"),
        ([{**GOOD, "value": "12"}], "invalid_value", 0, "value"),
        ([{**GOOD, "value": True}], "invalid_value", 0, "value"),
        ([{**GOOD, "value": None}], "invalid_value", 0, "value"),
        ([{**GOOD, "value": 1e30}], "invalid_value", 0, "value"),
        ([GOOD, {**GOOD, "week": "2026-11-30", "value": -1}], "negative_value", 1, "value"),
        ([{**GOOD, "unit": ""}], "invalid_unit", 0, "unit"),
        ([{"week": "2026-11-23", "value": 1}], "invalid_unit", 0, "unit"),
        ([{**GOOD, "service": 5}], "invalid_service", 0, "service"),
        ([{**GOOD, "service": "Nope"}], "unknown_service", 0, "service"),
        ([{**GOOD, "service": "Grid"}], "unknown_service", 0, "service"),  # globex's
        ([{**GOOD, "extra": 1}], "unknown_field", 0, "extra"),
        ([GOOD, {**GOOD, "week": "2026-11-24"}], "duplicate_item", 1, "week"),
    ],
)
def test_every_wrong_shape_is_refused_and_nothing_is_written(
    acme, payments, globex_service, post, token, body, code, item, field
):
    response = post(body, token=token)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code
    assert error.get("item") == item
    assert error.get("field") == field
    assert figures() == []


def test_a_body_that_is_not_json(acme, post, token):
    response = post(None, token=token, raw="{week: 2026")

    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_json")


def test_a_wrong_content_type_is_415(acme, post, token):
    response = post(None, token=token, raw="week=2026-11-23", content_type="text/plain")

    assert (response.status_code, response.json()["error"]["code"]) == (
        415,
        "unsupported_media_type",
    )
    assert figures() == []


def test_a_body_too_large_is_413(acme, post, token):
    body = [{**GOOD, "unit": "x" * 40}] * 4000  # about 300 KB
    response = post(body, token=token)

    assert (response.status_code, response.json()["error"]["code"]) == (413, "too_large")
    assert figures() == []


@pytest.mark.parametrize("given", ["", "vx_made-up-token", "not-even-ours"])
def test_a_missing_or_wrong_token_is_401(acme, post, token, given):
    response = post(GOOD, token=given)

    assert response.status_code == 401
    assert response.json() == {
        "error": {"code": "unauthorized", "message": "Missing, wrong or revoked feed token."}
    }
    assert figures() == []


def test_another_organisations_token_gets_the_same_401(acme, globex, post, token, globex_admin):
    theirs = generate(globex, globex_admin.user)

    to_acme = post(GOOD, token=theirs)
    mine_to_globex = post(GOOD, token=token, org="globex")

    assert to_acme.status_code == mine_to_globex.status_code == 401
    assert to_acme.json() == mine_to_globex.json() == post(GOOD, token="vx_nothing").json()
    assert figures() == []


def test_the_feed_takes_no_get(acme, client):
    assert client.get(feed_url()).status_code == 405


def test_the_feed_needs_no_csrf_token_and_no_session(acme, token):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post(
        feed_url(),
        data=json.dumps(GOOD),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )

    assert response.status_code == 200
    assert figures() == [(MONDAY, None, Decimal(1), "requests")]
