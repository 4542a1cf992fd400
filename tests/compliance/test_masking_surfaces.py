"""Masking on every surface, one test each: masked for a viewer or responder (and for compliance
staff until they reveal), unmasked for a privileged member who revealed the incident — an
audited, time-limited action — and always masked where the reader has no role (the public,
chat). Plus the CSV formula-injection guard and PDFs that fetch nothing."""

import csv
import io
import json
import subprocess
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from compliance import unmask
from compliance.masking import EMAIL_LABEL, IP_LABEL, PHONE_LABEL
from compliance.models import Unmask
from compliance.pdf import render_pdf
from incidents import notify, services
from incidents.channels import services as channel_services
from incidents.channels.models import WarRoomMessage
from incidents.models import ChatWebhook, Delivery, Notification
from incidents.statuspage import services as statuspage_services
from incidents.statuspage.models import (
    Component,
    ComponentState,
    Spokesperson,
    StatusPageSettings,
    Subscriber,
)
from incidents.views import _csv_safe
from taxonomy.models import CustomFieldDefinition
from tenancy.models import AuditEntry
from tenancy.roles import Role
from tenancy.scoping import org_scope
from tests.channels.conftest import eager_celery, fake_slack, slack_on  # noqa: F401 — fixtures
from tests.channels.helpers import declared, outbound
from tests.incidents.factories import declare
from tests.incidents.test_notifications import ChatServer
from tests.postmortems.test_kb_support import postmortem, resolved_incident

pytestmark = pytest.mark.django_db

EMAIL = "jane.doe@example.com"
PHONE = "+49 30 1234567"
IP = "203.0.113.7"
SECRET = "Jane Doe Holdings"  # the value of a sensitive custom field
PII = (EMAIL, PHONE, IP, SECRET)


def assert_masked(text: str, labels=(EMAIL_LABEL,)):
    for value in PII:
        assert value not in text, f"{value!r} leaked"
    for label in labels:
        assert label in text


def assert_revealed(text: str, values=(EMAIL,)):
    for value in values:
        assert value in text


@pytest.fixture
def fields(acme):
    with scopes_disabled():
        CustomFieldDefinition.objects.create(
            organization=acme, key="contact", label="Contact", field_type="text", is_sensitive=True
        )
        CustomFieldDefinition.objects.create(
            organization=acme, key="note", label="Note", field_type="text"
        )


@pytest.fixture
def incident(acme, responder, fields):
    """An incident with personal data in its title, a comment, a plain custom field, and a
    sensitive custom field."""
    incident = declare(
        acme,
        responder,
        title=f"Refund failed for {EMAIL}",
        description=f"Customer called from {PHONE}",
        custom_fields={"contact": SECRET, "note": f"calls from {IP}"},
    )
    with org_scope(acme):
        services.incident_comment(
            incident=incident, actor=responder, text=f"Customer {EMAIL} at {IP}, {PHONE}"
        )
    return incident


@pytest.fixture
def compliance(acme, make_member):
    return make_member(acme, Role.COMPLIANCE, email="cora@acme.test", full_name="Cora").user


def reveal(client, incident, reason="GDPR Art. 33 draft"):
    url = reverse("compliance:incident_unmask", kwargs={"org_slug": "acme", "key": incident.key})
    return client.post(url, {"reason": reason})


def detail(incident) -> str:
    return reverse("incidents:incident_detail", kwargs={"org_slug": "acme", "key": incident.key})


def page(client, url, **params) -> str:
    response = client.get(url, params)
    assert response.status_code == 200
    return response.content.decode()


# — the unmask action ——————————————————————————————————————————————————————————————————


@pytest.mark.parametrize("role", [Role.VIEWER, Role.RESPONDER, Role.MANAGER])
def test_roles_without_view_sensitive_cannot_unmask_and_nothing_is_recorded(
    incident, acme, make_member, login, role
):
    client = login(make_member(acme, role).user)
    assert reveal(client, incident).status_code == 403
    with scopes_disabled():
        assert not Unmask.objects.exists()
    assert SECRET not in page(client, detail(incident))


