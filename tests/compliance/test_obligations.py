"""Which obligations an incident's facts raise, their deadlines, the reminders at 50 % and 80 %
and the escalation when a deadline is missed — each exactly once, with a controlled clock and
under concurrent sweepers — and what submitting one starts."""

import datetime as dt
import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django_scopes import scopes_disabled

from compliance import obligations
from compliance.frameworks import FRAMEWORKS, ensure_frameworks
from compliance.models import Framework, IncidentObligation, Obligation, ObligationStatus
from compliance.tasks import sweep_compliance_task
from incidents.models import BusinessCalendar, Holiday, Incident, Notification, TimelineEvent
from taxonomy.models import CustomFieldDefinition
from tenancy.roles import Role
from tests.incidents.factories import declare

UTC = dt.UTC


@pytest.fixture
def clerk(acme, make_member):
    """Compliance staff of acme."""
    return make_member(acme, Role.COMPLIANCE, email="clara@acme.test", full_name="Clara").user


@pytest.fixture
def breach(acme, responder):
    """A SEV-2 incident reported at 2026-11-02 09:00 UTC, commanded by Rita."""
    from tests.incidents.factories import severity

    at = dt.datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    incident = declare(
        acme,
        responder,
        title="Customer records exposed",
        severity=severity(acme, "SEV-2"),
        commander=responder,
    )
    with scopes_disabled():
        Incident.objects.filter(pk=incident.pk).update(
            reported_at=at, detected_at=at - dt.timedelta(minutes=30)
        )
        return Incident.objects.get(pk=incident.pk)


def rows(incident) -> dict[str, IncidentObligation]:
    with scopes_disabled():
        return {
            r.obligation.key: r
            for r in IncidentObligation.objects.filter(incident_id=incident.pk).select_related(
                "obligation"
            )
        }


def regulatory_timeline(incident) -> list[str]:
    with scopes_disabled():
        return list(
            TimelineEvent.objects.filter(incident_id=incident.pk, kind="regulatory")
            .order_by("created_at", "pk")
            .values_list("message", flat=True)
        )


def notified(kind) -> list[str]:
    with scopes_disabled():
        return sorted(
            Notification.objects.filter(kind=kind).values_list("recipient__email", flat=True)
        )


def test_every_organisation_gets_the_six_frameworks_once(acme, globex):
    ensure_frameworks(acme.pk)
    ensure_frameworks(acme.pk)
    with scopes_disabled():
        keys = sorted(Framework.objects.filter(organization=acme).values_list("key", flat=True))
        assert keys == ["dora", "gdpr", "hipaa", "nis2", "sec", "sox"]
        count = Obligation.objects.filter(organization=acme).count()
        assert count == sum(len(f["obligations"]) for f in FRAMEWORKS)
        assert not Framework.objects.filter(organization=globex).exists()
        final = Obligation.objects.get(organization=acme, key="dora-final")
        assert final.previous.key == "dora-intermediate"


def test_nothing_applies_without_facts(breach, clerk):
    assert obligations.evaluate(breach) == []
    assert rows(breach) == {}


def test_a_personal_data_breach_raises_gdpr_art33_due_72_hours_after_awareness(breach, clerk):
    obligations.save_facts(
        breach, actor=clerk, data={"personal_data_breach": True, "subjects_affected": 1200}
    )

    found = rows(breach)
    assert set(found) == {"gdpr-art33"}
    art33 = found["gdpr-art33"]
    assert art33.status == ObligationStatus.NOT_STARTED
    assert art33.clock_started_at == breach.reported_at
    assert art33.due_at == breach.reported_at + dt.timedelta(hours=72)
    assert art33.remind_50_at == breach.reported_at + dt.timedelta(hours=36)
    assert art33.next_fire_at == art33.remind_50_at
    assert regulatory_timeline(breach) == [
        "GDPR Art. 33(1) applies (GDPR: Notify the supervisory authority); due 2026-11-05 10:00 CET"
    ]


