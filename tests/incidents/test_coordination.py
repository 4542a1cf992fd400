"""Coordination services: the commander's authority, roles, status updates with a required
cadence and durable reminders (controlled clock), templates, handoffs, decisions and open
questions."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django_scopes import scopes_disabled

from incidents import coordination, services, signals, sla
from incidents.lifecycle import Status
from incidents.models import (
    Handoff,
    IncidentRole,
    Notification,
    OpenQuestion,
    StatusCadence,
    StatusDeadline,
    StatusUpdate,
    StatusUpdateTemplate,
    TimelineEvent,
)
from tenancy.scoping import org_scope
from tests.incidents.factories import (
    bring_to,
    declare,
    document,
    fresh,
    severity,
    transition,
)

pytestmark = pytest.mark.django_db

MIN = dt.timedelta(minutes=1)


def inbox(user, incident, kind=None):
    with scopes_disabled():
        rows = Notification.objects.filter(recipient=user, incident=incident)
        if kind:
            rows = rows.filter(kind=kind)
        return list(rows.values_list("kind", flat=True))


def events(incident, kind):
    with scopes_disabled():
        return list(
            TimelineEvent.objects.filter(incident=incident, kind=kind)
            .order_by("created_at", "pk")
            .values_list("message", flat=True)
        )


def deadline_of(incident):
    with scopes_disabled():
        return StatusDeadline.objects.filter(
            incident=incident, satisfied_at__isnull=True, cancelled_at__isnull=True
        ).first()


def sev1_commanded_by(org, reporter, commander, title="Payments down"):
    return declare(org, reporter, title=title, severity=severity(org, "SEV-1"), commander=commander)


def call(service, incident, **kwargs):
    with org_scope(incident.organization_id):
        return service(incident=incident, **kwargs)


# — authority ——————————————————————————————————————————————————————————————————————————


def test_a_responder_cannot_change_the_severity_of_a_sev1_another_person_commands(
    acme, responder, other_responder
):
    incident = sev1_commanded_by(acme, responder, other_responder)
    with pytest.raises(PermissionDenied, match="Only the incident commander \\(Oscar\\)"):
        call(
            services.incident_change_severity,
            incident,
            actor=responder,
            severity=severity(acme, "SEV-2"),
            reason="Looks smaller",
        )
    assert fresh(incident).severity.name == "SEV-1"
    assert events(incident, "severity") == []


def test_the_commander_can_change_the_severity(acme, responder, other_responder):
    incident = sev1_commanded_by(acme, responder, other_responder)
    call(
        services.incident_change_severity,
        incident,
        actor=other_responder,
        severity=severity(acme, "SEV-2"),
        reason="Only one region",
    )
    assert fresh(incident).severity.name == "SEV-2"


def test_a_manager_can_change_the_severity_of_an_incident_someone_else_commands(
    acme, responder, other_responder, manager
):
    incident = sev1_commanded_by(acme, responder, other_responder)
    call(
        services.incident_change_severity,
        incident,
        actor=manager,
        severity=severity(acme, "SEV-2"),
        reason="Only one region",
    )
    assert fresh(incident).severity.name == "SEV-2"


def test_while_nobody_commands_any_responder_may_change_the_severity(incident, other_responder):
    call(
        services.incident_change_severity,
        incident,
        actor=other_responder,
        severity=severity(incident.organization, "SEV-2"),
        reason="More customers affected",
    )
    assert fresh(incident).severity.name == "SEV-2"


def test_assigning_the_commander_through_the_edit_form_needs_command_authority(
    acme, responder, other_responder, viewer
):
    incident = sev1_commanded_by(acme, responder, other_responder)
    with pytest.raises(PermissionDenied):
        call(services.incident_update, incident, actor=responder, changes={"commander": responder})
    assert fresh(incident).commander == other_responder


def test_closing_a_sev2_needs_the_commander_or_a_manager(acme, responder, other_responder, manager):
    from postmortems.models import PostMortemPolicy

    # About command authority: no post-mortem needed (else closing waits for a published one).
    PostMortemPolicy.objects.create(organization=acme, max_severity_level=0)
    incident = declare(acme, responder, severity=severity(acme, "SEV-2"), commander=other_responder)
    incident = bring_to(document(incident, other_responder), Status.RESOLVED, other_responder)
    with pytest.raises(PermissionDenied, match="close a SEV-2"):
        transition(incident, "close", responder)
    assert fresh(incident).status == Status.RESOLVED
    with org_scope(acme):
        options = {o["name"]: o for o in services.available_transitions(fresh(incident), responder)}
    assert "Only the incident commander (Oscar)" in options["close"]["refusal"]
    assert options["close"]["refusal"] is not None
    assert transition(fresh(incident), "close", manager).status == Status.CLOSED


def test_any_responder_may_close_a_sev3(acme, responder, other_responder):
    incident = declare(acme, responder, commander=other_responder)
    incident = bring_to(document(incident, other_responder), Status.RESOLVED, other_responder)
    assert transition(incident, "close", responder).status == Status.CLOSED


# — roles —————————————————————————————————————————————————————————————————————————————


def test_the_commander_assigns_a_role_in_one_call_it_lands_on_the_timeline_and_notifies(
    acme, responder, other_responder
):
    incident = sev1_commanded_by(acme, responder, other_responder)
    call(
        coordination.role_assign,
        incident,
        actor=other_responder,
        role=IncidentRole.Kind.COMMS,
        user=responder,
    )
    with scopes_disabled():
        role = IncidentRole.objects.get(incident=incident, ended_at__isnull=True)
    assert (role.role, role.user) == ("comms", responder)
    assert events(incident, "role") == ["Oscar made Rita communications lead"]
    assert inbox(responder, incident, "role") == ["role"]


def test_someone_without_command_authority_cannot_assign_roles(
    acme, responder, other_responder, viewer
):
    incident = sev1_commanded_by(acme, responder, other_responder)
    with pytest.raises(PermissionDenied, match="assign roles"):
        call(
            coordination.role_assign,
            incident,
            actor=responder,
            role=IncidentRole.Kind.DEPUTY,
            user=responder,
        )
    with pytest.raises(PermissionDenied):
        call(coordination.role_take, incident, actor=viewer, role=IncidentRole.Kind.RESPONDER)
    with scopes_disabled():
        assert not IncidentRole.objects.filter(incident=incident).exists()


def test_a_new_deputy_replaces_the_previous_one(acme, responder, other_responder, manager):
    incident = sev1_commanded_by(acme, responder, other_responder)
    for person in (responder, manager):
        call(
            coordination.role_assign,
            incident,
            actor=other_responder,
            role=IncidentRole.Kind.DEPUTY,
            user=person,
        )
    with scopes_disabled():
        holders = list(
            IncidentRole.objects.filter(incident=incident).values_list("user__email", "ended_at")
        )
    assert [(email, ended is None) for email, ended in holders] == [
        ("rita@acme.test", False),
        ("max@acme.test", True),
    ]
    assert events(incident, "role")[-1] == "Oscar made Max deputy commander (was Rita)"
    assert inbox(responder, incident, "role") == ["role", "role"]  # told, then told it moved


def test_taking_command_of_a_sev1_nobody_commands_is_one_call(acme, responder, other_responder):
    incident = declare(acme, responder, severity=severity(acme, "SEV-1"))
    call(coordination.role_take, incident, actor=other_responder, role="commander")
    assert fresh(incident).commander == other_responder
    assert events(incident, "role") == ["Oscar took over as incident commander"]
    assert transition(fresh(incident), "start_investigation", other_responder).status == (
        Status.INVESTIGATING
    )


def test_only_a_manager_takes_over_command_someone_else_holds(
    acme, responder, other_responder, manager
):
    incident = sev1_commanded_by(acme, responder, other_responder)
    with pytest.raises(PermissionDenied, match="Ask them for a handoff"):
        call(coordination.role_take, incident, actor=responder, role="commander")
    assert fresh(incident).commander == other_responder
    call(coordination.role_take, incident, actor=manager, role="commander")
    assert fresh(incident).commander == manager
    assert inbox(other_responder, incident, "role") == ["role"]


def test_a_taken_role_is_not_taken_over_without_authority(acme, responder, other_responder, admin):
    incident = sev1_commanded_by(acme, responder, other_responder)
    call(coordination.role_take, incident, actor=admin, role=IncidentRole.Kind.SCRIBE)
    with pytest.raises(PermissionDenied):
        call(coordination.role_take, incident, actor=responder, role=IncidentRole.Kind.SCRIBE)
    call(coordination.role_take, incident, actor=responder, role=IncidentRole.Kind.RESPONDER)
    with pytest.raises(ValidationError, match="already"):
        call(coordination.role_take, incident, actor=responder, role=IncidentRole.Kind.RESPONDER)


def test_roles_refuse_unknown_names_and_other_organisations_people(
    acme, responder, other_responder, stranger
):
    incident = sev1_commanded_by(acme, responder, other_responder)
    with pytest.raises(ValidationError):
        call(coordination.role_assign, incident, actor=other_responder, role="king", user=responder)
    with pytest.raises(ValidationError, match="member of this organisation"):
        call(
            coordination.role_assign,
            incident,
            actor=other_responder,
            role=IncidentRole.Kind.SCRIBE,
            user=stranger,
        )


# — status updates: cadence and reminders (controlled clock) ————————————————————————————


@pytest.fixture
def sev1(acme, responder, other_responder, manager):
    """A SEV-1 Oscar commands, with Max as communications lead. Declared at T."""
    incident = sev1_commanded_by(acme, responder, other_responder)
    call(
        coordination.role_assign,
        incident,
        actor=other_responder,
        role=IncidentRole.Kind.COMMS,
        user=manager,
    )
    return fresh(incident)


def test_a_declared_sev1_owes_its_first_update_within_15_minutes(sev1):
    deadline = deadline_of(sev1)
    assert deadline.due_at == sev1.reported_at + 15 * MIN
    assert deadline.remind_at == sev1.reported_at + 12 * MIN  # 20 % of 15 min before


def test_the_reminder_goes_to_the_commander_and_comms_lead_before_and_exactly_once(
    sev1, other_responder, manager, responder
):
    t = sev1.reported_at
    assert coordination.sweep(now=t + 11 * MIN)["status_reminded"] == 0
    assert inbox(other_responder, sev1, "status_due") == []
    assert coordination.sweep(now=t + 12 * MIN)["status_reminded"] == 1
    assert coordination.sweep(now=t + 13 * MIN)["status_reminded"] == 0
    assert inbox(other_responder, sev1, "status_due") == ["status_due"]
    assert inbox(manager, sev1, "status_due") == ["status_due"]
    assert inbox(responder, sev1, "status_due") == []  # reporter, not commander or comms


def test_an_overdue_update_is_flagged_once_on_the_timeline_and_to_both(
    sev1, other_responder, manager
):
    t = sev1.reported_at
    coordination.sweep(now=t + 12 * MIN)
    first = coordination.sweep(now=t + 15 * MIN + dt.timedelta(seconds=1))
    second = coordination.sweep(now=t + 20 * MIN)
    assert (first["status_overdue"], second["status_overdue"]) == (1, 0)
    assert inbox(other_responder, sev1, "status_overdue") == ["status_overdue"]
    assert inbox(manager, sev1, "status_overdue") == ["status_overdue"]
    assert len([m for m in events(sev1, "status_update") if "overdue" in m]) == 1


def test_a_sweeper_that_was_down_sends_overdue_but_not_a_stale_reminder(sev1, other_responder):
    counts = coordination.sweep(now=sev1.reported_at + 30 * MIN)
    assert (counts["status_overdue"], counts["status_reminded"]) == (1, 0)
    assert inbox(other_responder, sev1).count("status_due") == 0


def test_the_sla_sweeper_runs_the_status_reminders_too(sev1):
    counts = sla.sweep_due(now=sev1.reported_at + 12 * MIN + dt.timedelta(seconds=1))
    assert counts["status_reminded"] == 1


def test_a_new_update_satisfies_the_deadline_records_lateness_and_starts_the_next(
    sev1, other_responder
):
    t = sev1.reported_at
    coordination.sweep(now=t + 16 * MIN)
    update = call(
        coordination.status_update_post,
        sev1,
        actor=other_responder,
        current_status="Card payments fail in one region; failing over.",
        now=t + 16 * MIN,
    )
    assert update.due_at == t + 15 * MIN
    assert update.late_seconds == 60
    assert update.on_time is False
    nxt = deadline_of(sev1)
    assert nxt.due_at == t + 31 * MIN
    assert coordination.sweep(now=t + 20 * MIN) == {
        "status_overdue": 0,
        "status_reminded": 0,
        "handoff_escalated": 0,
        "handoff_reminded": 0,
    }
    assert coordination.sweep(now=t + 31 * MIN)["status_overdue"] == 1  # the new deadline's own


def test_an_update_in_time_is_recorded_on_time_and_may_promise_an_earlier_next(
    sev1, other_responder
):
    t = sev1.reported_at
    update = call(
        coordination.status_update_post,
        sev1,
        actor=other_responder,
        current_status="Investigating",
        next_update_at=t + 10 * MIN,
        now=t + 5 * MIN,
    )
    assert (update.late_seconds, update.on_time) == (0, True)
    assert deadline_of(sev1).due_at == t + 10 * MIN


def test_the_next_update_cannot_be_promised_later_than_the_cadence_or_in_the_past(
    sev1, other_responder
):
    t = sev1.reported_at
    with pytest.raises(ValidationError, match="at least every 15 min"):
        call(
            coordination.status_update_post,
            sev1,
            actor=other_responder,
            current_status="Investigating",
            next_update_at=t + 40 * MIN,
            now=t + 5 * MIN,
        )
    with pytest.raises(ValidationError, match="future"):
        call(
            coordination.status_update_post,
            sev1,
            actor=other_responder,
            current_status="Investigating",
            next_update_at=t,
            now=t + 5 * MIN,
        )
    with scopes_disabled():
        assert not StatusUpdate.objects.filter(incident=sev1).exists()
    assert deadline_of(sev1).due_at == t + 15 * MIN


def test_an_update_needs_a_status_and_fits_the_limits(sev1, other_responder, viewer):
    with pytest.raises(ValidationError):
        call(coordination.status_update_post, sev1, actor=other_responder, current_status="  ")
    with pytest.raises(ValidationError):
        call(
            coordination.status_update_post,
            sev1,
            actor=other_responder,
            current_status="x",
            impact="y" * 5001,
        )
    with pytest.raises(PermissionDenied):
        call(coordination.status_update_post, sev1, actor=viewer, current_status="Hi")
    with scopes_disabled():
        assert not StatusUpdate.objects.filter(incident=sev1).exists()


def test_a_sev4_has_no_cadence_and_gets_no_reminders(acme, responder):
    incident = declare(acme, responder, severity=severity(acme, "SEV-4"), commander=responder)
    assert deadline_of(incident) is None
    assert coordination.sweep(now=incident.reported_at + dt.timedelta(days=2)) == {
        "status_overdue": 0,
        "status_reminded": 0,
        "handoff_escalated": 0,
        "handoff_reminded": 0,
    }
    update = call(coordination.status_update_post, incident, actor=responder, current_status="Fine")
    assert (update.due_at, update.late_seconds, update.on_time) == (None, None, None)
    assert deadline_of(incident) is None
    assert inbox(responder, incident) == []


def test_raising_the_severity_brings_the_next_update_forward(incident, responder):
    assert deadline_of(incident).due_at == incident.reported_at + 120 * MIN
    call(
        services.incident_change_severity,
        incident,
        actor=responder,
        severity=severity(incident.organization, "SEV-1"),
        reason="Every customer affected",
    )
    assert deadline_of(incident).due_at == incident.reported_at + 15 * MIN


def test_lowering_to_sev4_cancels_the_deadline_and_resolving_ends_it(acme, responder):
    incident = declare(acme, responder, severity=severity(acme, "SEV-2"), commander=responder)
    call(
        services.incident_change_severity,
        incident,
        actor=responder,
        severity=severity(acme, "SEV-4"),
        reason="Internal only",
    )
    assert deadline_of(incident) is None
    other = declare(acme, responder)
    bring_to(document(other, responder), Status.RESOLVED, responder)
    assert deadline_of(other) is None


def test_the_cadence_is_editable_per_severity_and_open_incidents_follow(
    acme, responder, manager, viewer
):
    incident = declare(acme, responder)
    sev3 = severity(acme, "SEV-3")
    with pytest.raises(PermissionDenied):
        coordination.cadence_save(organization=acme, actor=responder, minutes={sev3.pk: 10})
    with pytest.raises(ValidationError):
        coordination.cadence_save(organization=acme, actor=manager, minutes={sev3.pk: 0})
    coordination.cadence_save(organization=acme, actor=manager, minutes={sev3.pk: 45})
    assert deadline_of(incident).due_at == incident.reported_at + 45 * MIN
    coordination.cadence_save(organization=acme, actor=manager, minutes={sev3.pk: None})
    assert deadline_of(incident) is None
    with scopes_disabled():
        assert StatusCadence.objects.get(organization=acme, severity=sev3).minutes is None


def test_each_update_is_broadcast_to_the_channels_on_commit_only(
    sev1, other_responder, django_capture_on_commit_callbacks
):
    received = []

    def listener(sender, **kwargs):
        received.append(kwargs)

    signals.incident_broadcast.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            call(
                coordination.status_update_post,
                sev1,
                actor=other_responder,
                current_status="Failing over to the second region.",
                impact="Card payments fail for 30 % of customers.",
            )
        assert received == []  # nothing before the commit
        for callback in callbacks:
            callback()
    finally:
        signals.incident_broadcast.disconnect(listener)
    assert len(received) == 1
    message = received[0]
    assert message["kind"] == "status_update"
    assert message["organization_id"] == sev1.organization_id
    assert message["incident_id"] == sev1.pk
    assert message["actor_id"] == other_responder.pk
    assert "Failing over to the second region." in message["text"]
    assert "Impact: Card payments fail for 30 % of customers." in message["text"]
    assert message["text"].startswith(f"{sev1.key} · SEV-1 · status update:")


def test_a_rolled_back_update_broadcasts_nothing(sev1, other_responder):
    received = []
    signals.incident_broadcast.connect(lambda sender, **kw: received.append(kw), weak=False,
                                       dispatch_uid="test-rollback")  # fmt: skip
    try:
        with pytest.raises(ValidationError):
            call(coordination.status_update_post, sev1, actor=other_responder, current_status="")
    finally:
        signals.incident_broadcast.disconnect(dispatch_uid="test-rollback")
    assert received == []


def test_an_update_lands_on_the_timeline(sev1, other_responder):
    call(
        coordination.status_update_post,
        sev1,
        actor=other_responder,
        current_status="Failing over.",
        workaround="Pay by bank transfer.",
    )
    (message,) = events(sev1, "status_update")
    assert message.startswith("Failing over.\nWorkaround: Pay by bank transfer.\nNext update by ")


# — templates —————————————————————————————————————————————————————————————————————————


def test_a_template_is_filled_from_the_incident(acme, responder, other_responder):
    incident = sev1_commanded_by(acme, responder, other_responder, title="Card payments fail")
    with org_scope(acme):
        template = StatusUpdateTemplate.objects.create(
            organization=acme,
            name="Mine",
            current_status="{key} ({severity}, {status}): {title}",
            impact="Affected: {services}",
            body="Led by {commander} for {organization}. Next update {next_update_at}. {{literal}}",
        )
        at = incident.reported_at + 15 * MIN
        filled = coordination.template_render(template, incident, next_update_at=at)
    local = at.astimezone(acme.tzinfo).strftime("%H:%M %Z")
    assert filled == {
        "current_status": f"{incident.key} (SEV-1, Reported): Card payments fail",
        "impact": "Affected: no service named yet",
        "workaround": "",
        "body": f"Led by Oscar for Acme Payments. Next update {local}. {{literal}}",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Hello {customer}", "Unknown placeholder {customer}"),
        ("{key.upper}", "Unknown placeholder {key.upper}"),
        ("{0}", "Unknown placeholder {0}"),
        ("{title!r}", "Unknown placeholder {title!r}"),
        ("{key:>10}", "Unknown placeholder {key}"),
        ("{a} and {b}", "Unknown placeholders {a}, {b}"),
        ("open {brace", "Unbalanced braces"),
    ],
)
def test_unknown_placeholders_are_refused_with_a_clear_message(acme, manager, text, message):
    with pytest.raises(ValidationError) as error:
        coordination.template_save(
            organization=acme, actor=manager, name="Bad", current_status=text
        )
    assert message in " ".join(error.value.messages)
    assert "Use {key}, {title}" in " ".join(error.value.messages) or "Unbalanced" in message
    with scopes_disabled():
        assert not StatusUpdateTemplate.objects.filter(organization=acme, name="Bad").exists()


def test_only_managers_edit_templates_and_names_are_unique(acme, responder, manager):
    with pytest.raises(PermissionDenied):
        coordination.template_save(
            organization=acme, actor=responder, name="Mine", current_status="{title}"
        )
    coordination.template_save(organization=acme, actor=manager, name="Mine", current_status="x")
    with pytest.raises(ValidationError, match="Another template"):
        coordination.template_save(
            organization=acme, actor=manager, name="MINE", current_status="y"
        )


def test_new_organisations_start_with_templates(acme):
    with scopes_disabled():
        names = list(
            StatusUpdateTemplate.objects.filter(organization=acme).values_list("name", flat=True)
        )
    assert names == ["Investigating", "Mitigated, monitoring"]


# — handoffs ——————————————————————————————————————————————————————————————————————————


def hand_over(incident, actor, incoming, **kwargs):
    kwargs.setdefault("summary", "Failover done; monitoring the error rate.")
    return call(coordination.handoff_create, incident, actor=actor, incoming=incoming, **kwargs)


def test_command_moves_only_when_the_incoming_person_acknowledges(acme, responder, other_responder):
    incident = sev1_commanded_by(acme, responder, other_responder)
    handoff = hand_over(
        incident,
        other_responder,
        responder,
        workarounds="Bank transfer",
        pending_actions=[("Check the replica lag", responder), ("Tell support", None)],
        questions=["Was the release the cause?", "  "],
    )
    assert handoff.transfers_command is True
    assert fresh(incident).commander == other_responder  # not before acknowledgement
    assert inbox(responder, incident, "handoff") == ["handoff"]
    with pytest.raises(PermissionDenied, match="Only Rita"):
        coordination.handoff_acknowledge(handoff=handoff, actor=other_responder)
    assert fresh(incident).commander == other_responder
    with org_scope(acme):
        coordination.handoff_acknowledge(handoff=handoff, actor=responder, note="Got it")
    assert fresh(incident).commander == responder
    handoff.refresh_from_db()
    assert handoff.status == Handoff.Status.ACKNOWLEDGED
    assert handoff.pending_actions == [
        {"action": "Check the replica lag", "owner_id": responder.pk, "owner": "Rita"},
        {"action": "Tell support", "owner_id": None, "owner": ""},
    ]
    assert events(incident, "handoff") == [
        "Oscar hands over to Rita (with command); waiting for acknowledgement",
        "Rita acknowledged the handoff from Oscar; Rita now commands the incident: Got it",
    ]
    with scopes_disabled():
        assert list(OpenQuestion.objects.filter(incident=incident).values_list("text", flat=True))\
            == ["Was the release the cause?"]  # fmt: skip
    with pytest.raises(ValidationError, match="acknowledged already"), org_scope(acme):
        coordination.handoff_acknowledge(handoff=handoff, actor=responder)


def test_a_handoff_from_someone_who_does_not_command_leaves_command_alone(
    acme, responder, other_responder, manager
):
    incident = sev1_commanded_by(acme, responder, other_responder)
    handoff = hand_over(incident, responder, manager)
    assert handoff.transfers_command is False
    with org_scope(acme):
        coordination.handoff_acknowledge(handoff=handoff, actor=manager)
    assert fresh(incident).commander == other_responder


def test_wrong_handoffs_are_refused(acme, responder, other_responder, stranger, viewer):
    incident = sev1_commanded_by(acme, responder, other_responder)
    with pytest.raises(ValidationError, match="someone else"):
        hand_over(incident, other_responder, other_responder)
    with pytest.raises(ValidationError, match="member"):
        hand_over(incident, other_responder, stranger)
    with pytest.raises(ValidationError):
        hand_over(incident, other_responder, responder, summary=" ")
    with pytest.raises(PermissionDenied):
        hand_over(incident, viewer, responder)
    with pytest.raises(PermissionDenied):  # for someone else: needs command authority
        hand_over(incident, responder, viewer, outgoing=other_responder)
    with pytest.raises(ValidationError, match="read-only"):  # could not acknowledge it
        hand_over(incident, other_responder, viewer)
    hand_over(incident, other_responder, responder)
    with pytest.raises(ValidationError, match="already waiting"):
        hand_over(incident, other_responder, responder)
    with scopes_disabled():
        assert Handoff.objects.filter(incident=incident).count() == 1


def test_an_unacknowledged_handoff_is_reminded_then_escalated_to_managers_once_each(
    acme, responder, other_responder, manager, admin
):
    incident = sev1_commanded_by(acme, responder, other_responder)
    handoff = hand_over(incident, other_responder, responder)
    t = handoff.created_at
    assert coordination.sweep(now=t + 9 * MIN)["handoff_reminded"] == 0
    assert coordination.sweep(now=t + 10 * MIN)["handoff_reminded"] == 1
    assert coordination.sweep(now=t + 11 * MIN)["handoff_reminded"] == 0
    assert inbox(responder, incident, "handoff") == ["handoff", "handoff"]
    assert inbox(manager, incident, "handoff_escalation") == []
    assert coordination.sweep(now=t + 30 * MIN)["handoff_escalated"] == 1
    assert coordination.sweep(now=t + 45 * MIN)["handoff_escalated"] == 0
    assert inbox(manager, incident, "handoff_escalation") == ["handoff_escalation"]
    assert inbox(admin, incident, "handoff_escalation") == ["handoff_escalation"]
    assert inbox(other_responder, incident, "handoff_escalation") == []
    assert "escalated to the managers" in events(incident, "handoff")[-1]


def test_an_acknowledged_or_cancelled_handoff_is_not_reminded(acme, responder, other_responder):
    incident = sev1_commanded_by(acme, responder, other_responder)
    handoff = hand_over(incident, other_responder, responder)
    with org_scope(acme):
        coordination.handoff_cancel(handoff=handoff, actor=other_responder)
    counts = coordination.sweep(now=handoff.created_at + 60 * MIN)
    assert (counts["handoff_reminded"], counts["handoff_escalated"]) == (0, 0)


# — decisions and questions ————————————————————————————————————————————————————————————


def test_decisions_can_be_pinned_and_unpinned(incident, responder, viewer):
    decision = call(coordination.decision_record, incident, actor=responder, text="Roll back")
    call(coordination.decision_pin, incident, actor=responder, event=decision, pinned=True)
    with org_scope(incident.organization_id):
        summary = coordination.coordination_summary(fresh(incident), user=responder)
    assert [d.message for d in summary["pinned"]] == ["Roll back"]
    comment = call(services.incident_comment, incident, actor=responder, text="Just a comment")
    with pytest.raises(ValidationError, match="Only decisions"):
        call(coordination.decision_pin, incident, actor=responder, event=comment, pinned=True)
    with pytest.raises(PermissionDenied):
        call(coordination.decision_pin, incident, actor=viewer, event=decision, pinned=False)
    call(coordination.decision_pin, incident, actor=responder, event=decision, pinned=False)
    with org_scope(incident.organization_id):
        assert coordination.coordination_summary(incident, user=responder)["pinned"] == []


def test_a_pinned_decision_is_broadcast(incident, responder, django_capture_on_commit_callbacks):
    received = []
    signals.incident_broadcast.connect(lambda sender, **kw: received.append(kw), weak=False,
                                       dispatch_uid="test-decision")  # fmt: skip
    try:
        with django_capture_on_commit_callbacks(execute=True):
            call(
                coordination.decision_record,
                incident,
                actor=responder,
                text="Fail over",
                pinned=True,
            )
    finally:
        signals.incident_broadcast.disconnect(dispatch_uid="test-decision")
    assert [(m["kind"], m["text"]) for m in received] == [
        ("decision", f"{incident.key} · decision: Fail over")
    ]


def test_open_questions_are_answered_once_and_closed(incident, responder, other_responder):
    question = call(coordination.question_add, incident, actor=responder, text="Is EU affected?")
    with pytest.raises(ValidationError):
        call(coordination.question_answer, incident, actor=other_responder, question=question,
             answer=" ")  # fmt: skip
    call(
        coordination.question_answer,
        incident,
        actor=other_responder,
        question=question,
        answer="No, US only",
    )
    with pytest.raises(ValidationError, match="answered already"):
        call(coordination.question_answer, incident, actor=responder, question=question,
             answer="Yes")  # fmt: skip
    question.refresh_from_db()
    assert (question.answer, question.answered_by) == ("No, US only", other_responder)
    assert events(incident, "question") == [
        "Open question: Is EU affected?",
        "Answered “Is EU affected?”: No, US only",
    ]


@pytest.mark.django_db(transaction=True)
def test_two_sweepers_at_once_flag_each_overdue_update_once(acme, responder):
    import threading

    from django.db import connection

    incidents = [
        declare(acme, responder, title=f"Outage {n}", severity=severity(acme, "SEV-1"))
        for n in range(12)
    ]
    later = max(i.reported_at for i in incidents) + 16 * MIN
    barrier = threading.Barrier(2)
    results = []

    def sweeper():
        barrier.wait()
        try:
            results.append(coordination.sweep(now=later)["status_overdue"])
        finally:
            connection.close()

    threads = [threading.Thread(target=sweeper) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == 12
    with scopes_disabled():
        assert StatusDeadline.objects.filter(overdue_at__isnull=False).count() == 12
        assert Notification.objects.filter(kind="status_overdue").count() == 12  # the watcher
        overdue = TimelineEvent.objects.filter(kind="status_update", data__overdue=True)
        assert overdue.count() == 12


def test_ending_a_commanded_major_incident_any_way_is_the_commanders_call(
    acme, responder, other_responder
):
    """Dismissing it or marking it a duplicate ends it as surely as closing it."""
    incident = sev1_commanded_by(acme, responder, other_responder)
    primary = declare(acme, responder, title="The first report")
    with org_scope(acme), pytest.raises(PermissionDenied, match="commander"):
        services.incident_transition(
            incident=incident, name="mark_duplicate", actor=responder, duplicate_of=primary
        )
    with org_scope(acme):
        services.incident_transition(
            incident=incident, name="mark_duplicate", actor=other_responder, duplicate_of=primary
        )
    assert fresh(incident).status == "duplicate"


def test_a_read_only_member_cannot_be_given_a_role(acme, responder, viewer):
    incident = sev1_commanded_by(acme, responder, responder)
    with org_scope(acme), pytest.raises(ValidationError, match="read-only"):
        coordination.role_assign(incident=incident, actor=responder, role="scribe", user=viewer)


def test_ending_the_incident_cancels_a_pending_handoff(acme, responder, other_responder):
    incident = sev1_commanded_by(acme, responder, other_responder)
    primary = declare(acme, responder, title="The first report")
    handoff = hand_over(incident, other_responder, responder)
    with org_scope(acme):
        services.incident_transition(
            incident=incident, name="mark_duplicate", actor=other_responder, duplicate_of=primary
        )
    with scopes_disabled():
        handoff.refresh_from_db()
    assert handoff.status == "cancelled"
    later = dt.datetime.now(dt.UTC) + 120 * MIN
    assert coordination.sweep(now=later)["handoff_escalated"] == 0