def test_unmask_is_post_only_and_another_organisations_or_a_hidden_incident_is_404(
    incident, acme, globex, globex_admin, admin, compliance, login
):
    client = login(compliance)
    url = reverse("compliance:incident_unmask", kwargs={"org_slug": "acme", "key": incident.key})
    assert client.get(url).status_code == 405
    hidden = declare(acme, admin, title=f"Secret for {EMAIL}", is_restricted=True)
    assert reveal(client, hidden).status_code == 404
    other = declare(globex, globex_admin.user, title="Globex thing")
    other_url = reverse("compliance:incident_unmask", kwargs={"org_slug": "acme", "key": other.key})
    assert client.post(other_url).status_code == 404
    globex_url = reverse(
        "compliance:incident_unmask", kwargs={"org_slug": "globex", "key": other.key}
    )
    assert client.post(globex_url).status_code == 404
    with scopes_disabled():
        assert not Unmask.objects.exists()


def test_unmasking_is_audited_lasts_fifteen_minutes_and_can_be_ended(
    incident, acme, compliance, login
):
    client = login(compliance)
    response = reveal(client, incident, reason="Art. 33 notification")
    assert response.status_code == 302
    assert response["Location"] == detail(incident)
    with scopes_disabled():
        [grant] = Unmask.objects.all()
        entry = AuditEntry.objects.get(
            content_type=ContentType.objects.get_for_model(Unmask), object_pk=str(grant.pk)
        )
    assert (grant.user, grant.incident_id, grant.reason) == (
        compliance,
        incident.pk,
        "Art. 33 notification",
    )
    assert grant.expires_at - grant.created_at == timedelta(minutes=15)
    assert entry.actor == compliance
    assert entry.organization_id == acme.pk
    assert entry.action == AuditEntry.Action.CREATE
    assert entry.changes["reason"][1] == "Art. 33 notification"
    assert entry.changes["incident"][1].startswith(incident.key)
    assert entry.changes["expires_at"][1]
    with org_scope(acme):
        later = grant.expires_at + timedelta(seconds=1)
        assert unmask.reveal_for(user=compliance, role=Role.COMPLIANCE, incident=incident)
        assert not unmask.reveal_for(
            user=compliance, role=Role.COMPLIANCE, incident=incident, now=later
        )
        # A role that lost view_sensitive sees nothing unmasked, grant or not.
        assert not unmask.reveal_for(user=compliance, role=Role.RESPONDER, incident=incident)
    assert SECRET in page(client, detail(incident))
    end = reverse("compliance:incident_remask", kwargs={"org_slug": "acme", "key": incident.key})
    assert client.post(end).status_code == 302
    assert SECRET not in page(client, detail(incident))
    with scopes_disabled():
        assert AuditEntry.objects.filter(object_pk=str(grant.pk)).count() == 2


def test_a_too_long_reason_is_refused_and_nothing_recorded(incident, compliance, login):
    client = login(compliance)
    response = reveal(client, incident, reason="x" * 301)
    assert response.status_code == 302
    with scopes_disabled():
        assert not Unmask.objects.exists()
    assert SECRET not in page(client, detail(incident))


def test_an_open_redirect_through_next_is_refused(incident, compliance, login):
    client = login(compliance)
    url = reverse("compliance:incident_unmask", kwargs={"org_slug": "acme", "key": incident.key})
    response = client.post(url, {"next": "https://evil.example/o/acme/"})
    assert response["Location"] == detail(incident)
    response = client.post(url, {"next": "/o/acme/incidents/"})
    assert response["Location"] == "/o/acme/incidents/"


def test_the_unmask_service_decides_in_one_place(incident, acme, responder, compliance, admin):
    from django.core.exceptions import PermissionDenied, ValidationError

    other = declare(acme, responder, title="Another one")
    with org_scope(acme):
        with pytest.raises(PermissionDenied):
            unmask.incident_unmask(incident=incident, actor=responder)
        with pytest.raises(ValidationError):
            unmask.incident_unmask(incident=incident, actor=compliance, reason="x" * 301)
        unmask.incident_unmask(incident=incident, actor=compliance)
        unmask.incident_unmask(incident=other, actor=admin, reason="")
        everything = unmask.revealed_ids(user=compliance, role=Role.COMPLIANCE)
        roles = {responder.pk: Role.RESPONDER, compliance.pk: Role.COMPLIANCE, admin.pk: "admin"}
        recipients = unmask.revealed_recipients(incident=incident, roles=roles)
        ended = unmask.incident_remask(incident=incident, actor=compliance)
        after = unmask.revealed_ids(user=compliance, role=Role.COMPLIANCE)
    assert everything == {incident.pk}
    assert recipients == {compliance.pk}
    assert (ended, after) == (1, set())


