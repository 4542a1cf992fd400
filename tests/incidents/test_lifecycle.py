"""The lifecycle through incidents.services.incident_transition: every transition from each of
its source states, refusals from the wrong state, each requirement named when missing, role
refusals, notes, and reopening."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from incidents import services
from incidents.lifecycle import TRANSITIONS, Status
from incidents.models import ImpactPeriod, Incident, TimelineEvent
from tests.incidents.factories import (
    CustomFieldDefinitionFactory,
    bring_to,
    declare,
    fresh,
    pass_verification,
    severity,
    transition,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("acme_scope")]

ALLOWED = [(name, source) for name, (sources, _, _) in TRANSITIONS.items() for source in sources]
REFUSED = [
    (name, state)
    for name, (sources, _, _) in TRANSITIONS.items()
    for state in Status.values
    if state not in sources
]


@pytest.fixture(params=["vigil", "responder"])
def actor(request, responder):
    """Who runs a transition that a requirement blocks: Vigil itself (alerts, commands) or a
    responder at the keyboard. Both must be told what is missing."""
    return {"vigil": None, "responder": responder}[request.param]


def status_events(incident) -> int:
    return TimelineEvent.objects.filter(incident=incident, kind=TimelineEvent.Kind.STATUS).count()


def codes(error) -> list[str]:
    return [m.code for m in error.missing]


def labels(error) -> list[str]:
    return [m.label for m in error.missing]


# — allowed and refused ————————————————————————————————————————————————————————————————


@pytest.mark.parametrize(("name", "source"), ALLOWED)
def test_each_transition_is_allowed_from_each_of_its_source_states(
    documented, responder, name, source
):
    incident = bring_to(documented, source, responder)

    transition(incident, name, responder)

    after = fresh(incident)
    target = TRANSITIONS[name][1]
    assert after.status == target
    assert after.version == incident.version + 1
    event = after.events.filter(kind=TimelineEvent.Kind.STATUS).first()
    assert event.actor == responder
    assert event.data == {"transition": name, "previous": source, "target": target}


@pytest.mark.parametrize(("name", "state"), REFUSED)
def test_each_transition_is_refused_from_a_wrong_state_and_the_status_is_unchanged(
    documented, responder, name, state
):
    incident = bring_to(documented, state, responder)
    events = status_events(incident)

    with pytest.raises(ValidationError, match="is not possible while the incident is"):
        transition(incident, name, responder)

    after = fresh(incident)
    assert after.status == state
    assert after.version == incident.version
    assert status_events(incident) == events


def test_an_unknown_transition_is_refused(incident, responder):
    with pytest.raises(ValidationError, match="is not a transition"):
        services.incident_transition(incident=incident, name="delete", actor=responder)

    assert fresh(incident).status == Status.REPORTED


# — requirements ———————————————————————————————————————————————————————————————————————


@pytest.mark.parametrize("level", ["SEV-1", "SEV-2"])
def test_a_major_incident_needs_a_commander_before_investigation(acme, responder, actor, level):
    incident = declare(acme, responder, severity=severity(acme, level))

    with pytest.raises(services.RequirementsMissing) as refused:
        transition(incident, "start_investigation", actor)

    assert codes(refused.value) == ["commander_for_major"]
    assert labels(refused.value) == ["an incident commander (SEV-1 and SEV-2)"]
    assert fresh(incident).status == Status.REPORTED
    assert status_events(incident) == 0


@pytest.mark.parametrize("level", ["SEV-1", "SEV-2"])
def test_a_major_incident_with_a_commander_starts_investigation(acme, responder, level):
    incident = declare(acme, responder, severity=severity(acme, level), commander=responder)

    transition(incident, "start_investigation", responder)

    after = fresh(incident)
    assert after.status == Status.INVESTIGATING
    assert after.acknowledged_at is not None


@pytest.mark.parametrize("level", ["SEV-3", "SEV-4"])
def test_a_minor_incident_starts_investigation_without_a_commander(acme, responder, level):
    incident = declare(acme, responder, severity=severity(acme, level))

    transition(incident, "start_investigation", responder)

    assert fresh(incident).status == Status.INVESTIGATING


def test_mitigation_needs_an_impact_summary(incident, responder, actor):
    incident = bring_to(incident, Status.INVESTIGATING, responder)

    with pytest.raises(services.RequirementsMissing) as refused:
        transition(incident, "mitigate", actor)

    assert codes(refused.value) == ["impact_summary"]
    assert labels(refused.value) == ["impact summary"]
    after = fresh(incident)
    assert after.status == Status.INVESTIGATING
    assert after.mitigated_at is None


def test_a_blank_impact_summary_does_not_count(incident, responder, actor):
    incident = bring_to(incident, Status.INVESTIGATING, responder)
    services.incident_update(incident=incident, actor=responder, changes={"impact_summary": "  "})

    with pytest.raises(services.RequirementsMissing) as refused:
        transition(fresh(incident), "mitigate", actor)

    assert codes(refused.value) == ["impact_summary"]
    assert fresh(incident).status == Status.INVESTIGATING


@pytest.mark.parametrize("source", [Status.INVESTIGATING, Status.MITIGATED])
def test_resolution_names_summary_root_cause_and_verification_when_all_missing(
    incident, responder, actor, source
):
    services.incident_update(
        incident=incident, actor=responder, changes={"impact_summary": "Some cards declined."}
    )
    incident = bring_to(fresh(incident), source, responder)

    with pytest.raises(services.RequirementsMissing) as refused:
        transition(incident, "resolve", actor)

    assert codes(refused.value) == [
        "resolution_summary",
        "root_cause_category",
        "verification_passed",
    ]
    assert labels(refused.value) == [
        "resolution summary",
        "root-cause category",
        "a passed verification (confirmation or health check)",
    ]
    assert str(refused.value.messages[0]).startswith("Missing: resolution summary")
    after = fresh(incident)
    assert after.status == source
    assert after.resolved_at is None


def test_resolution_with_summary_and_root_cause_still_needs_a_verification(
    incident, responder, actor
):
    services.incident_update(
        incident=incident,
        actor=responder,
        changes={"resolution_summary": "Rolled back.", "root_cause_category": "capacity"},
    )
    incident = bring_to(fresh(incident), Status.INVESTIGATING, responder)

    with pytest.raises(services.RequirementsMissing) as refused:
        transition(incident, "resolve", actor)

    assert codes(refused.value) == ["verification_passed"]
    assert fresh(incident).status == Status.INVESTIGATING


def test_a_failed_or_pending_verification_does_not_allow_resolution(
    incident, responder, other_responder, actor
):
    services.incident_update(
        incident=incident,
        actor=responder,
        changes={"resolution_summary": "Rolled back.", "root_cause_category": "capacity"},
    )
    failed = services.verification_request_confirmation(
        incident=incident, actor=responder, confirmer=other_responder
    )
    services.verification_confirm(
        verification=failed, actor=other_responder, passed=False, note="Still 500s."
    )
    services.verification_request_confirmation(
        incident=incident, actor=responder, confirmer=other_responder
    )
    incident = bring_to(fresh(incident), Status.INVESTIGATING, responder)

    with pytest.raises(services.RequirementsMissing) as refused:
        transition(incident, "resolve", actor)

    assert codes(refused.value) == ["verification_passed"]
    assert fresh(incident).status == Status.INVESTIGATING


def test_a_passed_verification_with_summary_and_root_cause_resolves(documented, responder):
    incident = bring_to(documented, Status.INVESTIGATING, responder)

    transition(incident, "resolve", responder)

    after = fresh(incident)
    assert after.status == Status.RESOLVED
    assert after.resolved_at is not None
    assert after.mitigated_at is not None


def test_a_custom_field_mandatory_from_resolved_blocks_resolution(
    acme, documented, responder, actor
):
    CustomFieldDefinitionFactory(
        organization=acme, key="region", label="Customer region", required_from="resolved"
    )
    incident = bring_to(documented, Status.INVESTIGATING, responder)

    with pytest.raises(services.RequirementsMissing) as refused:
        transition(incident, "resolve", actor)

    assert codes(refused.value) == ["custom:region"]
    assert labels(refused.value) == ["custom field “Customer region”"]
    assert fresh(incident).status == Status.INVESTIGATING


def test_a_custom_field_mandatory_from_resolved_blocks_closing(acme, documented, responder, actor):
    incident = bring_to(documented, Status.RESOLVED, responder)
    CustomFieldDefinitionFactory(
        organization=acme, key="region", label="Customer region", required_from="resolved"
    )

    with pytest.raises(services.RequirementsMissing) as refused:
        transition(incident, "close", actor)

    assert codes(refused.value) == ["custom:region"]
    after = fresh(incident)
    assert after.status == Status.RESOLVED
    assert after.closed_at is None


def test_a_custom_field_mandatory_from_resolved_does_not_block_mitigation(
    acme, documented, responder
):
    CustomFieldDefinitionFactory(organization=acme, key="region", required_from="resolved")
    incident = bring_to(documented, Status.INVESTIGATING, responder)

    transition(incident, "mitigate", responder)

    assert fresh(incident).status == Status.MITIGATED


def test_a_filled_mandatory_custom_field_lets_the_incident_resolve(acme, documented, responder):
    CustomFieldDefinitionFactory(organization=acme, key="region", required_from="resolved")
    services.incident_update(
        incident=documented, actor=responder, changes={"custom_fields": {"region": "EU"}}
    )
    incident = bring_to(fresh(documented), Status.INVESTIGATING, responder)

    transition(incident, "resolve", responder)

    assert fresh(incident).status == Status.RESOLVED


def test_a_custom_field_mandatory_from_investigating_blocks_starting_and_reopening(
    acme, documented, responder, actor
):
    incident = bring_to(documented, Status.CLOSED, responder)
    CustomFieldDefinitionFactory(
        organization=acme, key="ticket", label="Ticket", required_from="investigating"
    )

    with pytest.raises(services.RequirementsMissing) as refused:
        transition(incident, "reopen", actor)

    assert codes(refused.value) == ["custom:ticket"]
    after = fresh(incident)
    assert after.status == Status.CLOSED
    assert after.reopen_count == 0


def test_an_inactive_mandatory_custom_field_blocks_nothing(acme, incident, responder):
    CustomFieldDefinitionFactory(
        organization=acme, key="ticket", required_from="investigating", is_active=False
    )

    transition(incident, "start_investigation", responder)

    assert fresh(incident).status == Status.INVESTIGATING


def test_every_missing_item_is_named_at_once(acme, responder, actor):
    CustomFieldDefinitionFactory(
        organization=acme, key="ticket", label="Ticket", required_from="investigating"
    )
    incident = declare(acme, responder, severity=severity(acme, "SEV-1"))

    with pytest.raises(services.RequirementsMissing) as refused:
        transition(incident, "start_investigation", actor)

    assert codes(refused.value) == ["commander_for_major", "custom:ticket"]
    assert fresh(incident).status == Status.REPORTED


# — roles and notes ————————————————————————————————————————————————————————————————————


@pytest.mark.parametrize(("name", "source"), ALLOWED)
def test_a_viewer_may_not_run_any_transition_and_nothing_changes(
    documented, responder, viewer, name, source
):
    incident = bring_to(documented, source, responder)
    events = status_events(incident)

    with pytest.raises(PermissionDenied):
        transition(incident, name, viewer)

    after = fresh(incident)
    assert after.status == source
    assert after.version == incident.version
    assert status_events(incident) == events


def test_a_member_of_another_organisation_may_not_transition(incident, stranger):
    with pytest.raises(PermissionDenied):
        transition(incident, "start_investigation", stranger)

    assert fresh(incident).status == Status.REPORTED


@pytest.mark.parametrize("note", ["", "   "])
def test_dismissing_needs_a_note(incident, responder, note):
    with pytest.raises(ValidationError) as refused:
        transition(incident, "dismiss", responder, note=note)

    assert "note" in refused.value.message_dict
    assert fresh(incident).status == Status.REPORTED


def test_dismissing_with_a_note_records_it_and_ends_the_impact(incident, responder):
    transition(incident, "dismiss", responder, note="Synthetic probe misfired.")

    after = fresh(incident)
    assert after.status == Status.DISMISSED
    assert after.events.filter(kind=TimelineEvent.Kind.STATUS).get().message == (
        "Dismissed (was reported): Synthetic probe misfired."
    )
    assert after.impact_periods.get().ended_at is not None


def test_reopening_needs_a_note(documented, responder):
    incident = bring_to(documented, Status.RESOLVED, responder)

    with pytest.raises(ValidationError) as refused:
        transition(incident, "reopen", responder, note="")

    assert "note" in refused.value.message_dict
    after = fresh(incident)
    assert after.status == Status.RESOLVED
    assert after.reopen_count == 0
    assert after.impact_periods.count() == 1


# — timestamps and impact periods ——————————————————————————————————————————————————————


def test_mitigation_stamps_the_time_and_closes_the_impact_period(documented, responder):
    incident = bring_to(documented, Status.MITIGATED, responder)

    period = incident.impact_periods.get()
    assert incident.mitigated_at is not None
    assert period.ended_at == incident.mitigated_at
    assert incident.resolved_at is None


def test_closing_stamps_the_time(documented, responder):
    incident = bring_to(documented, Status.CLOSED, responder)

    assert incident.closed_at is not None
    assert incident.closed_at >= incident.resolved_at


@pytest.mark.parametrize("source", [Status.RESOLVED, Status.CLOSED])
def test_reopening_keeps_the_first_impact_period_and_opens_a_second(documented, responder, source):
    incident = bring_to(documented, source, responder)
    first = incident.impact_periods.get()

    transition(incident, "reopen", responder, note="Errors are back.")

    after = fresh(incident)
    assert after.status == Status.INVESTIGATING
    assert after.reopen_count == 1
    assert after.closed_at is None
    periods = list(ImpactPeriod.objects.filter(incident=incident).order_by("number"))
    assert [p.number for p in periods] == [1, 2]
    assert (periods[0].started_at, periods[0].ended_at) == (first.started_at, first.ended_at)
    assert periods[0].ended_at is not None
    assert periods[1].ended_at is None
    assert periods[1].started_at > first.ended_at
    assert periods[1].reopen_reason == "Errors are back."


def test_reopening_twice_counts_twice_and_keeps_the_first_acknowledgement(documented, responder):
    incident = bring_to(documented, Status.RESOLVED, responder)
    acknowledged = incident.acknowledged_at
    transition(incident, "reopen", responder)
    pass_verification(incident, responder)
    transition(incident, "resolve", responder)

    transition(incident, "reopen", responder)

    after = fresh(incident)
    assert after.reopen_count == 2
    assert after.acknowledged_at == acknowledged
    assert after.impact_periods.count() == 3


def test_a_second_resolution_needs_a_new_verification(documented, responder, actor):
    incident = bring_to(documented, Status.RESOLVED, responder)
    transition(incident, "reopen", responder)

    with pytest.raises(services.RequirementsMissing) as refused:
        transition(incident, "resolve", actor)

    assert codes(refused.value) == ["verification_passed"]
    assert fresh(incident).status == Status.INVESTIGATING


def test_a_new_verification_after_reopening_allows_the_second_resolution(documented, responder):
    incident = bring_to(documented, Status.RESOLVED, responder)
    transition(incident, "reopen", responder)
    pass_verification(incident, responder)

    transition(incident, "resolve", responder)

    after = fresh(incident)
    assert after.status == Status.RESOLVED
    assert after.impact_periods.filter(ended_at__isnull=True).count() == 0


# — what the detail page offers ————————————————————————————————————————————————————————


def test_available_transitions_list_what_is_missing_for_each(acme, responder):
    incident = declare(acme, responder, severity=severity(acme, "SEV-1"))

    options = services.available_transitions(incident, responder)

    assert [o["name"] for o in options] == ["start_investigation", "dismiss", "mark_duplicate"]
    assert [m.code for m in options[0]["missing"]] == ["commander_for_major"]
    assert options[1]["missing"] == []
    assert [o["needs_note"] for o in options] == [False, True, False]
    assert [o["needs_primary"] for o in options] == [False, False, True]
    assert all(o["allowed"] for o in options)
    assert fresh(incident).status == Status.REPORTED


def test_available_transitions_are_not_allowed_for_a_viewer(incident, viewer):
    options = services.available_transitions(incident, viewer)

    assert [o["allowed"] for o in options] == [False, False, False]
    assert Incident.objects.get(pk=incident.pk).status == Status.REPORTED


def test_a_transition_writes_one_status_event_with_the_note(documented, responder):
    incident = bring_to(documented, Status.RESOLVED, responder)

    transition(incident, "reopen", responder, note="Errors are back.")

    event = fresh(incident).events.filter(kind=TimelineEvent.Kind.STATUS).first()
    assert event.message == "Investigating (was resolved): Errors are back."
    assert event.data["transition"] == "reopen"
