"""incidents.services: declare, update, severity, comments, optimistic locking, duplicates,
verification (confirmation and a real HTTP health check), ownership and restricted access."""

import socket
import threading
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from incidents import services
from incidents.lifecycle import Status
from incidents.models import (
    Incident,
    KeyCounter,
    OwnershipRequest,
    TimelineEvent,
    Verification,
)
from incidents.selectors import incident_list
from taxonomy.assessment import Answers
from taxonomy.models import CustomFieldDefinition, Service
from tenancy.models import Membership
from tenancy.roles import Role
from tenancy.scoping import org_scope
from tests.factories import TeamFactory
from tests.incidents.factories import (
    CategoryFactory,
    ClassificationRuleFactory,
    CustomFieldDefinitionFactory,
    ServiceFactory,
    bring_to,
    declare,
    fresh,
    severity,
    transition,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("acme_scope")]

FieldType = CustomFieldDefinition.FieldType


def count_incidents(organization) -> int:
    return Incident.objects.filter(organization=organization).count()


def events(incident, kind) -> list[TimelineEvent]:
    return list(TimelineEvent.objects.filter(incident=incident, kind=kind).order_by("pk"))


def visible_to(organization, user) -> list[str]:
    membership = Membership.objects.get(organization=organization, user=user)
    return sorted(
        incident_list(organization=organization, user=user, membership=membership).values_list(
            "key", flat=True
        )
    )


# — declare ———————————————————————————————————————————————————————————————————————————


def test_declared_incidents_get_consecutive_keys_with_the_org_prefix(acme, responder):
    incidents = [declare(acme, responder, title=f"Problem {n}") for n in range(3)]

    assert [i.key for i in incidents] == ["ACME-1", "ACME-2", "ACME-3"]
    assert [i.number for i in incidents] == [1, 2, 3]
    assert KeyCounter.objects.get(organization=acme).last_number == 3


def test_each_organisation_counts_its_own_keys(acme, globex, responder, globex_admin):
    declare(acme, responder)
    declare(acme, responder)

    with org_scope(globex):
        first = declare(globex, globex_admin.user)

    assert first.key == "GLX-1"
    assert KeyCounter.objects.get(organization=acme).last_number == 2


def test_declaring_records_reporter_watchers_impact_period_and_timeline(
    acme, responder, other_responder
):
    detected = timezone.now() - timedelta(minutes=10)

    incident = declare(
        acme,
        responder,
        title="  Checkout fails  ",
        commander=other_responder,
        detected_at=detected,
    )

    after = fresh(incident)
    assert after.title == "Checkout fails"
    assert after.status == Status.REPORTED
    assert after.version == 1
    assert after.reporter == responder
    assert set(after.watchers.all()) == {responder, other_responder}
    period = after.impact_periods.get()
    assert (period.number, period.started_at, period.ended_at) == (1, detected, None)
    created = events(after, TimelineEvent.Kind.CREATED)
    assert [e.message for e in created] == ["Declared SEV-3: Checkout fails"]
    assert created[0].actor == responder


def test_the_owning_team_defaults_to_the_primary_services_owner(acme, responder):
    payments = TeamFactory(organization=acme, name="Payments")
    checkout = ServiceFactory(organization=acme, name="Checkout", owning_team=payments)

    incident = declare(acme, responder, primary_service=checkout)

    after = fresh(incident)
    assert after.owning_team == payments
    assert list(after.affected_services.all()) == [checkout]


def test_a_chosen_owning_team_wins_over_the_services_owner(acme, responder):
    payments = TeamFactory(organization=acme, name="Payments")
    platform = TeamFactory(organization=acme, name="Platform")
    checkout = ServiceFactory(organization=acme, owning_team=payments)

    incident = declare(acme, responder, primary_service=checkout, owning_team=platform)

    assert fresh(incident).owning_team == platform


@pytest.mark.parametrize(
    "field",
    [
        "severity",
        "category",
        "primary_service",
        "owning_team",
        "affected_services",
        "involved_teams",
    ],
)
def test_another_organisations_taxonomy_is_refused_and_nothing_is_declared(
    acme, globex, responder, field
):
    theirs = {
        "severity": severity(globex, "SEV-2"),
        "category": CategoryFactory(organization=globex),
        "primary_service": ServiceFactory(organization=globex),
        "owning_team": TeamFactory(organization=globex),
        "affected_services": [ServiceFactory(organization=globex)],
        "involved_teams": [TeamFactory(organization=globex)],
    }

    with pytest.raises(ValidationError) as refused:
        declare(acme, responder, **{field: theirs[field]})

    assert list(refused.value.message_dict) == [field]
    assert count_incidents(acme) == 0


def test_a_commander_who_is_not_a_member_is_refused(acme, responder, stranger):
    with pytest.raises(ValidationError) as refused:
        declare(acme, responder, commander=stranger)

    assert list(refused.value.message_dict) == ["commander"]
    assert count_incidents(acme) == 0


@pytest.mark.parametrize("title", ["", "   ", None, "x" * 201])
def test_an_empty_or_overlong_title_is_refused(acme, responder, title):
    with pytest.raises(ValidationError) as refused:
        declare(acme, responder, title=title)

    assert list(refused.value.message_dict) == ["title"]
    assert count_incidents(acme) == 0


def test_a_detection_time_in_the_future_is_refused(acme, responder):
    with pytest.raises(ValidationError) as refused:
        declare(acme, responder, detected_at=timezone.now() + timedelta(hours=1))

    assert list(refused.value.message_dict) == ["detected_at"]
    assert count_incidents(acme) == 0


def test_a_viewer_may_not_declare(acme, viewer):
    with pytest.raises(PermissionDenied):
        declare(acme, viewer)

    assert count_incidents(acme) == 0


def test_a_member_of_another_organisation_may_not_declare(acme, stranger):
    with pytest.raises(PermissionDenied):
        declare(acme, stranger)

    assert count_incidents(acme) == 0