# — incident page ——————————————————————————————————————————————————————————————————————


@pytest.mark.parametrize("who", ["viewer", "responder", "compliance"])
def test_incident_page_is_masked_until_revealed(incident, who, request, login):
    client = login(request.getfixturevalue(who))
    html = page(client, detail(incident))
    assert_masked(html, labels=(EMAIL_LABEL, IP_LABEL, PHONE_LABEL, "(hidden)"))
    assert ("Reveal masked data" in html) is (who == "compliance")


def test_incident_page_is_revealed_for_the_privileged_member_who_unmasked_it(
    incident, compliance, responder, login
):
    client = login(compliance)
    reveal(client, incident)
    html = page(client, detail(incident))
    assert_revealed(html, values=(EMAIL, IP, PHONE, SECRET))
    assert "Unmasked for you until" in html
    # Only for them: a responder still reads it masked.
    assert_masked(page(login(responder), detail(incident)))


def test_coordination_panels_and_status_updates_are_masked(
    incident, acme, responder, compliance, login
):
    from incidents import coordination

    with org_scope(acme):
        coordination.decision_record(
            incident=incident, actor=responder, text=f"Block {IP} at the edge", pinned=True
        )
        coordination.question_add(incident=incident, actor=responder, text=f"Who is {EMAIL}?")
        coordination.status_update_post(
            incident=incident,
            actor=responder,
            current_status=f"Refunds to {EMAIL} retried",
            impact=f"One customer ({PHONE})",
        )
    updates = reverse(
        "incidents:status_update_list", kwargs={"org_slug": "acme", "key": incident.key}
    )
    for url in (detail(incident), updates):
        html = page(login(responder), url)
        assert_masked(html, labels=(EMAIL_LABEL, PHONE_LABEL))
    assert IP_LABEL in page(login(responder), detail(incident))
    client = login(compliance)
    reveal(client, incident)
    assert_revealed(page(client, detail(incident)), values=(EMAIL, PHONE, IP))
    assert_revealed(page(client, updates), values=(EMAIL, PHONE))


def test_the_timeline_fragment_is_masked(incident, responder, login):
    url = reverse("incidents:incident_timeline", kwargs={"org_slug": "acme", "key": incident.key})
    assert_masked(page(login(responder), url), labels=(EMAIL_LABEL, IP_LABEL, PHONE_LABEL))


def test_incident_edit_form_shows_personal_data_masked_and_keeps_it_on_save(
    incident, acme, responder, admin, login
):
    url = reverse("incidents:incident_update", kwargs={"org_slug": "acme", "key": incident.key})
    client = login(responder)
    html = page(client, url)
    assert_masked(html, labels=(EMAIL_LABEL, PHONE_LABEL, IP_LABEL))
    assert "Contains personal data, shown masked" in html
    response = client.post(
        url,
        {
            "version": incident.version,
            "title": "Overwritten?",
            "description": "[phone hidden]",
            "cf_note": "[IP address hidden]",
            "kind": "real",
            "impact_summary": "Refunds delayed by a day",
        },
    )
    assert response.status_code == 302
    with scopes_disabled():
        incident.refresh_from_db()
    assert incident.title == f"Refund failed for {EMAIL}"
    assert incident.description == f"Customer called from {PHONE}"
    assert incident.custom_fields == {"contact": SECRET, "note": f"calls from {IP}"}
    assert incident.impact_summary == "Refunds delayed by a day"
    # An admin (who may update and see sensitive data) edits the real text once revealed.
    client = login(admin)
    assert_masked(page(client, url))
    reveal(client, incident)
    assert_revealed(page(client, url), values=(EMAIL, PHONE, IP, SECRET))


def test_status_update_form_filled_from_a_template_masks_the_title(
    incident, acme, responder, login
):
    from incidents.models import StatusUpdateTemplate

    with scopes_disabled():
        template = StatusUpdateTemplate.objects.create(
            organization=acme, name="Masking check", current_status="Investigating: {title}"
        )
    url = reverse(
        "incidents:status_update_create", kwargs={"org_slug": "acme", "key": incident.key}
    )
    html = page(login(responder), url, template=template.pk)
    assert f"Investigating: Refund failed for {EMAIL_LABEL}" in html
    assert EMAIL not in html


# — list and search ————————————————————————————————————————————————————————————————————


