"""Internal pages under /o/<org>/status-page/: who sees and does what, wrong inputs, other
tenants, restricted incidents, and the incident page's panel."""

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django_scopes import scopes_disabled

from incidents.statuspage.models import (
    Component,
    ComponentState,
    ExternalMessage,
    MessageState,
    MessageTemplate,
    Spokesperson,
    StatusPageSettings,
)
from tenancy.models import Membership
from tenancy.scoping import org_scope
from tests.incidents.factories import declare
from tests.statuspage.conftest import approve, draft, fresh

pytestmark = pytest.mark.django_db
BASE = "/o/acme/status-page/"


def messages_stored():
    with scopes_disabled():
        return list(ExternalMessage.objects.order_by("pk"))


def test_a_responder_drafts_from_a_template_for_an_incident(
    login, acme, responder, payments, incident, queued
):
    template = MessageTemplate.objects.create(
        organization=acme,
        name="Investigating",
        title="{components}: {status}",
        body="We are looking into problems with {components}.",
    )
    client = login(responder)

    form = client.get(f"{BASE}messages/new/?template={template.pk}&incident={incident.key}")
    assert form.status_code == 200
    assert b"{components}: {status}" in form.content
    assert incident.key.encode() in form.content

    response = client.post(
        f"{BASE}messages/new/",
        {
            "template": template.pk,
            "incident_key": incident.key,
            "status": "investigating",
            "title": "{components}: {status}",
            "body": "We are looking into problems with {components}.",
            f"component_{payments.pk}": ComponentState.PARTIAL_OUTAGE,
        },
    )

    (message,) = messages_stored()
    assert response.status_code == 302
    assert response["Location"] == f"{BASE}messages/{message.pk}/"
    assert message.title == "Card payments: Investigating"
    assert message.incident_id == incident.pk
    assert message.template_id == template.pk
    assert message.state == MessageState.DRAFT


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"title": "{incident_title}"}, "Unknown placeholder"),
        ({"title": "x" * 161}, "at most 160 characters"),
        ({"body": ""}, "This field is required"),
        ({"status": "on_fire"}, "Select a valid choice"),
        ({"incident_key": "ACME-999"}, "No incident with this key"),
        ({"next_update_at": "yesterday"}, "Enter a valid date/time"),
        ({"next_update_at": "2001-01-01T10:00"}, "cannot be in the past"),
        ({"component_999": "exploded"}, None),  # unknown fields are ignored, not stored
    ],
)
def test_wrong_inputs_are_shown_on_the_form_and_nothing_is_stored(
    login, responder, payments, data, error
):
    good = {"status": "investigating", "title": "Payments slow", "body": "Looking into it."}
    response = login(responder).post(f"{BASE}messages/new/", {**good, **data})

    if error is None:
        assert response.status_code == 302
        return
    assert response.status_code == 200
    assert error.lower() in response.content.decode().lower()
    assert messages_stored() == []


def test_a_component_state_that_does_not_exist_is_refused(login, responder, payments):
    response = login(responder).post(
        f"{BASE}messages/new/",
        {"status": "investigating", "title": "T", "body": "B", f"component_{payments.pk}": "x"},
    )
    assert response.status_code == 200
    assert b"Select a valid choice" in response.content
    assert messages_stored() == []


def test_a_viewer_may_read_but_not_draft(login, viewer, page_on):
    client = login(viewer)
    assert client.get(BASE).status_code == 200
    assert client.get(f"{BASE}messages/new/").status_code == 403
    assert client.post(f"{BASE}messages/new/", {"title": "x"}).status_code == 403
    assert messages_stored() == []


def test_a_non_spokesperson_pressing_approve_is_refused_and_nothing_changes(
    login, acme, responder, admin, queued
):
    message = draft(acme, responder)
    response = login(admin).post(f"{BASE}messages/{message.pk}/approve/", follow=True)

    assert b"Only a spokesperson may approve" in response.content
    assert fresh(message).state == MessageState.DRAFT