def test_without_severity_rules_or_assessment_the_weakest_level_is_used(acme, responder):
    incident = declare(acme, responder, severity=None)

    assert fresh(incident).severity.name == "SEV-4"


def test_vigil_itself_may_declare_without_a_reporter(acme):
    incident = declare(acme, None, source=Incident.Source.ALERT)

    after = fresh(incident)
    assert after.reporter is None
    assert after.source == Incident.Source.ALERT
    assert list(after.watchers.all()) == []


# — classification rules ———————————————————————————————————————————————————————————————


def test_a_static_rule_fills_unset_category_and_severity_and_says_so(acme, responder):
    database = CategoryFactory(organization=acme, name="Databases")
    ClassificationRuleFactory(
        organization=acme,
        name="Postgres down",
        match_text="postgres",
        set_category=database,
        set_severity=severity(acme, "SEV-2"),
    )

    incident = declare(acme, responder, title="Postgres primary unreachable", severity=None)

    after = fresh(incident)
    assert after.category == database
    assert after.severity.name == "SEV-2"
    classification = events(after, TimelineEvent.Kind.CLASSIFICATION)
    assert [e.message for e in classification] == [
        "Rule “Postgres down” set category Databases, severity SEV-2"
    ]
    assert classification[0].actor is None


def test_a_static_rule_never_overrides_what_the_responder_chose(acme, responder):
    database = CategoryFactory(organization=acme, name="Databases")
    network = CategoryFactory(organization=acme, name="Networking")
    ClassificationRuleFactory(
        organization=acme,
        match_text="postgres",
        set_category=database,
        set_severity=severity(acme, "SEV-1"),
    )

    incident = declare(
        acme,
        responder,
        title="Postgres primary unreachable",
        category=network,
        severity=severity(acme, "SEV-3"),
    )

    after = fresh(incident)
    assert after.category == network
    assert after.severity.name == "SEV-3"
    assert events(after, TimelineEvent.Kind.CLASSIFICATION) == []


def test_a_static_rule_fills_only_the_fields_left_unset(acme, responder):
    database = CategoryFactory(organization=acme, name="Databases")
    ClassificationRuleFactory(
        organization=acme,
        name="Postgres",
        match_text="postgres",
        set_category=database,
        set_severity=severity(acme, "SEV-1"),
    )

    incident = declare(
        acme, responder, title="Postgres slow", severity=severity(acme, "SEV-3"), category=None
    )

    after = fresh(incident)
    assert (after.category, after.severity.name) == (database, "SEV-3")
    assert [e.message for e in events(after, TimelineEvent.Kind.CLASSIFICATION)] == [
        "Rule “Postgres” set category Databases"
    ]


def test_a_rule_on_a_service_sets_the_team_and_labels_must_match(acme, responder):
    dba = TeamFactory(organization=acme, name="DBA")
    postgres = ServiceFactory(organization=acme, name="Postgres")
    ClassificationRuleFactory(
        organization=acme,
        match_service=postgres,
        match_labels={"env": "prod"},
        set_team=dba,
    )

    staging = declare(
        acme, responder, title="Slow queries", primary_service=postgres, labels={"env": "staging"}
    )
    production = declare(
        acme, responder, title="Slow queries", primary_service=postgres, labels={"env": "prod"}
    )

    assert fresh(staging).owning_team is None
    assert fresh(production).owning_team == dba


def test_rules_are_skipped_when_asked(acme, responder):
    database = CategoryFactory(organization=acme)
    ClassificationRuleFactory(organization=acme, match_text="postgres", set_category=database)

    incident = declare(acme, responder, title="Postgres down", apply_rules=False)

    after = fresh(incident)
    assert after.category is None
    assert events(after, TimelineEvent.Kind.CLASSIFICATION) == []


# — severity assessment ————————————————————————————————————————————————————————————————

SEV2_ANSWERS = Answers(customer_visible=True, users_affected_pct=Decimal(8), downtime_minutes=20)


def test_the_assessment_proposes_the_severity_when_none_is_chosen(acme, responder):
    incident = declare(acme, responder, severity=None, assessment=SEV2_ANSWERS)

    after = fresh(incident)
    assert after.severity.name == "SEV-2"
    assert after.severity_assessment["proposed"] == "SEV-2"
    assert after.severity_assessment["override_reason"] == ""
    assert [e.message for e in events(after, TimelineEvent.Kind.SEVERITY)] == [
        "Severity from the assessment: SEV-2: customer-visible, 8 % of users, ≥ 15 min downtime"
    ]


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_severity_against_the_assessment_needs_a_reason(acme, responder, reason):
    with pytest.raises(ValidationError) as refused:
        declare(
            acme,
            responder,
            severity=severity(acme, "SEV-4"),
            assessment=SEV2_ANSWERS,
            override_reason=reason,
        )

    assert list(refused.value.message_dict) == ["override_reason"]
    assert "SEV-2" in refused.value.message_dict["override_reason"][0]
    assert count_incidents(acme) == 0


def test_a_severity_against_the_assessment_with_a_reason_lands_on_the_timeline(acme, responder):
    incident = declare(
        acme,
        responder,
        severity=severity(acme, "SEV-1"),
        assessment=SEV2_ANSWERS,
        override_reason="The CEO's card was declined.",
    )

    after = fresh(incident)
    assert after.severity.name == "SEV-1"
    assert after.severity_assessment["override_reason"] == "The CEO's card was declined."
    severity_events = events(after, TimelineEvent.Kind.SEVERITY)
    assert len(severity_events) == 1
    assert "Reason: The CEO's card was declined." in severity_events[0].message
    assert severity_events[0].data == {"proposed": "SEV-2", "chosen": "SEV-1"}