def test_incident_list_masks_each_row_and_reveals_only_the_revealed_one(
    incident, acme, responder, compliance, login
):
    other = declare(acme, responder, title="Second refund for bob@example.org")
    client = login(compliance)
    reveal(client, incident)
    html = page(client, reverse("incidents:incident_list", kwargs={"org_slug": "acme"}))
    assert EMAIL in html
    assert "bob@example.org" not in html
    assert other.key in html
    assert_masked(page(login(responder), reverse("incidents:incident_list", args=["acme"])))


def test_the_list_decides_reveal_once_per_request_not_per_row(
    incident, acme, responder, compliance, login
):
    client = login(compliance)
    reveal(client, incident)
    url = reverse("incidents:incident_list", kwargs={"org_slug": "acme"})
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for n in range(6):
        declare(acme, responder, title=f"Refund {n} for person{n}@example.com")
    with CaptureQueriesContext(connection) as many:
        html = page(client, url)
    assert "person3@example.com" not in html
    assert len(many.captured_queries) == len(few.captured_queries)


def test_search_results_are_masked(incident, responder, compliance, login):
    url = reverse("incidents:incident_list", kwargs={"org_slug": "acme"})
    assert_masked(page(login(responder), url, q="Refund"))
    picker = reverse("incidents:incident_pick", kwargs={"org_slug": "acme"})
    assert_masked(page(login(responder), picker, q="Refund"))
    client = login(compliance)
    reveal(client, incident)
    assert EMAIL in page(client, url, q="Refund")
    assert EMAIL in page(client, picker, q="Refund")


def test_similar_open_incidents_beside_the_declare_form_are_masked(incident, responder, login):
    url = reverse("incidents:incident_create_assist", kwargs={"org_slug": "acme"})
    html = page(login(responder), url, title="Refund failed")
    assert incident.key in html
    assert_masked(html)


def test_knowledge_base_search_results_are_masked(acme, admin, responder, compliance, login):
    incident = resolved_incident(acme, admin, f"Refunds failed for {EMAIL}")
    postmortem(incident, summary=f"The refund for {EMAIL} failed at {IP}.")
    url = reverse("postmortems:kb_search", kwargs={"org_slug": "acme"})
    for query in ("refund", ""):
        assert_masked(page(login(responder), url, q=query))
    client = login(compliance)
    reveal(client, incident)
    assert EMAIL in page(client, url, q="refund")


# — CSV ————————————————————————————————————————————————————————————————————————————————


def csv_cells(client, **params) -> list[str]:
    response = client.get(reverse("incidents:incident_export", args=["acme"]), params)
    assert response["Content-Type"].startswith("text/csv")
    return [cell for row in csv.reader(io.StringIO(response.content.decode())) for cell in row]


def test_csv_export_is_masked_until_revealed(incident, responder, compliance, login):
    for user in (responder, compliance):
        text = "\n".join(csv_cells(login(user)))
        assert_masked(text, labels=(EMAIL_LABEL, IP_LABEL, "[hidden]"))
    client = login(compliance)
    reveal(client, incident)
    cells = csv_cells(client)
    assert f"Refund failed for {EMAIL}" in cells
    assert SECRET in cells
    assert f"calls from {IP}" in cells


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=SUM(A1:A9)", "'=SUM(A1:A9)"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(1)", "'@SUM(1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Checkout = broken", "Checkout = broken"),
        ("", ""),
        (None, ""),
    ],
)
def test_csv_cells_neutralise_formula_injection(value, expected):
    assert _csv_safe(value) == expected


def test_csv_export_neutralises_formulas_in_titles_and_custom_fields(
    acme, responder, fields, login
):
    declare(acme, responder, title="@SUM(1+1)", custom_fields={"note": "=HYPERLINK(evil)"})
    cells = csv_cells(login(responder))
    assert "'@SUM(1+1)" in cells
    assert "'=HYPERLINK(evil)" in cells
    assert not any(cell[:1] in "=+-@\t\r" for cell in cells if cell)


# — post-mortem pages and exports ——————————————————————————————————————————————————————


@pytest.fixture
def document(acme, admin, fields):
    incident = resolved_incident(acme, admin, f"Refunds failed for {EMAIL}")
    return postmortem(
        incident,
        summary=f"Refunds for {EMAIL} failed; the customer called from {PHONE}.",
        timeline=[{"at": "2026-11-20T14:02:00+00:00", "text": f"Blocked {IP}", "source": "x"}],
        whys=[(f"Why was {EMAIL} charged twice?", "The retry had no idempotency key")],
        causes=[("process", f"Support wrote to {EMAIL}")],
    )


