"""Coordination pages and buttons: scoped, permission-checked, honest about refusals, and
refusing wrong input with nothing changed."""

import datetime as dt

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from incidents import coordination
from incidents.models import (
    Handoff,
    IncidentRole,
    OpenQuestion,
    StatusCadence,
    StatusUpdate,
    StatusUpdateTemplate,
    TimelineEvent,
)
from tenancy.scoping import org_scope
from tests.incidents.factories import bring_to, declare, document, fresh, severity

pytestmark = pytest.mark.django_db


def url(view, incident=None, org="acme", **kwargs):
    if incident is not None:
        kwargs["key"] = incident.key
    return reverse(f"incidents:{view}", kwargs={"org_slug": org, **kwargs})


@pytest.fixture
def sev1(acme, responder, other_responder):
    """A SEV-1 Oscar commands."""
    return declare(
        acme, responder, title="Payments down", severity=severity(acme, "SEV-1"),
        commander=other_responder,
    )  # fmt: skip


@pytest.fixture
def handoff(sev1, other_responder, responder):
    with org_scope(sev1.organization_id):
        return coordination.handoff_create(
            incident=sev1, actor=other_responder, incoming=responder, summary="Failover done"
        )


@pytest.fixture
def question(sev1, responder):
    with org_scope(sev1.organization_id):
        return coordination.question_add(incident=sev1, actor=responder, text="EU too?")


@pytest.fixture
def decision(sev1, responder):
    with org_scope(sev1.organization_id):
        return coordination.decision_record(incident=sev1, actor=responder, text="Roll back")


@pytest.fixture
def assignment(sev1, other_responder, responder):
    with org_scope(sev1.organization_id):
        coordination.role_take(incident=sev1, actor=responder, role="scribe")
    with scopes_disabled():
        return IncidentRole.objects.get(incident=sev1)


# — every new URL: another tenant and a hidden (restricted) incident give 404 ————————————


def incident_urls(sev1, handoff, question, decision, assignment):
    return [
        url("role_assign", sev1),
        url("role_take", sev1),
        url("role_release", sev1, pk=assignment.pk),
        url("status_update_list", sev1),
        url("status_update_create", sev1),
        url("handoff_list", sev1),
        url("handoff_create", sev1),
        url("handoff_detail", sev1, pk=handoff.pk),
        url("handoff_acknowledge", sev1, pk=handoff.pk),
        url("handoff_cancel", sev1, pk=handoff.pk),
        url("decision_create", sev1),
        url("decision_pin", sev1, pk=decision.pk),
        url("question_create", sev1),
        url("question_answer", sev1, pk=question.pk),
    ]


def test_another_organisations_member_gets_404_on_every_coordination_url(
    sev1, handoff, question, decision, assignment, stranger, login
):
    client = login(stranger)
    urls = incident_urls(sev1, handoff, question, decision, assignment) + [
        url("status_settings"),
        url("status_cadence_save"),
        url("status_template_create"),
    ]
    for address in urls:
        for method in (client.get, client.post):
            response = method(address, {"role": "commander", "text": "x", "answer": "y"})
            assert response.status_code == 404, f"{method.__name__} {address}"
            assert b"Payments down" not in response.content
    assert fresh(sev1).commander.email == "oscar@acme.test"
    with scopes_disabled():
        assert not OpenQuestion.objects.filter(answered_at__isnull=False).exists()


def test_a_restricted_incident_is_404_on_every_coordination_url_for_people_without_access(
    sev1, handoff, question, decision, assignment, manager, login, acme, admin
):
    """A manager holds every capability these pages ask for, but no access to this one."""
    from incidents import services

    with org_scope(acme):
        services.incident_set_restricted(incident=sev1, actor=admin, is_restricted=True)
    client = login(manager)
    for address in incident_urls(sev1, handoff, question, decision, assignment):
        assert client.post(address).status_code == 404, address
        # POST-only buttons answer 405 to a GET for any key, so it tells nothing either
        assert client.get(address).status_code in (404, 405), address
    pages = [url("status_update_list", sev1), url("handoff_list", sev1)]
    assert [client.get(p).status_code for p in pages] == [404, 404]