def test_a_severity_matching_the_assessment_needs_no_reason(acme, responder):
    incident = declare(acme, responder, severity=severity(acme, "SEV-2"), assessment=SEV2_ANSWERS)

    assert fresh(incident).severity.name == "SEV-2"


def test_a_rule_severity_does_not_demand_a_reason_from_a_responder_who_chose_none(acme, responder):
    ClassificationRuleFactory(
        organization=acme, match_text="postgres", set_severity=severity(acme, "SEV-1")
    )

    incident = declare(
        acme,
        responder,
        title="Postgres slow",
        severity=None,
        assessment=Answers(downtime_minutes=10),
    )

    after = fresh(incident)
    assert after.severity.name == "SEV-3"
    assert after.severity_assessment["override_reason"] == ""


# — custom fields on declaration ———————————————————————————————————————————————————————


@pytest.fixture
def custom_fields(acme):
    CustomFieldDefinitionFactory(
        organization=acme, key="customers", label="Customers", field_type=FieldType.NUMBER
    )
    CustomFieldDefinitionFactory(
        organization=acme,
        key="region",
        label="Region",
        field_type=FieldType.CHOICE,
        choices=["EU", "US"],
    )
    CustomFieldDefinitionFactory(
        organization=acme, key="since", label="Since", field_type=FieldType.DATE
    )


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"customers": "many"}, "cf_customers"),
        ({"region": "APAC"}, "cf_region"),
        ({"since": "31/12/2024"}, "cf_since"),
        ({"color": "red"}, "cf_color"),
    ],
)
def test_bad_custom_field_values_are_refused_by_key_and_nothing_is_declared(
    acme, responder, custom_fields, values, key
):
    with pytest.raises(ValidationError) as refused:
        declare(acme, responder, custom_fields=values)

    assert list(refused.value.message_dict) == [key]
    assert count_incidents(acme) == 0
    assert declare(acme, responder).key == "ACME-1"


def test_custom_field_values_are_stored_cleaned(acme, responder, custom_fields):
    incident = declare(
        acme,
        responder,
        custom_fields={"customers": "1200", "region": " EU ", "since": "2024-12-31"},
    )

    assert fresh(incident).custom_fields == {
        "customers": 1200,
        "region": "EU",
        "since": "2024-12-31",
    }


# — update, severity, comments —————————————————————————————————————————————————————————


def test_each_changed_field_is_one_timeline_entry(incident, responder, other_responder):
    services.incident_update(
        incident=incident,
        actor=responder,
        changes={
            "title": "Checkout fails for Visa",
            "description": "",
            "commander": other_responder,
            "impact_summary": "Visa cards declined.",
        },
    )

    after = fresh(incident)
    assert after.title == "Checkout fails for Visa"
    assert after.commander == other_responder
    assert other_responder in after.watchers.all()
    assert after.version == 2
    assert sorted(e.data["field"] for e in events(after, TimelineEvent.Kind.FIELD)) == [
        "commander",
        "impact_summary",
        "title",
    ]


def test_an_update_that_changes_nothing_writes_nothing(incident, responder):
    services.incident_update(incident=incident, actor=responder, changes={"title": incident.title})

    after = fresh(incident)
    assert after.version == 1
    assert events(after, TimelineEvent.Kind.FIELD) == []


def test_changing_the_category_marks_the_incident_reclassified(acme, incident, responder):
    database = CategoryFactory(organization=acme, name="Databases")

    services.incident_update(incident=incident, actor=responder, changes={"category": database})

    after = fresh(incident)
    assert after.category == database
    assert after.reclassified is True
    assert [e.message for e in events(after, TimelineEvent.Kind.CLASSIFICATION)] == [
        "Changed category from — to Databases"
    ]


@pytest.mark.parametrize("field", ["status", "severity", "number", "reporter"])
def test_fields_outside_the_editable_list_are_refused(incident, responder, field):
    with pytest.raises(ValidationError, match="cannot be changed here"):
        services.incident_update(incident=incident, actor=responder, changes={field: None})

    assert fresh(incident).version == 1


def test_a_viewer_may_not_update_and_nothing_changes(incident, viewer):
    with pytest.raises(PermissionDenied):
        services.incident_update(incident=incident, actor=viewer, changes={"title": "Mine now"})

    after = fresh(incident)
    assert after.title == "Checkout fails"
    assert after.version == 1


def test_another_organisations_category_is_refused_on_update(globex, incident, responder):
    theirs = CategoryFactory(organization=globex)

    with pytest.raises(ValidationError) as refused:
        services.incident_update(incident=incident, actor=responder, changes={"category": theirs})

    assert list(refused.value.message_dict) == ["category"]
    assert fresh(incident).category is None


def test_affected_services_and_involved_teams_are_replaced(acme, incident, responder):
    checkout = ServiceFactory(organization=acme, name="Checkout")
    payments = TeamFactory(organization=acme, name="Payments")

    services.incident_update(
        incident=incident,
        actor=responder,
        changes={"affected_services": [checkout], "involved_teams": [payments]},
    )

    after = fresh(incident)
    assert list(after.affected_services.all()) == [checkout]
    assert list(after.involved_teams.all()) == [payments]
    assert sorted(e.message for e in events(after, TimelineEvent.Kind.FIELD)) == [
        "Changed affected services to Checkout",
        "Changed involved teams to Payments",
    ]


def test_affected_services_may_be_given_as_a_queryset(acme, incident, responder):
    checkout = ServiceFactory(organization=acme, name="Checkout")

    services.incident_update(
        incident=incident,
        actor=responder,
        changes={"affected_services": Service.objects.filter(pk=checkout.pk)},
    )

    assert list(fresh(incident).affected_services.all()) == [checkout]