def pdf_text(content: bytes, tmp_path) -> str:
    path = tmp_path / "export.pdf"
    path.write_bytes(content)
    run = subprocess.run(  # noqa: S603
        ["/usr/bin/pdftotext", "-layout", str(path), "-"], capture_output=True, check=True
    )
    return run.stdout.decode()


def test_postmortem_page_is_masked_until_revealed(document, responder, compliance, login):
    url = reverse(
        "postmortems:postmortem_detail", kwargs={"org_slug": "acme", "key": document.incident.key}
    )
    assert_masked(page(login(responder), url), labels=(EMAIL_LABEL, PHONE_LABEL, IP_LABEL))
    client = login(compliance)
    assert_masked(page(client, url))
    reveal(client, document.incident)
    assert_revealed(page(client, url), values=(EMAIL, PHONE, IP))


def test_postmortem_edit_form_shows_personal_data_masked_and_keeps_it_on_save(
    acme, admin, responder, login
):
    from postmortems.models import PostMortem

    incident = resolved_incident(acme, admin, "Refunds failed")
    document = postmortem(
        incident,
        status=PostMortem.Status.DRAFT,
        summary=f"The customer {EMAIL} was charged twice.",
        detection="The error-rate alert fired.",
    )
    url = reverse("postmortems:postmortem_edit", kwargs={"org_slug": "acme", "key": incident.key})
    client = login(responder)
    html = page(client, url)
    assert_masked(html)
    response = client.post(
        url,
        {"title": "Refunds failed", "summary": "[e-mail hidden]", "detection": "Alert fired."},
    )
    assert response.status_code == 302
    with scopes_disabled():
        document.refresh_from_db()
    assert document.summary == f"The customer {EMAIL} was charged twice."
    assert document.detection == "Alert fired."


def test_action_items_are_masked_and_their_edit_form_locked(document, responder, login):
    from postmortems.models import ActionItem

    with scopes_disabled():
        item = ActionItem.objects.create(
            organization_id=document.organization_id,
            postmortem=document,
            title=f"Write to {EMAIL}",
            description=f"Call {PHONE} first.",
            kind="prevent",
            priority="p2",
        )
    client = login(responder)
    detail_url = reverse(
        "postmortems:action_item_detail", kwargs={"org_slug": "acme", "pk": item.pk}
    )
    html = page(client, detail_url)
    assert_masked(html, labels=(EMAIL_LABEL, PHONE_LABEL))
    assert "Contains personal data, shown masked" in html
    for url in (
        reverse("postmortems:action_item_list", kwargs={"org_slug": "acme"}),
        reverse(
            "postmortems:postmortem_detail",
            kwargs={"org_slug": "acme", "key": document.incident.key},
        ),
    ):
        assert_masked(page(client, url))


def test_postmortem_pdf_is_masked_until_revealed(document, responder, compliance, login, tmp_path):
    url = f"/o/acme/postmortems/{document.incident.key}/export.pdf"
    response = login(responder).get(url)
    assert response.status_code == 200
    text = " ".join(pdf_text(response.content, tmp_path).split())
    assert_masked(text, labels=(EMAIL_LABEL, PHONE_LABEL, IP_LABEL))
    client = login(compliance)
    reveal(client, document.incident)
    text = " ".join(pdf_text(client.get(url).content, tmp_path).split())
    assert_revealed(text, values=(EMAIL, PHONE, IP))


def test_postmortem_markdown_is_masked_until_revealed(document, responder, compliance, login):
    url = f"/o/acme/postmortems/{document.incident.key}/export.md"
    assert_masked(login(responder).get(url).content.decode())
    client = login(compliance)
    reveal(client, document.incident)
    assert_revealed(client.get(url).content.decode(), values=(EMAIL, PHONE, IP))


# — e-mails and inbox, per recipient ———————————————————————————————————————————————————


@pytest.fixture
def queued(monkeypatch):
    from incidents import tasks

    calls = []
    monkeypatch.setattr(tasks.deliver_task, "delay", lambda *args: calls.append(args))
    return calls