def test_a_foreign_objects_id_under_our_incident_is_404(
    sev1, acme, responder, other_responder, login
):
    other = declare(acme, responder, title="Other")
    with org_scope(acme):
        question = coordination.question_add(incident=other, actor=responder, text="Elsewhere?")
    response = login(responder).post(url("question_answer", sev1, pk=question.pk), {"answer": "No"})
    assert response.status_code == 404
    question.refresh_from_db()
    assert question.answered_at is None


# — roles ————————————————————————————————————————————————————————————————————————————


def test_take_command_is_one_click_from_the_banner(acme, responder, login):
    incident = declare(acme, responder, severity=severity(acme, "SEV-1"))
    client = login(responder)
    page = client.get(url("incident_detail", incident))
    assert b'data-testid="no-commander-banner"' in page.content
    response = client.post(url("role_take", incident), {"role": "commander"})
    assert response.status_code == 302
    assert fresh(incident).commander == responder
    page = client.get(url("incident_detail", incident))
    assert b'data-testid="no-commander-banner"' not in page.content


def test_a_responder_sees_why_they_cannot_assign_roles_and_is_refused(sev1, responder, login):
    client = login(responder)
    page = client.get(url("incident_detail", sev1)).content.decode()
    assert "Only the incident commander (Oscar) or a manager may assign roles" in page
    assert url("role_assign", sev1) not in page
    response = client.post(
        url("role_assign", sev1), {"role": "deputy", "user": responder.pk}, follow=True
    )
    assert "Only the incident commander (Oscar)" in response.content.decode()
    with scopes_disabled():
        assert not IncidentRole.objects.filter(incident=sev1).exists()


def test_the_commander_assigns_a_role_from_the_page(sev1, other_responder, responder, login):
    client = login(other_responder)
    assert url("role_assign", sev1) in client.get(url("incident_detail", sev1)).content.decode()
    client.post(url("role_assign", sev1), {"role": "comms", "user": responder.pk})
    with scopes_disabled():
        role = IncidentRole.objects.get(incident=sev1)
    assert (role.role, role.user) == ("comms", responder)


def test_a_viewer_cannot_take_a_role(sev1, viewer, login):
    response = login(viewer).post(url("role_take", sev1), {"role": "responder"})
    assert response.status_code == 403
    with scopes_disabled():
        assert not IncidentRole.objects.filter(incident=sev1).exists()


def test_wrong_role_input_is_refused(sev1, other_responder, login):
    client = login(other_responder)
    for data in ({"role": "king"}, {}, {"role": "deputy", "user": "abc"}):
        response = client.post(url("role_assign", sev1), data, follow=True)
        assert response.status_code == 200
    with scopes_disabled():
        assert not IncidentRole.objects.filter(incident=sev1).exists()


def test_the_close_button_says_who_may_close_a_major_incident(
    acme, responder, other_responder, login
):
    incident = declare(acme, responder, severity=severity(acme, "SEV-2"), commander=responder)
    bring_to(document(incident, responder), "resolved", responder)
    page = login(other_responder).get(url("incident_detail", incident)).content.decode()
    assert 'id="refusal-close"' in page
    assert "Only the incident commander (Rita) or a manager may close a SEV-2" in page


# — status updates ————————————————————————————————————————————————————————————————————