def test_another_organisations_service_is_refused_among_affected_services(
    acme, globex, incident, responder
):
    ours = ServiceFactory(organization=acme)
    theirs = ServiceFactory(organization=globex)

    with pytest.raises(ValidationError) as refused:
        services.incident_update(
            incident=incident, actor=responder, changes={"affected_services": [ours, theirs]}
        )

    assert list(refused.value.message_dict) == ["affected_services"]
    assert list(fresh(incident).affected_services.all()) == []


def test_a_commander_who_is_not_a_member_is_refused_on_update(incident, responder, stranger):
    with pytest.raises(ValidationError) as refused:
        services.incident_update(
            incident=incident, actor=responder, changes={"commander": stranger}
        )

    assert list(refused.value.message_dict) == ["commander"]
    assert fresh(incident).commander is None


def test_an_unknown_root_cause_is_refused(incident, responder):
    with pytest.raises(ValidationError) as refused:
        services.incident_update(
            incident=incident, actor=responder, changes={"root_cause_category": "gremlins"}
        )

    assert list(refused.value.message_dict) == ["root_cause_category"]
    assert fresh(incident).root_cause_category == ""


def test_a_sensitive_custom_field_change_does_not_show_the_value(acme, incident, responder):
    CustomFieldDefinitionFactory(
        organization=acme, key="customer", label="Customer name", is_sensitive=True
    )

    services.incident_update(
        incident=incident, actor=responder, changes={"custom_fields": {"customer": "Jane Doe"}}
    )

    after = fresh(incident)
    assert after.custom_fields == {"customer": "Jane Doe"}
    assert [e.message for e in events(after, TimelineEvent.Kind.FIELD)] == [
        "Changed “Customer name”"
    ]


@pytest.mark.parametrize("key", ["kind", "detected_at", "root_cause_category"])
def test_a_custom_field_named_like_an_incident_field_can_be_changed(acme, incident, responder, key):
    CustomFieldDefinitionFactory(organization=acme, key=key, label="Custom")

    services.incident_update(
        incident=incident, actor=responder, changes={"custom_fields": {key: "outage"}}
    )

    after = fresh(incident)
    assert after.custom_fields == {key: "outage"}
    assert [e.message for e in events(after, TimelineEvent.Kind.FIELD)] == [
        "Changed “Custom” from — to outage"
    ]


def test_changing_the_severity_records_the_reason(acme, incident, responder):
    services.incident_change_severity(
        incident=incident,
        actor=responder,
        severity=severity(acme, "SEV-2"),
        reason="More merchants affected.",
    )

    after = fresh(incident)
    assert after.severity.name == "SEV-2"
    assert after.reclassified is True
    assert after.version == 2
    assert [e.message for e in events(after, TimelineEvent.Kind.SEVERITY)] == [
        "Severity changed from SEV-3 to SEV-2. Reason: More merchants affected."
    ]


def test_changing_the_severity_needs_a_reason(acme, incident, responder):
    with pytest.raises(ValidationError) as refused:
        services.incident_change_severity(
            incident=incident, actor=responder, severity=severity(acme, "SEV-2"), reason=" "
        )

    assert list(refused.value.message_dict) == ["reason"]
    assert fresh(incident).severity.name == "SEV-3"


def test_a_viewer_may_not_change_the_severity(acme, incident, viewer):
    with pytest.raises(PermissionDenied):
        services.incident_change_severity(
            incident=incident, actor=viewer, severity=severity(acme, "SEV-1"), reason="Because."
        )

    assert fresh(incident).severity.name == "SEV-3"


def test_another_organisations_severity_is_refused(globex, incident, responder):
    with pytest.raises(ValidationError) as refused:
        services.incident_change_severity(
            incident=incident,
            actor=responder,
            severity=severity(globex, "SEV-1"),
            reason="Because.",
        )

    assert list(refused.value.message_dict) == ["severity"]
    assert fresh(incident).severity.name == "SEV-3"


def test_a_comment_lands_on_the_timeline(incident, responder):
    services.incident_comment(incident=incident, actor=responder, text="  Looking at logs.  ")

    assert [e.message for e in events(incident, TimelineEvent.Kind.COMMENT)] == ["Looking at logs."]


def test_an_empty_comment_is_refused(incident, responder):
    with pytest.raises(ValidationError) as refused:
        services.incident_comment(incident=incident, actor=responder, text="   ")

    assert list(refused.value.message_dict) == ["text"]
    assert events(incident, TimelineEvent.Kind.COMMENT) == []


def test_a_viewer_may_not_comment(incident, viewer):
    with pytest.raises(PermissionDenied):
        services.incident_comment(incident=incident, actor=viewer, text="Me too")

    assert events(incident, TimelineEvent.Kind.COMMENT) == []


# — optimistic locking —————————————————————————————————————————————————————————————————


def test_an_update_with_a_stale_version_is_refused_and_nothing_changes(incident, responder):
    services.incident_update(incident=incident, actor=responder, changes={"title": "First"})

    with pytest.raises(services.ConcurrentChange):
        services.incident_update(
            incident=incident, actor=responder, changes={"title": "Second"}, expected_version=1
        )

    after = fresh(incident)
    assert (after.title, after.version) == ("First", 2)
    assert len(events(after, TimelineEvent.Kind.FIELD)) == 1


def test_a_transition_with_a_stale_version_is_refused_and_nothing_changes(incident, responder):
    services.incident_comment(incident=incident, actor=responder, text="Not a change")
    services.incident_update(incident=incident, actor=responder, changes={"title": "Renamed"})

    with pytest.raises(services.ConcurrentChange):
        transition(incident, "start_investigation", responder, expected_version=1)

    after = fresh(incident)
    assert after.status == Status.REPORTED
    assert after.version == 2
    assert events(after, TimelineEvent.Kind.STATUS) == []


def test_a_severity_change_with_a_stale_version_is_refused(acme, incident, responder):
    services.incident_update(incident=incident, actor=responder, changes={"title": "Renamed"})

    with pytest.raises(services.ConcurrentChange):
        services.incident_change_severity(
            incident=incident,
            actor=responder,
            severity=severity(acme, "SEV-1"),
            reason="Worse",
            expected_version=1,
        )

    assert fresh(incident).severity.name == "SEV-3"