def test_emails_and_inbox_are_masked_per_recipient(
    incident, acme, viewer, responder, compliance, admin, login, queued, mailoutbox
):
    reveal(login(compliance), incident)
    notify.notify_users(
        organization=acme,
        users=[viewer, responder, compliance, admin],
        kind="escalation",
        title=f"Call {PHONE} about {EMAIL}",
        body=f"Their IP was {IP}.",
        incident=incident,
        key="masking-test",
    )
    with scopes_disabled():
        for delivery in Delivery.objects.filter(idempotency_key__startswith="masking-test"):
            notify.deliver(delivery=delivery)
        inbox = {n.recipient_id: n for n in Notification.objects.all()}
    mails = {mail.to[0]: mail for mail in mailoutbox}
    assert set(mails) == {viewer.email, responder.email, compliance.email, admin.email}
    for user in (viewer, responder, admin):  # admin may see it, but did not reveal it
        mail = mails[user.email]
        assert_masked(mail.subject + mail.body, labels=(EMAIL_LABEL, PHONE_LABEL, IP_LABEL))
        assert_masked(inbox[user.pk].title + inbox[user.pk].body)
    mail = mails[compliance.email]
    assert_revealed(mail.subject + mail.body, values=(EMAIL, PHONE, IP))
    assert EMAIL in inbox[compliance.pk].title


def test_status_page_subscribers_get_masked_emails(acme, responder, make_member, queued):
    speaker, message = _published(acme, responder, make_member)
    with scopes_disabled():
        Subscriber.objects.create(
            organization=acme, email="someone@example.net", confirmed_at=timezone.now()
        )
        subscriber = Subscriber.objects.get()
        email = statuspage_services.message_email(acme, message, subscriber)
    assert_masked(email["subject"] + email["body"], labels=(EMAIL_LABEL, PHONE_LABEL))


# — chat ———————————————————————————————————————————————————————————————————————————————


def test_chat_webhooks_are_always_masked(incident, acme, compliance, login, queued):
    server = ChatServer()
    try:
        with scopes_disabled():
            ChatWebhook.objects.create(
                organization=acme, name="#incidents", url=server.url, min_severity_level=4
            )
        reveal(login(compliance), incident)  # even a revealed incident stays masked in chat
        notify.post_to_chat(
            organization=acme, incident=incident, text=f"Call {PHONE} now", key="mask-chat"
        )
        with scopes_disabled():
            [delivery] = Delivery.objects.filter(idempotency_key__startswith="mask-chat")
            notify.deliver(delivery=delivery)
        [posted] = server.requests
    finally:
        server.close()
    assert_masked(json.dumps(posted["json"]), labels=(EMAIL_LABEL, PHONE_LABEL))


@pytest.mark.usefixtures("slack_on")
def test_slack_channels_get_masked_text_even_for_a_revealed_incident(
    acme, responder, compliance, login, request, django_capture_on_commit_callbacks
):
    slack = request.getfixturevalue("fake_slack")
    incident = declared(
        django_capture_on_commit_callbacks, acme, responder, "SEV-1", title=f"Refund for {EMAIL}"
    )
    reveal(login(compliance), incident)
    with django_capture_on_commit_callbacks(execute=True):
        channel_services.broadcast(
            organization_id=acme.pk,
            incident_id=incident.pk,
            text=f"Customer at {PHONE} informed",
            kind="decision",
        )
    posted = [c["body"] for c in slack.calls if c["method"] == "chat.postMessage"]
    assert len(posted) == 2  # the opening message and the decision
    assert_masked(json.dumps(posted, ensure_ascii=False), labels=(EMAIL_LABEL, PHONE_LABEL))
    decision = outbound(incident)[-1].text
    assert decision == f"Decision: Customer at {PHONE_LABEL} informed"


# — public status page —————————————————————————————————————————————————————————————————


def _published(acme, responder, make_member):
    speaker = make_member(acme, Role.MANAGER, email="sam@acme.test").user
    with scopes_disabled():
        Spokesperson.objects.create(organization=acme, user=speaker)
        StatusPageSettings.objects.create(organization=acme, is_public=True, title="Acme status")
        component = Component.objects.create(organization=acme, name="Payments", order=1)
    with org_scope(acme):
        message = statuspage_services.message_create(
            organization=acme,
            actor=responder,
            affected={component: ComponentState.PARTIAL_OUTAGE},
            incident=None,
            title=f"Refunds: write to {EMAIL}",
            body=f"Or call {PHONE}. We are on it.",
        )
        statuspage_services.message_approve(organization=acme, actor=speaker, message=message)
        message = statuspage_services.message_publish(
            organization=acme, actor=speaker, message=message
        )
    return speaker, message