def test_awareness_can_be_recorded_later_than_the_report_and_moves_the_clock(breach, clerk):
    aware = breach.reported_at + dt.timedelta(hours=5)
    obligations.save_facts(breach, actor=clerk, data={"personal_data_breach": True})
    obligations.save_facts(breach, actor=clerk, data={"aware_at": aware})
    assert rows(breach)["gdpr-art33"].due_at == aware + dt.timedelta(hours=72)


def test_facts_that_stop_holding_withdraw_the_obligation_and_restore_it(breach, clerk):
    obligations.save_facts(breach, actor=clerk, data={"personal_data_breach": True})
    obligations.save_facts(breach, actor=clerk, data={"personal_data_breach": False})
    assert rows(breach)["gdpr-art33"].status == ObligationStatus.WITHDRAWN
    assert rows(breach)["gdpr-art33"].next_fire_at is None
    assert regulatory_timeline(breach)[-1] == "GDPR Art. 33(1) no longer applies"
    obligations.save_facts(breach, actor=clerk, data={"personal_data_breach": True})
    assert rows(breach)["gdpr-art33"].status == ObligationStatus.NOT_STARTED


def test_a_disabled_framework_and_a_test_incident_raise_nothing(acme, breach, clerk, responder):
    ensure_frameworks(acme.pk)
    with scopes_disabled():
        Framework.objects.filter(organization=acme, key="gdpr").update(enabled=False)
    obligations.save_facts(breach, actor=clerk, data={"personal_data_breach": True})
    assert rows(breach) == {}

    drill = declare(acme, responder, title="Game day", kind=Incident.Kind.GAME_DAY)
    obligations.save_facts(
        drill, actor=clerk, data={"material": True, "materiality_determined_at": drill.reported_at}
    )
    assert rows(drill) == {}


def test_each_framework_is_raised_by_its_own_fact(breach, clerk):
    determined = breach.reported_at + dt.timedelta(hours=2)
    obligations.save_facts(
        breach,
        actor=clerk,
        data={
            "phi_breach": True,
            "residents_most_in_one_state": 501,
            "material": True,
            "materiality_determined_at": determined,
            "major_ict": True,
            "classified_at": breach.reported_at + dt.timedelta(hours=1),
            "significant": True,
            "financial_system": True,
        },
    )
    found = rows(breach)
    assert set(found) == {
        "hipaa-individuals",
        "hipaa-hhs",
        "hipaa-media",
        "sec-8k-105",
        "dora-initial",
        "dora-intermediate",
        "dora-final",
        "nis2-early-warning",
        "nis2-notification",
        "nis2-final",
        "sox-evidence",
    }
    # HIPAA: 60 days after discovery (detection), on the Berlin wall clock.
    assert found["hipaa-hhs"].due_at == breach.detected_at + dt.timedelta(days=60)
    # SEC: Monday 2 Nov 11:00 → Tue 3 (1) … Fri 6 (4), end of day in Berlin.
    assert found["sec-8k-105"].due_at == dt.datetime(2026, 11, 6, 22, 59, 59, tzinfo=UTC)
    # DORA initial: 4 h after classification (within the 24 h after awareness).
    assert found["dora-initial"].due_at == breach.reported_at + dt.timedelta(hours=5)
    assert found["dora-intermediate"].due_at == breach.reported_at + dt.timedelta(hours=73)
    # Final reports wait for the previous notice; SOX has no external deadline.
    assert found["dora-final"].due_at is None
    assert found["dora-final"].clock_started_at is None
    assert found["nis2-final"].due_at is None
    assert found["sox-evidence"].due_at is None
    assert found["sox-evidence"].next_fire_at is None