def test_the_current_version_is_accepted(incident, responder):
    transition(incident, "start_investigation", responder, expected_version=1)

    after = fresh(incident)
    assert (after.status, after.version) == (Status.INVESTIGATING, 2)


# — duplicates ————————————————————————————————————————————————————————————————————————


def test_marking_a_duplicate_links_it_moves_watchers_and_tells_both(
    acme, responder, other_responder
):
    primary = declare(acme, responder, title="Checkout down")
    duplicate = declare(acme, other_responder, title="Cannot pay")

    transition(duplicate, "mark_duplicate", responder, duplicate_of=primary)

    after = fresh(duplicate)
    assert after.status == Status.DUPLICATE
    assert after.duplicate_of == primary
    assert after.impact_periods.get().ended_at is not None
    assert set(fresh(primary).watchers.all()) == {responder, other_responder}
    assert [e.message for e in events(primary, TimelineEvent.Kind.DUPLICATE)] == [
        "ACME-2 (Cannot pay) was marked a duplicate of this incident"
    ]
    assert [e.message for e in events(duplicate, TimelineEvent.Kind.DUPLICATE)] == [
        "Duplicate of ACME-1 (Checkout down); watchers moved there"
    ]
    assert fresh(primary).status == Status.REPORTED


def test_a_duplicate_of_a_duplicate_joins_the_root(acme, responder):
    root = declare(acme, responder, title="Root")
    middle = declare(acme, responder, title="Middle")
    transition(middle, "mark_duplicate", responder, duplicate_of=root)
    latest = declare(acme, responder, title="Latest")

    transition(latest, "mark_duplicate", responder, duplicate_of=fresh(middle))

    assert fresh(latest).duplicate_of == root
    assert len(events(root, TimelineEvent.Kind.DUPLICATE)) == 2


def test_an_incident_cannot_duplicate_itself(incident, responder):
    with pytest.raises(ValidationError) as refused:
        transition(incident, "mark_duplicate", responder, duplicate_of=incident)

    assert list(refused.value.message_dict) == ["duplicate_of"]
    after = fresh(incident)
    assert (after.status, after.duplicate_of) == (Status.REPORTED, None)


def test_an_incident_cannot_duplicate_its_own_duplicate(acme, incident, responder):
    other = declare(acme, responder, title="Other")
    transition(other, "mark_duplicate", responder, duplicate_of=incident)

    with pytest.raises(ValidationError) as refused:
        transition(incident, "mark_duplicate", responder, duplicate_of=fresh(other))

    assert list(refused.value.message_dict) == ["duplicate_of"]
    assert fresh(incident).status == Status.REPORTED


def test_another_organisations_incident_cannot_be_the_primary(
    globex, globex_admin, incident, responder
):
    with org_scope(globex):
        theirs = declare(globex, globex_admin.user)

    with pytest.raises(ValidationError) as refused:
        transition(incident, "mark_duplicate", responder, duplicate_of=theirs)

    assert list(refused.value.message_dict) == ["duplicate_of"]
    after = fresh(incident)
    assert (after.status, after.duplicate_of) == (Status.REPORTED, None)
    assert events(after, TimelineEvent.Kind.DUPLICATE) == []


def test_a_dismissed_incident_cannot_be_the_primary(acme, incident, responder):
    dismissed = bring_to(declare(acme, responder, title="Noise"), Status.DISMISSED, responder)

    with pytest.raises(ValidationError) as refused:
        transition(incident, "mark_duplicate", responder, duplicate_of=dismissed)

    assert list(refused.value.message_dict) == ["duplicate_of"]
    assert fresh(incident).status == Status.REPORTED
    assert events(dismissed, TimelineEvent.Kind.DUPLICATE) == []


def test_marking_a_duplicate_needs_the_primary(incident, responder):
    with pytest.raises(ValidationError) as refused:
        transition(incident, "mark_duplicate", responder, duplicate_of=None)

    assert list(refused.value.message_dict) == ["duplicate_of"]
    assert fresh(incident).status == Status.REPORTED


# — verification: confirmation —————————————————————————————————————————————————————————


def test_asking_for_a_confirmation_names_the_confirmer(incident, responder, other_responder):
    verification = services.verification_request_confirmation(
        incident=incident, actor=responder, confirmer=other_responder
    )

    stored = Verification.objects.get(pk=verification.pk)
    assert (stored.status, stored.confirmer) == (Verification.Status.PENDING, other_responder)
    assert [e.message for e in events(incident, TimelineEvent.Kind.VERIFICATION)] == [
        "Asked Oscar to confirm the fix"
    ]


def test_only_the_named_confirmer_can_answer(incident, responder, other_responder, admin):
    verification = services.verification_request_confirmation(
        incident=incident, actor=responder, confirmer=other_responder
    )

    with pytest.raises(PermissionDenied):
        services.verification_confirm(verification=verification, actor=admin, passed=True)

    assert Verification.objects.get(pk=verification.pk).status == Verification.Status.PENDING
    assert fresh(incident).has_passed_verification() is False


def test_the_named_confirmer_passes_it(incident, responder, other_responder):
    verification = services.verification_request_confirmation(
        incident=incident, actor=responder, confirmer=other_responder
    )

    services.verification_confirm(verification=verification, actor=other_responder, passed=True)

    stored = Verification.objects.get(pk=verification.pk)
    assert stored.status == Verification.Status.PASSED
    assert stored.completed_at is not None
    assert fresh(incident).has_passed_verification() is True