def test_the_detail_page_says_why_approval_is_blocked(login, acme, speaker, queued):
    message = draft(acme, speaker)
    response = login(speaker).get(f"{BASE}messages/{message.pk}/")
    assert b"Four eyes" in response.content
    assert b"disabled" in response.content


def test_a_spokesperson_approves_and_publishes_through_the_pages(
    login, acme, responder, speaker, payments, page_on, queued, django_capture_on_commit_callbacks
):
    message = draft(acme, responder, affected={payments: ComponentState.MAJOR_OUTAGE})
    client = login(speaker)

    client.post(f"{BASE}messages/{message.pk}/approve/")
    assert fresh(message).state == MessageState.APPROVED
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{BASE}messages/{message.pk}/publish/", follow=True)

    assert fresh(message).state == MessageState.PUBLISHED
    assert b"Published on the status page" in response.content
    assert queued["subscribers"] == [(acme.pk, message.pk)]


def test_editing_an_approved_message_through_the_page_withdraws_the_approval(
    login, acme, responder, speaker, queued
):
    message = draft(acme, responder)
    approve(acme, speaker, message)

    response = login(responder).post(
        f"{BASE}messages/{message.pk}/edit/",
        {"status": "identified", "title": "Cause found", "body": "We found it."},
        follow=True,
    )

    assert b"withdrew the approval" in response.content
    assert fresh(message).state == MessageState.DRAFT


def test_the_list_filters_by_state_and_paginates(login, acme, responder, speaker, queued):
    for n in range(27):
        draft(acme, responder, title=f"Draft {n}", body="B")
    approved = draft(acme, responder, title="The approved one", body="B")
    approve(acme, speaker, approved)
    client = login(responder)

    first = client.get(BASE).content.decode()
    assert "Page 1 of 2" in first
    only_approved = client.get(f"{BASE}?state=approved").content.decode()
    assert "The approved one" in only_approved
    assert "Draft 3" not in only_approved
    assert "Approved (1)" in only_approved
    assert client.get(f"{BASE}?state=nonsense").status_code == 200


def test_the_empty_list_explains_what_would_appear(login, responder):
    response = login(responder).get(BASE)
    assert b"No external messages yet" in response.content


def test_messages_of_a_restricted_incident_follow_its_visibility(
    login, acme, admin, responder, queued
):
    secret = declare(acme, admin, title="Breach at a customer", is_restricted=True)
    message = draft(acme, admin, incident=secret, title="Sign-in problems", body="Looking.")

    client = login(responder)
    assert client.get(f"{BASE}messages/{message.pk}/").status_code == 404
    assert b"Sign-in problems" not in client.get(BASE).content
    assert client.post(f"{BASE}messages/{message.pk}/approve/").status_code == 404
    admin_view = login(admin).get(f"{BASE}messages/{message.pk}/")
    assert admin_view.status_code == 200
    assert secret.key.encode() in admin_view.content


def test_another_tenant_gets_404_on_every_page_with_real_ids(
    login, acme, responder, payments, globex_admin, queued
):
    message = draft(acme, responder)
    template = MessageTemplate.objects.create(organization=acme, name="T", title="T", body="B")
    client = login(globex_admin.user)
    for url in [
        BASE,
        f"{BASE}messages/{message.pk}/",
        f"{BASE}messages/{message.pk}/edit/",
        f"{BASE}components/{payments.pk}/",
        f"{BASE}templates/{template.pk}/",
        f"{BASE}settings/",
    ]:
        assert client.get(url).status_code == 404, url
    assert client.post(f"{BASE}messages/{message.pk}/approve/").status_code == 404
    # … and their own organisation's pages do not reach acme's rows either
    assert client.get(f"/o/globex/status-page/messages/{message.pk}/").status_code == 404