def test_business_days_use_the_organisations_holidays(acme, breach, clerk):
    with scopes_disabled():
        calendar, _ = BusinessCalendar.objects.update_or_create(
            organization=acme,
            defaults={"timezone": "Europe/Berlin", "working_days": [1, 2, 3, 4, 5]},
        )
        Holiday.objects.create(
            organization=acme, calendar=calendar, date=dt.date(2026, 11, 4), name="Audit day"
        )
    obligations.save_facts(
        breach,
        actor=clerk,
        data={"material": True, "materiality_determined_at": breach.reported_at},
    )
    # Tue 3 (1), [Wed 4 holiday], Thu 5 (2), Fri 6 (3), Mon 9 (4).
    assert rows(breach)["sec-8k-105"].due_at == dt.datetime(2026, 11, 9, 22, 59, 59, tzinfo=UTC)


def test_submitting_the_intermediate_report_starts_the_final_reports_month(breach, clerk):
    obligations.save_facts(
        breach,
        actor=clerk,
        data={"major_ict": True, "classified_at": breach.reported_at + dt.timedelta(hours=1)},
    )
    sent_at = dt.datetime(2026, 11, 4, 10, 0, tzinfo=UTC)
    row = rows(breach)["dora-intermediate"]
    obligations.mark_submitted(
        row, actor=clerk, submitted_at=sent_at, reference="CA-2026-118", now=sent_at
    )

    found = rows(breach)
    assert found["dora-intermediate"].status == ObligationStatus.SUBMITTED
    assert found["dora-intermediate"].submitted_by == clerk
    assert found["dora-intermediate"].next_fire_at is None
    assert found["dora-final"].clock_started_at == sent_at
    assert found["dora-final"].due_at == dt.datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    assert "submitted 2026-11-04 11:00 CET (ref. CA-2026-118)" in regulatory_timeline(breach)[-1]


def test_a_submission_cannot_be_in_the_future_nor_twice(breach, clerk):
    obligations.save_facts(breach, actor=clerk, data={"personal_data_breach": True})
    row = rows(breach)["gdpr-art33"]
    with pytest.raises(ValidationError, match="future"):
        obligations.mark_submitted(
            row, actor=clerk, submitted_at=dt.datetime(2099, 1, 1, tzinfo=UTC)
        )
    obligations.mark_submitted(row, actor=clerk)
    with pytest.raises(ValidationError, match="already submitted"):
        obligations.mark_submitted(row, actor=clerk)
    with pytest.raises(ValidationError, match="already submitted"):
        obligations.mark_drafted(row, actor=clerk)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.RESPONDER, Role.MANAGER])
def test_only_compliance_staff_and_admins_record_facts_and_submissions(
    acme, breach, clerk, make_member, role
):
    someone = make_member(acme, role).user
    with pytest.raises(PermissionDenied):
        obligations.save_facts(breach, actor=someone, data={"personal_data_breach": True})
    obligations.save_facts(breach, actor=clerk, data={"personal_data_breach": True})
    with pytest.raises(PermissionDenied):
        obligations.mark_submitted(rows(breach)["gdpr-art33"], actor=someone)


def test_a_regulatory_custom_field_can_trigger_an_obligation(
    acme, responder, clerk, django_capture_on_commit_callbacks
):
    ensure_frameworks(acme.pk)
    with scopes_disabled():
        CustomFieldDefinition.objects.create(
            organization=acme,
            key="pii_exposed",
            label="PII exposed",
            field_type="text",
            is_regulatory=True,
        )
        Obligation.objects.filter(organization=acme, key="gdpr-art33").update(
            trigger="custom:pii_exposed"
        )
    with django_capture_on_commit_callbacks(execute=True):
        quiet = declare(
            acme, responder, title="Nothing exposed", custom_fields={"pii_exposed": "no"}
        )
        exposed = declare(
            acme, responder, title="Export leaked", custom_fields={"pii_exposed": "4,000 e-mails"}
        )
    assert rows(quiet) == {}  # "no" reports nothing
    assert set(rows(exposed)) == {"gdpr-art33"}  # raised on declaration, by the signal