def test_a_failed_confirmation_needs_a_note(incident, responder, other_responder):
    verification = services.verification_request_confirmation(
        incident=incident, actor=responder, confirmer=other_responder
    )

    with pytest.raises(ValidationError) as refused:
        services.verification_confirm(
            verification=verification, actor=other_responder, passed=False, note=" "
        )

    assert list(refused.value.message_dict) == ["note"]
    assert Verification.objects.get(pk=verification.pk).status == Verification.Status.PENDING


def test_a_failed_confirmation_with_a_note_is_recorded(incident, responder, other_responder):
    verification = services.verification_request_confirmation(
        incident=incident, actor=responder, confirmer=other_responder
    )

    services.verification_confirm(
        verification=verification, actor=other_responder, passed=False, note="Still 500s."
    )

    stored = Verification.objects.get(pk=verification.pk)
    assert (stored.status, stored.note) == (Verification.Status.FAILED, "Still 500s.")
    assert events(incident, TimelineEvent.Kind.VERIFICATION)[-1].message == (
        "Oscar reports it still does not work: Still 500s."
    )


def test_a_confirmation_is_answered_once(incident, responder, other_responder):
    verification = services.verification_request_confirmation(
        incident=incident, actor=responder, confirmer=other_responder
    )
    services.verification_confirm(verification=verification, actor=other_responder, passed=True)

    with pytest.raises(ValidationError, match="answered already"):
        services.verification_confirm(
            verification=verification, actor=other_responder, passed=False, note="Hm."
        )

    assert Verification.objects.get(pk=verification.pk).status == Verification.Status.PASSED


def test_a_viewer_may_not_ask_for_a_confirmation(incident, viewer, responder):
    with pytest.raises(PermissionDenied):
        services.verification_request_confirmation(
            incident=incident, actor=viewer, confirmer=responder
        )

    assert Verification.objects.filter(incident=incident).count() == 0


def test_the_confirmer_must_be_a_member(incident, responder, stranger):
    with pytest.raises(ValidationError) as refused:
        services.verification_request_confirmation(
            incident=incident, actor=responder, confirmer=stranger
        )

    assert list(refused.value.message_dict) == ["confirmer"]
    assert Verification.objects.filter(incident=incident).count() == 0


# — verification: health check against a real HTTP server ———————————————————————————————


