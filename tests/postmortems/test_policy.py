"""Which incidents need a post-mortem: the policy's rules, a person's request, the decision's
moments (declaration, change, resolve) and the close requirement."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django_scopes import scopes_disabled

from incidents import services as incident_services
from incidents.lifecycle import Status
from incidents.services import RequirementsMissing
from postmortems import policy
from postmortems.models import PostMortem, PostMortemDecision, PostMortemPolicy
from tenancy.scoping import org_scope
from tests.incidents.factories import (
    CategoryFactory,
    CustomFieldDefinitionFactory,
    ServiceFactory,
    bring_to,
    declare,
    fresh,
    severity,
    transition,
)
from tests.postmortems import test_policy_support as support
from tests.postmortems.test_policy_support import (
    decision_of,
    incident_timeline,
    major,
    postmortem_of,
    resolved,
)

pytestmark = pytest.mark.django_db

# Fixtures shared by the post-mortem core tests.
mona = support.mona
oscar = support.oscar
rita = support.rita
vera = support.vera


def test_a_sev2_needs_one_by_severity_and_a_sev3_does_not(acme, rita):
    sev2 = declare(acme, rita, severity=severity(acme, "SEV-2"))
    sev3 = declare(acme, rita, severity=severity(acme, "SEV-3"))

    assert policy.decide(sev2) == (
        True,
        "Required: SEV-2 is at or above the policy's threshold (SEV-2 or stronger).",
    )
    required, reason = policy.decide(sev3)
    assert required is False
    assert reason.startswith("Not required by the policy")


def test_the_severity_threshold_follows_the_policy(acme, rita):
    PostMortemPolicy.objects.create(organization=acme, max_severity_level=1)
    sev2 = declare(acme, rita, severity=severity(acme, "SEV-2"))
    sev1 = declare(acme, rita, severity=severity(acme, "SEV-1"), commander=rita)

    assert policy.decide(sev2)[0] is False
    assert policy.decide(sev1)[0] is True


def test_the_third_incident_on_a_service_and_category_within_30_days_needs_one(acme, rita):
    service = ServiceFactory(organization=acme, name="Checkout API")
    category = CategoryFactory(organization=acme, name="Edge routing")
    other = CategoryFactory(organization=acme, name="Storage tier")
    kwargs = {"primary_service": service, "category": category}
    first = declare(acme, rita, title="one", **kwargs)
    declare(acme, rita, title="elsewhere", primary_service=service, category=other)
    second = declare(acme, rita, title="two", **kwargs)
    third = declare(acme, rita, title="three", **kwargs)

    assert policy.decide(first)[0] is False
    assert policy.decide(second)[0] is False
    required, reason = policy.decide(third)
    assert required is True
    assert "3 incidents on Checkout API in Edge routing within 30 days" in reason


def test_dismissed_and_old_incidents_do_not_count_as_recurrence(acme, rita):
    service = ServiceFactory(organization=acme, name="Checkout API")
    category = CategoryFactory(organization=acme, name="Edge routing")
    kwargs = {"primary_service": service, "category": category}
    dismissed = declare(acme, rita, title="probe", **kwargs)
    transition(dismissed, "dismiss", rita)
    old = declare(acme, rita, title="old", **kwargs)
    with scopes_disabled():
        type(old).objects.filter(pk=old.pk).update(
            reported_at=old.reported_at - policy.timedelta(days=31)
        )
    declare(acme, rita, title="two", **kwargs)
    third = declare(acme, rita, title="three", **kwargs)

    assert policy.decide(third)[0] is False


def test_a_filled_regulatory_field_makes_one_needed(acme, rita):
    CustomFieldDefinitionFactory(
        organization=acme, key="regulator_ref", label="Regulator reference", is_regulatory=True
    )
    filled = declare(acme, rita, custom_fields={"regulator_ref": "BaFin-2026-17"})
    empty = declare(acme, rita)

    assert policy.decide(filled) == (True, "Required: regulatory field “Regulator reference”.")
    assert policy.decide(empty)[0] is False


@pytest.mark.parametrize("value", ["none", "No", False, 0, ""])
def test_a_regulatory_field_that_reports_nothing_does_not_count(acme, rita, value):
    CustomFieldDefinitionFactory(organization=acme, key="reg", label="Reg", is_regulatory=True)

    assert policy.decide(declare(acme, rita, custom_fields={"reg": value}))[0] is False


def test_the_regulatory_rule_can_be_switched_off(acme, rita):
    PostMortemPolicy.objects.create(organization=acme, on_regulatory=False)
    CustomFieldDefinitionFactory(organization=acme, key="reg", label="Reg", is_regulatory=True)

    assert policy.decide(declare(acme, rita, custom_fields={"reg": "x"}))[0] is False


def test_every_rule_that_applies_is_named(acme, rita):
    CustomFieldDefinitionFactory(organization=acme, key="reg", label="Reg", is_regulatory=True)
    incident = declare(acme, rita, severity=severity(acme, "SEV-2"), custom_fields={"reg": "x"})

    reason = policy.decide(incident)[1]
    assert "SEV-2" in reason
    assert "regulatory field “Reg”" in reason


def test_the_decision_is_recorded_on_declaration_and_retaken_when_the_severity_changes(
    acme, rita, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        incident = declare(acme, rita)
    assert decision_of(incident).required is False

    with django_capture_on_commit_callbacks(execute=True), org_scope(acme):
        incident_services.incident_change_severity(
            incident=incident, actor=rita, severity=severity(acme, "SEV-2"), reason="Wider impact"
        )

    decision = decision_of(incident)
    assert decision.required is True
    assert "SEV-2" in decision.reason
    assert incident_timeline(incident) == [f"Post-mortem needed. {decision.reason}"]


def test_a_request_sticks_and_the_policy_does_not_clear_it(acme, rita):
    incident = declare(acme, rita)
    with org_scope(acme):
        policy.postmortem_request(incident=incident, actor=rita, reason="A near miss")
        decision = policy.record_decision(fresh(incident))

    assert decision.required is True
    assert decision.source == PostMortemDecision.Source.MANUAL
    assert decision.reason == "Requested by Rita Ramos: A near miss"
    assert decision.requested_by == rita
    assert incident_timeline(incident) == ["Post-mortem requested: A near miss"]


def test_a_request_on_a_resolved_incident_starts_the_post_mortem_at_once(acme, rita):
    PostMortemPolicy.objects.create(organization=acme, max_severity_level=0)
    incident = resolved(acme, rita, level="SEV-3")
    assert postmortem_of(incident) is None

    with org_scope(acme):
        policy.postmortem_request(incident=incident, actor=rita, reason="Customers noticed")

    assert postmortem_of(incident).status == PostMortem.Status.DRAFT


@pytest.mark.parametrize(
    ("reason", "message"),
    [("", "Say why this incident needs a post-mortem."), ("x" * 251, "At most 250 characters.")],
)
def test_a_request_needs_a_short_reason(acme, rita, reason, message):
    incident = declare(acme, rita)
    with org_scope(acme), pytest.raises(ValidationError, match=message):
        policy.postmortem_request(incident=incident, actor=rita, reason=reason)
    assert decision_of(incident) is None


def test_a_viewer_cannot_request_one_and_nothing_changes(acme, rita, vera):
    incident = declare(acme, rita)
    with org_scope(acme), pytest.raises(PermissionDenied):
        policy.postmortem_request(incident=incident, actor=vera, reason="Because")
    assert decision_of(incident) is None


def test_closing_an_incident_that_needs_one_requires_it_published(acme, rita, oscar):
    incident = resolved(acme, rita)
    assert decision_of(incident).required is True

    with pytest.raises(RequirementsMissing) as refusal:
        transition(incident, "close", rita)

    assert [m.label for m in refusal.value.missing] == ["a published post-mortem"]
    assert fresh(incident).status == Status.RESOLVED
    with org_scope(acme):
        options = {
            o["name"]: o for o in incident_services.available_transitions(fresh(incident), rita)
        }
    assert [m.label for m in options["close"]["missing"]] == ["a published post-mortem"]

    with scopes_disabled():
        PostMortem.objects.filter(incident=incident).update(
            status=PostMortem.Status.PUBLISHED, published_at=incident.resolved_at
        )
    assert transition(fresh(incident), "close", rita).status == Status.CLOSED


def test_closing_an_incident_that_needs_none_is_not_held_up(acme, rita):
    incident = bring_to(major(acme, rita, level="SEV-3"), Status.RESOLVED, rita)

    assert transition(incident, "close", rita).status == Status.CLOSED
    assert postmortem_of(incident) is None


# — the policy page ————————————————————————————————————————————————————————————————————

VALID = {
    "max_severity_level": "1",
    "recurrence_count": "4",
    "recurrence_days": "14",
    "on_regulatory": "on",
    "review_due_hours": "72",
    "remind_before_hours": "24",
    "escalate_after_hours": "4",
    "approvals_required": "2",
    "action_item_remind_days": "3",
}


def test_a_manager_saves_the_policy(acme, mona, login):
    client = login(mona)
    assert client.get("/o/acme/postmortems/policy/").status_code == 200

    response = client.post("/o/acme/postmortems/policy/", VALID)

    assert response.status_code == 302
    with scopes_disabled():
        saved = PostMortemPolicy.objects.get(organization=acme)
    assert (saved.max_severity_level, saved.review_due_hours, saved.approvals_required) == (
        1,
        72,
        2,
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("review_due_hours", "0", "greater than or equal to 1"),
        ("approvals_required", "11", "less than or equal to 10"),
        ("recurrence_days", "many", "Enter a whole number"),
        ("remind_before_hours", "72", "Remind before the review is due"),
    ],
)
def test_wrong_policy_values_are_refused_with_a_message(acme, mona, login, field, value, message):
    response = login(mona).post("/o/acme/postmortems/policy/", {**VALID, field: value})

    assert response.status_code == 200
    assert message in response.content.decode()
    with scopes_disabled():
        assert not PostMortemPolicy.objects.filter(organization=acme).exists()


def test_a_responder_may_not_change_the_policy(acme, rita, login):
    response = login(rita).post("/o/acme/postmortems/policy/", VALID)

    assert response.status_code == 403
    with scopes_disabled():
        assert not PostMortemPolicy.objects.filter(organization=acme).exists()