def test_public_status_page_and_feed_are_always_masked(
    acme, responder, make_member, admin, client, queued, login
):
    _, message = _published(acme, responder, make_member)
    html = client.get("/status/acme/").content.decode()
    assert "We are on it." in html
    assert_masked(html, labels=(EMAIL_LABEL, PHONE_LABEL))
    feed = client.get("/status/acme/feed.atom").content.decode()
    assert "We are on it." in feed
    assert_masked(feed, labels=(EMAIL_LABEL, PHONE_LABEL))
    # Internally, the message reads as the public will read it, for every role.
    url = reverse("statuspage:message_detail", kwargs={"org_slug": "acme", "pk": message.pk})
    assert_masked(page(login(admin), url), labels=(EMAIL_LABEL, PHONE_LABEL))


# — war room ———————————————————————————————————————————————————————————————————————————


def test_war_room_is_masked_until_revealed(incident, acme, responder, compliance, login):
    with org_scope(acme):
        channel_services.war_room_post(
            incident=incident, actor=responder, text=f"Customer {EMAIL} called from {PHONE}"
        )
    url = reverse("incident_channels:war_room", kwargs={"org_slug": "acme", "key": incident.key})
    html = page(login(responder), url)
    assert_masked(html, labels=(EMAIL_LABEL, PHONE_LABEL))
    client = login(compliance)
    assert_masked(page(client, url))
    reveal(client, incident)
    assert_revealed(page(client, url), values=(EMAIL, PHONE))
    poll = reverse(
        "incident_channels:war_room_messages", kwargs={"org_slug": "acme", "key": incident.key}
    )
    assert_masked(page(login(responder), poll, after=0), labels=(EMAIL_LABEL,))
    with scopes_disabled():  # stored as written: masking is on the way out
        assert WarRoomMessage.objects.filter(text__contains=EMAIL).exists()


# — PDFs fetch nothing —————————————————————————————————————————————————————————————————


class RecordingServer:
    """A local HTTP server that records every request it gets."""

    def __init__(self):
        self.hits: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 — http.server's name
                server.hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def recorder():
    server = RecordingServer()
    yield server
    server.close()


def hostile(base: str) -> str:
    return (
        f'<img src="file:///etc/passwd"> <img src="{base}/img.png">'
        f'<link rel="stylesheet" href="{base}/style.css">'
        f"<style>body {{ background: url('{base}/bg.png') }}</style>"
        f'<iframe src="{base}/frame"></iframe>'
    )


def test_the_recording_server_does_record(recorder):
    import urllib.request

    urllib.request.urlopen(f"{recorder.base}/probe", timeout=5).read()  # noqa: S310
    assert recorder.hits == ["/probe"]


def test_postmortem_pdf_with_hostile_content_fetches_nothing(
    acme, admin, login, recorder, tmp_path
):
    incident = resolved_incident(acme, admin, "Images in content")
    postmortem(
        incident,
        summary=hostile(recorder.base),
        timeline=[{"at": "2026-11-20T14:02:00+00:00", "text": hostile(recorder.base)}],
        causes=[("process", f'<img src="{recorder.base}/cause.png">')],
    )
    response = login(admin).get(f"/o/acme/postmortems/{incident.key}/export.pdf")
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF")
    assert recorder.hits == []
    assert "file:///etc/passwd" in " ".join(pdf_text(response.content, tmp_path).split())


def test_the_postmortem_pdf_fetcher_refuses_what_html_asks_for(recorder):
    """The same fetcher, given markup that would fetch (should escaping ever fail): the PDF
    renders, without the images, and the server hears nothing."""
    from weasyprint import HTML

    from postmortems import export

    html = f"<html><body><h1>Post-mortem</h1>{hostile(recorder.base)}</body></html>"
    content = HTML(string=html, base_url="/", url_fetcher=export._fetcher()).write_pdf()
    assert content.startswith(b"%PDF")
    assert recorder.hits == []


def test_compliance_pdfs_fetch_no_remote_or_file_url(recorder):
    html = f"<html><body><h1>Report</h1>{hostile(recorder.base)}</body></html>"
    try:
        content = render_pdf(html)
    finally:
        assert recorder.hits == []
    assert content.startswith(b"%PDF")