class HealthHandler(BaseHTTPRequestHandler):
    """/ok answers 200, anything else 503."""

    def do_GET(self):  # the name http.server calls
        healthy = self.path == "/ok"
        body = b"all good" if healthy else b"down for maintenance"
        self.send_response(200 if healthy else 503)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def health_server():
    """The base URL of a real HTTP server on a free local port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), HealthHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def closed_port_url():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/ok"


def start_health_check(organization, actor, url):
    service = ServiceFactory(organization=organization, health_check_url=url)
    incident = declare(organization, actor, primary_service=service)
    return services.verification_start_health_check(incident=incident, actor=actor)


def test_starting_a_health_check_queues_it_after_commit(
    acme, responder, health_server, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        verification = start_health_check(acme, responder, f"{health_server}/ok")

    stored = Verification.objects.get(pk=verification.pk)
    assert (stored.method, stored.status) == (
        Verification.Method.HEALTH_CHECK,
        Verification.Status.PENDING,
    )
    assert stored.url == f"{health_server}/ok"
    assert len(callbacks) == 2  # incident_created, then the health-check task


def test_a_health_check_needs_a_service_with_a_url(incident, responder):
    with pytest.raises(ValidationError, match="health-check URL"):
        services.verification_start_health_check(incident=incident, actor=responder)

    assert Verification.objects.filter(incident=incident).count() == 0


def test_a_healthy_service_passes_the_check_with_evidence(acme, responder, health_server):
    verification = start_health_check(acme, responder, f"{health_server}/ok")

    services.verification_run_health_check(verification=verification)

    stored = Verification.objects.get(pk=verification.pk)
    assert stored.status == Verification.Status.PASSED
    assert stored.http_status == 200
    assert stored.evidence == "all good"
    assert stored.response_ms is not None
    assert stored.completed_at is not None
    assert stored.error == ""
    assert stored.incident.has_passed_verification() is True
    assert events(stored.incident, TimelineEvent.Kind.VERIFICATION)[-1].message.startswith(
        "Health check passed: HTTP 200 in "
    )


def test_a_503_fails_the_check(acme, responder, health_server):
    verification = start_health_check(acme, responder, f"{health_server}/health")

    services.verification_run_health_check(verification=verification)

    stored = Verification.objects.get(pk=verification.pk)
    assert stored.status == Verification.Status.FAILED
    assert stored.http_status == 503
    assert stored.evidence == "down for maintenance"
    assert stored.incident.has_passed_verification() is False


def test_a_closed_port_fails_the_check_with_an_error(acme, responder, closed_port_url):
    verification = start_health_check(acme, responder, closed_port_url)

    services.verification_run_health_check(verification=verification)

    stored = Verification.objects.get(pk=verification.pk)
    assert stored.status == Verification.Status.FAILED
    assert stored.http_status is None
    assert "refused" in stored.error.lower()
    assert events(stored.incident, TimelineEvent.Kind.VERIFICATION)[-1].message.startswith(
        "Health check failed: "
    )


def test_a_second_run_of_a_health_check_does_nothing(acme, responder, health_server):
    verification = start_health_check(acme, responder, f"{health_server}/ok")
    services.verification_run_health_check(verification=verification)
    first = Verification.objects.get(pk=verification.pk)

    again = services.verification_run_health_check(verification=verification)

    stored = Verification.objects.get(pk=verification.pk)
    assert again is None
    assert (stored.completed_at, stored.response_ms) == (first.completed_at, first.response_ms)
    assert len(events(stored.incident, TimelineEvent.Kind.VERIFICATION)) == 2


def test_a_passed_health_check_lets_the_incident_resolve(acme, responder, health_server):
    verification = start_health_check(acme, responder, f"{health_server}/ok")
    incident = verification.incident
    services.incident_update(
        incident=incident,
        actor=responder,
        changes={"resolution_summary": "Restarted.", "root_cause_category": "capacity"},
    )
    services.verification_run_health_check(verification=verification)
    incident = bring_to(fresh(incident), Status.INVESTIGATING, responder)

    transition(incident, "resolve", responder)

    assert fresh(incident).status == Status.RESOLVED


# — ownership ——————————————————————————————————————————————————————————————————————————


@pytest.fixture
def payments(acme, responder):
    return TeamFactory(organization=acme, name="Payments", members=[responder])


@pytest.fixture
def platform(acme, other_responder):
    return TeamFactory(organization=acme, name="Platform", members=[other_responder])


@pytest.fixture
def owned(acme, responder, payments):
    """An incident owned by Payments (Rita's team)."""
    return declare(acme, responder, owning_team=payments)


def ask_to_take(incident, actor, team, reason="We own the root cause."):
    return services.ownership_request_create(
        incident=incident, actor=actor, kind=OwnershipRequest.Kind.TAKE, to_team=team, reason=reason
    )


def test_a_member_of_another_team_asks_to_take_ownership(owned, other_responder, platform):
    request = ask_to_take(owned, other_responder, platform)

    stored = OwnershipRequest.objects.get(pk=request.pk)
    assert stored.status == OwnershipRequest.Status.PENDING
    assert (stored.from_team.name, stored.to_team) == ("Payments", platform)
    waits = stored.escalate_at - stored.created_at
    assert timedelta(minutes=29, seconds=59) < waits <= timedelta(minutes=30)
    assert fresh(owned).owning_team.name == "Payments"
    assert [e.message for e in events(owned, TimelineEvent.Kind.OWNERSHIP)] == [
        "Oscar asks to take ownership for Platform: We own the root cause."
    ]


def test_the_owning_team_accepts_and_the_previous_owner_stays_involved(
    owned, responder, other_responder, payments, platform
):
    request = ask_to_take(owned, other_responder, platform)

    services.ownership_request_decide(request=request, actor=responder, accept=True, note="Sure")

    after = fresh(owned)
    assert after.owning_team == platform
    assert set(after.involved_teams.all()) == {payments, platform}
    assert after.version == 2
    stored = OwnershipRequest.objects.get(pk=request.pk)
    assert (stored.status, stored.decided_by) == (OwnershipRequest.Status.ACCEPTED, responder)
    assert events(owned, TimelineEvent.Kind.OWNERSHIP)[-1].message == (
        "Ownership moved from Payments to Platform: Sure"
    )


def test_the_owning_team_declines_and_keeps_the_incident(
    owned, responder, other_responder, payments, platform
):
    request = ask_to_take(owned, other_responder, platform)

    services.ownership_request_decide(request=request, actor=responder, accept=False)

    after = fresh(owned)
    assert after.owning_team == payments
    assert list(after.involved_teams.all()) == []
    assert OwnershipRequest.objects.get(pk=request.pk).status == OwnershipRequest.Status.DECLINED


def test_the_asking_team_cannot_accept_its_own_request(owned, other_responder, payments, platform):
    request = ask_to_take(owned, other_responder, platform)

    with pytest.raises(PermissionDenied):
        services.ownership_request_decide(request=request, actor=other_responder, accept=True)

    assert fresh(owned).owning_team == payments
    assert OwnershipRequest.objects.get(pk=request.pk).status == OwnershipRequest.Status.PENDING


def test_a_stranger_to_the_team_may_not_ask_to_take_it(acme, owned, make_member, platform):
    outsider = make_member(acme, Role.RESPONDER).user

    with pytest.raises(PermissionDenied):
        ask_to_take(owned, outsider, platform)

    assert OwnershipRequest.objects.filter(incident=owned).count() == 0


def test_a_stranger_to_the_deciding_team_may_not_answer(
    acme, owned, other_responder, make_member, payments, platform
):
    outsider = make_member(acme, Role.RESPONDER).user
    request = ask_to_take(owned, other_responder, platform)

    with pytest.raises(PermissionDenied):
        services.ownership_request_decide(request=request, actor=outsider, accept=True)

    assert fresh(owned).owning_team == payments
    assert OwnershipRequest.objects.get(pk=request.pk).status == OwnershipRequest.Status.PENDING


def test_a_viewer_in_the_owning_team_may_not_answer(
    owned, viewer, other_responder, payments, platform
):
    payments.members.add(viewer)
    request = ask_to_take(owned, other_responder, platform)

    with pytest.raises(PermissionDenied):
        services.ownership_request_decide(request=request, actor=viewer, accept=True)

    assert fresh(owned).owning_team == payments
    assert OwnershipRequest.objects.get(pk=request.pk).status == OwnershipRequest.Status.PENDING


def test_a_manager_may_answer_for_the_team(owned, other_responder, manager, platform):
    request = ask_to_take(owned, other_responder, platform)

    services.ownership_request_decide(request=request, actor=manager, accept=True)

    assert fresh(owned).owning_team == platform


def test_only_one_ownership_request_waits_at_a_time(acme, owned, other_responder, platform):
    ask_to_take(owned, other_responder, platform)
    security = TeamFactory(organization=acme, name="Security", members=[other_responder])

    with pytest.raises(ValidationError, match="already waiting"):
        ask_to_take(owned, other_responder, security)

    assert OwnershipRequest.objects.filter(incident=owned).count() == 1


def test_the_owning_team_hands_over_and_the_receiving_team_accepts(
    owned, responder, other_responder, platform
):
    request = services.ownership_request_create(
        incident=owned, actor=responder, kind=OwnershipRequest.Kind.HANDOVER, to_team=platform
    )

    services.ownership_request_decide(request=request, actor=other_responder, accept=True)

    assert fresh(owned).owning_team == platform


def test_an_unowned_incident_is_taken_at_once(incident, other_responder, platform):
    request = ask_to_take(incident, other_responder, platform)

    assert request.status == OwnershipRequest.Status.ACCEPTED
    assert fresh(incident).owning_team == platform


def test_a_viewer_may_not_ask_for_ownership(owned, viewer, platform):
    platform.members.add(viewer)

    with pytest.raises(PermissionDenied):
        ask_to_take(owned, viewer, platform)

    assert OwnershipRequest.objects.filter(incident=owned).count() == 0


def test_an_unanswered_request_escalates_exactly_once_and_mails_the_managers(
    owned,
    other_responder,
    platform,
    manager,
    admin,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    request = ask_to_take(owned, other_responder, platform)
    later = request.escalate_at + timedelta(minutes=1)

    with django_capture_on_commit_callbacks(execute=True):
        first = services.ownership_escalate_due(organization=owned.organization, now=later)
        second = services.ownership_escalate_due(
            organization=owned.organization, now=later + timedelta(hours=1)
        )

    assert (first, second) == (1, 0)
    assert OwnershipRequest.objects.get(pk=request.pk).escalated_at == later
    assert len(mailoutbox) == 1
    assert sorted(mailoutbox[0].to) == sorted([manager.email, admin.email])
    assert mailoutbox[0].subject == "ACME-1 · ownership request needs a decision"
    assert "escalated to the managers" in events(owned, TimelineEvent.Kind.OWNERSHIP)[-1].message


def test_a_request_is_not_escalated_before_it_is_due(
    owned, other_responder, platform, manager, mailoutbox, django_capture_on_commit_callbacks
):
    request = ask_to_take(owned, other_responder, platform)

    with django_capture_on_commit_callbacks(execute=True):
        escalated = services.ownership_escalate_due(
            organization=owned.organization, now=request.escalate_at - timedelta(minutes=1)
        )

    assert escalated == 0
    assert OwnershipRequest.objects.get(pk=request.pk).escalated_at is None
    assert mailoutbox == []


def test_an_answered_request_is_not_escalated(
    owned, responder, other_responder, platform, manager, mailoutbox
):
    request = ask_to_take(owned, other_responder, platform)
    services.ownership_request_decide(request=request, actor=responder, accept=False)

    escalated = services.ownership_escalate_due(
        organization=owned.organization, now=request.escalate_at + timedelta(hours=1)
    )

    assert escalated == 0
    assert OwnershipRequest.objects.get(pk=request.pk).escalated_at is None


# — restricted access ——————————————————————————————————————————————————————————————————


@pytest.fixture
def restricted(acme, responder):
    return declare(acme, responder, title="Suspicious logins", is_restricted=True)


def test_an_admin_grants_access_and_it_is_on_the_timeline(acme, restricted, admin, viewer):
    services.incident_grant_access(incident=restricted, actor=admin, user=viewer)

    assert visible_to(acme, viewer) == ["ACME-1"]
    assert events(restricted, TimelineEvent.Kind.ACCESS)[-1].message == (
        f"Access granted to Vera (granted by {admin})"
    )


def test_the_commander_grants_access(acme, responder, other_responder, viewer):
    incident = declare(acme, responder, is_restricted=True, commander=other_responder)

    services.incident_grant_access(incident=incident, actor=other_responder, user=viewer)

    assert visible_to(acme, viewer) == [incident.key]


def test_a_responder_who_is_not_the_commander_may_not_grant(acme, restricted, responder, viewer):
    with pytest.raises(PermissionDenied):
        services.incident_grant_access(incident=restricted, actor=responder, user=viewer)

    assert visible_to(acme, viewer) == []


def test_access_is_granted_to_members_only(restricted, admin, stranger):
    with pytest.raises(ValidationError) as refused:
        services.incident_grant_access(incident=restricted, actor=admin, user=stranger)

    assert list(refused.value.message_dict) == ["user"]
    assert stranger.has_perm(services.VIEW_PERM, restricted) is False


def test_an_admin_revokes_access_and_it_is_on_the_timeline(acme, restricted, admin, viewer):
    services.incident_grant_access(incident=restricted, actor=admin, user=viewer)

    services.incident_revoke_access(incident=restricted, actor=admin, user=viewer)

    assert visible_to(acme, viewer) == []
    assert events(restricted, TimelineEvent.Kind.ACCESS)[-1].message == (
        f"Access of Vera revoked by {admin}"
    )


def test_a_responder_may_not_revoke_access(acme, restricted, responder, admin, viewer):
    services.incident_grant_access(incident=restricted, actor=admin, user=viewer)

    with pytest.raises(PermissionDenied):
        services.incident_revoke_access(incident=restricted, actor=responder, user=viewer)

    assert visible_to(acme, viewer) == ["ACME-1"]


def test_restricting_later_grants_reporter_and_commander(
    acme, responder, other_responder, viewer, admin
):
    incident = declare(acme, responder, commander=other_responder)

    services.incident_set_restricted(incident=incident, actor=admin, is_restricted=True)

    after = fresh(incident)
    assert after.is_restricted is True
    assert after.version == 2
    assert visible_to(acme, responder) == [incident.key]
    assert visible_to(acme, other_responder) == [incident.key]
    assert visible_to(acme, viewer) == []
    assert events(after, TimelineEvent.Kind.ACCESS)[-1].message.startswith("Restricted:")


def test_a_responder_may_not_restrict_an_incident(acme, incident, responder, viewer):
    with pytest.raises(PermissionDenied):
        services.incident_set_restricted(incident=incident, actor=responder, is_restricted=True)

    assert fresh(incident).is_restricted is False
    assert visible_to(acme, viewer) == [incident.key]


def test_making_a_commander_on_a_restricted_incident_grants_access(
    acme, restricted, responder, other_responder
):
    services.incident_update(
        incident=restricted, actor=responder, changes={"commander": other_responder}
    )

    assert visible_to(acme, other_responder) == [restricted.key]