def test_posting_from_a_template_fills_it_from_the_incident_and_lands_everywhere(
    sev1, other_responder, login, acme
):
    with scopes_disabled():
        template = StatusUpdateTemplate.objects.get(organization=acme, name="Investigating")
    client = login(other_responder)
    form = client.get(url("status_update_create", sev1), {"template": template.pk})
    text = form.content.decode()
    assert "We are investigating Payments down (SEV-1)." in text
    assert "Oscar leads the response." in text
    response = client.post(
        url("status_update_create", sev1),
        {
            "current_status": "We are investigating Payments down (SEV-1).",
            "impact": "Card payments fail.",
            "template": template.pk,
        },
    )
    assert response.status_code == 302
    with scopes_disabled():
        update = StatusUpdate.objects.get(incident=sev1)
    assert update.template == template
    assert update.late_seconds == 0
    page = client.get(url("incident_detail", sev1)).content.decode()
    assert 'data-testid="last-update"' in page
    assert "Card payments fail." in page
    assert "due in 1" in page  # the next one, 15 min from now ("14 min" or "15 min")
    listing = client.get(url("status_update_list", sev1)).content.decode()
    assert "on time" in listing


def test_wrong_update_input_is_shown_and_nothing_is_posted(sev1, other_responder, login):
    client = login(other_responder)
    too_late = (dt.datetime.now(tz=dt.UTC) + dt.timedelta(hours=3)).astimezone(
        sev1.organization.tzinfo
    )
    cases = [
        ({"current_status": ""}, "This field is required."),
        ({"current_status": "x" * 5001}, "at most 5000 characters"),
        ({"current_status": "ok", "next_update_at": "yesterday"}, "Enter a valid date/time."),
        (
            {"current_status": "ok", "next_update_at": too_late.strftime("%Y-%m-%dT%H:%M")},
            "needs an update at least every 15 min",
        ),
        ({"current_status": "ok", "template": "999999"}, "Select a valid choice"),
    ]
    for data, message in cases:
        response = client.post(url("status_update_create", sev1), data)
        assert response.status_code == 200
        assert message in response.content.decode(), message
    with scopes_disabled():
        assert not StatusUpdate.objects.filter(incident=sev1).exists()


def test_an_overdue_update_is_flagged_on_the_page(sev1, responder, login):
    with scopes_disabled():
        sev1.status_deadlines.update(due_at=dt.datetime.now(tz=dt.UTC) - dt.timedelta(minutes=3))
    page = login(responder).get(url("incident_detail", sev1)).content.decode()
    assert 'data-testid="update-overdue-banner"' in page
    assert "overdue by 3 min" in page


def test_a_viewer_may_read_updates_but_not_post(sev1, viewer, login):
    client = login(viewer)
    assert client.get(url("status_update_list", sev1)).status_code == 200
    assert client.get(url("status_update_create", sev1)).status_code == 403
    assert (
        client.post(url("status_update_create", sev1), {"current_status": "x"}).status_code == 403
    )


# — handoffs, decisions, questions ———————————————————————————————————————————————————


def test_a_handoff_is_recorded_from_the_form_and_acknowledged_by_the_incoming_person(
    sev1, other_responder, responder, login, client
):
    oscar = login(other_responder)
    page = oscar.get(url("handoff_create", sev1))
    assert (
        "command moves to the incoming person only when they acknowledge" in page.content.decode()
    )
    response = oscar.post(
        url("handoff_create", sev1),
        {
            "incoming": responder.pk,
            "summary": "Failover done; watching errors.",
            "workarounds": "Bank transfer",
            "action_1": "Check replica lag",
            "owner_1": responder.pk,
            "questions": "Was it the release?\nDo we tell the regulator?",
        },
    )
    assert response.status_code == 302
    with scopes_disabled():
        handoff = Handoff.objects.get(incident=sev1)
        assert OpenQuestion.objects.filter(handoff=handoff).count() == 2
    printable = oscar.get(url("handoff_list", sev1)).content.decode()
    assert "Check replica lag" in printable
    assert "Was it the release?" in printable
    assert fresh(sev1).commander == other_responder
    client.logout()
    rita = login(responder)
    detail = rita.get(url("handoff_detail", sev1, pk=handoff.pk)).content.decode()
    assert "Acknowledge: I take over" in detail
    rita.post(url("handoff_acknowledge", sev1, pk=handoff.pk), {"note": "Mine now"})
    assert fresh(sev1).commander == responder