def test_only_admins_manage_components_templates_spokespersons_and_settings(
    login, responder, payments, acme
):
    client = login(responder)
    assert client.get(f"{BASE}components/").status_code == 200
    assert client.post(f"{BASE}components/new/", {"name": "X", "order": 1}).status_code == 403
    assert client.post(f"{BASE}templates/new/", {"name": "X"}).status_code == 403
    assert client.post(f"{BASE}spokespersons/", {"user": responder.pk}).status_code == 403
    assert client.get(f"{BASE}settings/").status_code == 403
    with scopes_disabled():
        assert Component.objects.count() == 1
        assert not Spokesperson.objects.exists()


def test_an_admin_adds_a_component_and_a_duplicate_name_is_refused(login, admin, payments):
    client = login(admin)
    ok = client.post(
        f"{BASE}components/new/",
        {"name": "Public API", "order": 5, "state": "operational", "description": ""},
    )
    clash = client.post(
        f"{BASE}components/new/", {"name": "card PAYMENTS", "order": 1, "state": "operational"}
    )
    assert ok.status_code == 302
    assert clash.status_code == 200
    assert b"already" in clash.content
    with scopes_disabled():
        assert sorted(Component.objects.values_list("name", flat=True)) == [
            "Card payments",
            "Public API",
        ]


def test_an_admin_saves_a_template_and_internal_placeholders_are_refused(login, admin):
    client = login(admin)
    bad = client.post(
        f"{BASE}templates/new/",
        {"name": "Leaky", "status": "investigating", "title": "{incident_key}", "body": "x"},
    )
    good = client.post(
        f"{BASE}templates/new/",
        {"name": "Fine", "status": "resolved", "title": "{components}: resolved", "body": "Ok."},
    )
    assert bad.status_code == 200
    assert b"Unknown placeholder {incident_key}" in bad.content
    assert good.status_code == 302
    with scopes_disabled():
        assert list(MessageTemplate.objects.values_list("name", flat=True)) == ["Fine"]


def test_an_admin_designates_a_member_but_not_an_outsider(login, admin, responder, globex_admin):
    client = login(admin)
    outsider = client.post(f"{BASE}spokespersons/", {"user": globex_admin.user.pk})
    member = client.post(f"{BASE}spokespersons/", {"user": responder.pk})

    assert outsider.status_code == 200
    assert b"Select a valid choice" in outsider.content
    assert member.status_code == 302
    with scopes_disabled():
        assert list(Spokesperson.objects.values_list("user_id", flat=True)) == [responder.pk]


def test_an_admin_switches_the_page_on_and_sees_subscriber_counts(login, admin, acme, client):
    assert client.get("/status/acme/").status_code == 404
    response = login(admin).post(
        f"{BASE}settings/",
        {
            "is_public": "on",
            "title": "Acme status",
            "introduction": "Hi",
            "allow_self_approval": "",
        },
    )
    assert response.status_code == 302
    with scopes_disabled():
        page = StatusPageSettings.objects.get(organization=acme)
    assert page.is_public
    assert not page.allow_self_approval
    settings_page = client.get(f"{BASE}settings/")
    assert b"Awaiting confirmation" in settings_page.content
    client.logout()
    assert client.get("/status/acme/").status_code == 200


def _render_panel(incident, user, org):
    request = RequestFactory().get(f"/o/{org.slug}/incidents/{incident.key}/")
    request.user = user
    with scopes_disabled():
        request.membership = Membership.objects.get(organization=org, user=user)
    request.org = org
    with org_scope(org):
        return Template("{% load statuspage %}{% statuspage_incident_panel incident %}").render(
            Context({"incident": incident, "request": request})
        )


def test_the_incident_panel_lists_the_incident_messages_and_offers_a_prefilled_draft(
    acme, responder, speaker, viewer, incident, queued
):
    mine = draft(acme, responder, incident=incident, title="About this incident", body="B")
    approve(acme, speaker, mine)
    draft(acme, responder, title="About something else", body="B")

    html = _render_panel(incident, responder, acme)

    assert "About this incident" in html
    assert "Approved" in html
    assert "About something else" not in html
    assert f"/o/acme/status-page/messages/new/?incident={incident.key}" in html
    assert "Draft external message" not in _render_panel(incident, viewer, acme)