# --- the sweeper ---------------------------------------------------------------------------


def test_reminders_at_50_and_80_percent_then_the_escalation_each_once(
    acme, breach, clerk, responder, admin
):
    obligations.save_facts(breach, actor=clerk, data={"personal_data_breach": True})
    start = breach.reported_at

    assert obligations.sweep(now=start + dt.timedelta(hours=35)) == {
        "50": 0,
        "80": 0,
        "escalation": 0,
    }
    assert obligations.sweep(now=start + dt.timedelta(hours=36)) == {
        "50": 1,
        "80": 0,
        "escalation": 0,
    }
    assert obligations.sweep(now=start + dt.timedelta(hours=37)) == {
        "50": 0,
        "80": 0,
        "escalation": 0,
    }
    assert notified("compliance_deadline_reminder") == ["clara@acme.test", "rita@acme.test"]

    assert obligations.sweep(now=start + dt.timedelta(hours=58))["80"] == 1
    assert obligations.sweep(now=start + dt.timedelta(hours=59))["80"] == 0
    assert len(notified("compliance_deadline_reminder")) == 4

    assert obligations.sweep(now=start + dt.timedelta(hours=71, minutes=59))["escalation"] == 0
    assert obligations.sweep(now=start + dt.timedelta(hours=72))["escalation"] == 1
    assert obligations.sweep(now=start + dt.timedelta(hours=90))["escalation"] == 0
    assert notified("compliance_deadline_missed") == [admin.email, "clara@acme.test"]
    assert rows(breach)["gdpr-art33"].next_fire_at is None
    assert regulatory_timeline(breach)[-1] == (
        "GDPR Art. 33(1) deadline missed (was due 2026-11-05 10:00 CET); escalated to "
        "compliance staff"
    )


def test_facts_recorded_late_send_one_reminder_not_two(breach, clerk):
    obligations.save_facts(breach, actor=clerk, data={"personal_data_breach": True})
    assert obligations.sweep(now=breach.reported_at + dt.timedelta(hours=60)) == {
        "50": 0,
        "80": 1,
        "escalation": 0,
    }
    row = rows(breach)["gdpr-art33"]
    assert row.reminded_50_at is not None
    assert row.next_fire_at == row.due_at


def test_a_submitted_obligation_is_neither_reminded_nor_escalated(breach, clerk):
    obligations.save_facts(breach, actor=clerk, data={"personal_data_breach": True})
    obligations.mark_submitted(
        rows(breach)["gdpr-art33"], actor=clerk, submitted_at=breach.reported_at
    )
    counts = obligations.sweep(now=breach.reported_at + dt.timedelta(days=10))
    assert counts == {"50": 0, "80": 0, "escalation": 0}
    assert notified("compliance_deadline_missed") == []


def test_the_beat_task_sweeps(breach, clerk):
    obligations.save_facts(breach, actor=clerk, data={"personal_data_breach": True})
    with scopes_disabled():
        IncidentObligation.objects.filter(incident_id=breach.pk).update(
            next_fire_at=dt.datetime(2000, 1, 1, tzinfo=UTC),
            due_at=dt.datetime(2000, 1, 1, tzinfo=UTC),
        )
    assert sweep_compliance_task()["escalation"] == 1


@pytest.mark.django_db(transaction=True)
def test_two_sweepers_at_once_escalate_and_notify_once(breach, clerk):
    obligations.save_facts(breach, actor=clerk, data={"personal_data_breach": True})
    moment = breach.reported_at + dt.timedelta(hours=80)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run():
        try:
            barrier.wait(timeout=30)
            results.append(obligations.sweep(now=moment))
        except Exception as error:  # collected for the assertion
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted(r["escalation"] for r in results) == [0, 1]
    assert notified("compliance_deadline_missed") == ["clara@acme.test"]