def test_someone_else_cannot_acknowledge_a_handoff(sev1, handoff, manager, login):
    response = login(manager).post(url("handoff_acknowledge", sev1, pk=handoff.pk), follow=True)
    assert "Only Rita can acknowledge this handoff." in response.content.decode()
    handoff.refresh_from_db()
    assert handoff.status == "pending"
    assert fresh(sev1).commander.email == "oscar@acme.test"


def test_wrong_handoff_input_is_shown_and_nothing_is_recorded(sev1, other_responder, login):
    client = login(other_responder)
    cases = [
        ({"incoming": other_responder.pk, "summary": "x"}, "Hand over to someone else."),
        ({"summary": "x"}, "This field is required."),
        ({"incoming": "nobody", "summary": "x"}, "Select a valid choice"),
        (
            {"incoming": 1, "summary": "x", "owner_1": other_responder.pk},
            "Say what the owner has to do.",
        ),
    ]
    for data, message in cases:
        response = client.post(url("handoff_create", sev1), data)
        assert response.status_code == 200
        assert message in response.content.decode(), message
    with scopes_disabled():
        assert not Handoff.objects.exists()


def test_decisions_and_questions_from_the_page(sev1, responder, login):
    client = login(responder)
    client.post(url("decision_create", sev1), {"text": "Fail over to EU-2", "pinned": "on"})
    with scopes_disabled():
        decision = TimelineEvent.objects.get(incident=sev1, kind="decision")
    assert decision.is_pinned
    page = client.get(url("incident_detail", sev1)).content.decode()
    assert 'data-testid="pinned-decisions"' in page
    client.post(url("decision_pin", sev1, pk=decision.pk), {"pinned": "no"})
    decision.refresh_from_db()
    assert not decision.is_pinned
    client.post(url("question_create", sev1), {"text": "Which customers?"})
    with scopes_disabled():
        question = OpenQuestion.objects.get(incident=sev1)
    client.post(url("question_answer", sev1, pk=question.pk), {"answer": "EU only"})
    question.refresh_from_db()
    assert question.answer == "EU only"
    client.post(url("question_create", sev1), {"text": "x" * 501})
    client.post(url("decision_create", sev1), {"text": ""})
    with scopes_disabled():
        assert OpenQuestion.objects.filter(incident=sev1).count() == 1
        assert TimelineEvent.objects.filter(incident=sev1, kind="decision").count() == 1


# — organisation settings ——————————————————————————————————————————————————————————————


def test_managers_set_the_cadence_and_others_only_read_it(acme, manager, responder, login, client):
    sev3 = severity(acme, "SEV-3")
    page = login(responder).get(url("status_settings")).content.decode()
    assert "120 min" in page
    assert "(default)" in page
    assert (
        login(responder).post(url("status_cadence_save"), {f"sev_{sev3.pk}": 5}).status_code == 403
    )
    assert login(responder).get(url("status_template_create")).status_code == 403
    client.logout()
    manager_client = login(manager)
    bad = manager_client.post(url("status_cadence_save"), {f"sev_{sev3.pk}": 0})
    assert bad.status_code == 200
    assert "greater than or equal to 1" in bad.content.decode()
    manager_client.post(url("status_cadence_save"), {f"sev_{sev3.pk}": 45})
    with scopes_disabled():
        assert StatusCadence.objects.get(organization=acme, severity=sev3).minutes == 45


def test_a_template_with_an_unknown_placeholder_is_refused_on_the_form(acme, manager, login):
    response = login(manager).post(
        url("status_template_create"),
        {"name": "Bad", "current_status": "Dear {customer}", "is_active": "on"},
    )
    assert response.status_code == 200
    assert "Unknown placeholder {customer}" in response.content.decode()
    with scopes_disabled():
        assert not StatusUpdateTemplate.objects.filter(name="Bad").exists()
