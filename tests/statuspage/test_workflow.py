"""The draft → approved → published workflow: who may approve and publish, four eyes, what
editing does, and the record each step leaves (timeline and audit trail)."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from django_scopes import scopes_disabled

from incidents.models import TimelineEvent
from incidents.statuspage import services
from incidents.statuspage.models import (
    ComponentState,
    ExternalMessage,
    MessageComponent,
    MessageState,
    PublicStatus,
    StatusPageSettings,
)
from tenancy.models import AuditEntry
from tenancy.scoping import org_scope
from tests.incidents.factories import declare
from tests.statuspage.conftest import approve, component_state, draft, fresh, publish

pytestmark = pytest.mark.django_db


def external_events(incident):
    with scopes_disabled():
        return list(
            TimelineEvent.objects.filter(incident=incident, kind=services.TIMELINE_KIND)
            .order_by("created_at", "pk")
            .values_list("message", flat=True)
        )


def test_a_responder_drafts_and_the_linked_incident_timeline_says_so(
    acme, responder, speaker, payments, incident, queued
):
    message = draft(
        acme, responder, incident=incident, affected={payments: ComponentState.DEGRADED}
    )

    assert fresh(message).state == MessageState.DRAFT
    assert external_events(incident) == [
        "External message drafted: “Card payments: we are investigating” (awaits approval)"
    ]
    with scopes_disabled():
        assert list(MessageComponent.objects.filter(message=message).values_list("state")) == [
            (ComponentState.DEGRADED,)
        ]


def test_a_viewer_may_not_draft_and_nothing_is_stored(acme, viewer):
    with pytest.raises(PermissionDenied, match="update incidents"):
        draft(acme, viewer)
    with scopes_disabled():
        assert not ExternalMessage.objects.exists()


def test_a_member_who_is_not_a_spokesperson_cannot_approve(acme, responder, admin, queued):
    message = draft(acme, responder)

    with pytest.raises(PermissionDenied, match="Only a spokesperson may approve"):
        approve(acme, admin, message)  # even an org admin: approval is a designation

    assert fresh(message).state == MessageState.DRAFT
    assert fresh(message).approved_by is None


def test_four_eyes_a_spokesperson_cannot_approve_their_own_draft(acme, speaker):
    message = draft(acme, speaker)

    with pytest.raises(PermissionDenied, match="Four eyes"):
        approve(acme, speaker, message)

    assert fresh(message).state == MessageState.DRAFT


def test_four_eyes_also_covers_a_spokesperson_who_edited_the_draft(
    acme, responder, speaker, second_speaker
):
    message = draft(acme, responder)
    with org_scope(acme):
        services.message_update(
            organization=acme,
            actor=speaker,
            message=message,
            title="Card payments: investigating",
            body="Edited by Sam.",
            status=PublicStatus.INVESTIGATING,
        )

    with pytest.raises(PermissionDenied, match="Four eyes"):
        approve(acme, speaker, message)
    approve(acme, second_speaker, message)

    assert fresh(message).state == MessageState.APPROVED
    assert fresh(message).approved_by == second_speaker


def test_the_organisation_may_allow_self_approval(acme, speaker, admin):
    with org_scope(acme):
        services.settings_save(
            organization=acme, actor=admin, is_public=False, allow_self_approval=True
        )
    message = draft(acme, speaker)

    approve(acme, speaker, message)

    assert fresh(message).state == MessageState.APPROVED


def test_only_admins_change_the_approval_rule(acme, speaker):
    with pytest.raises(PermissionDenied), org_scope(acme):
        services.settings_save(
            organization=acme, actor=speaker, is_public=True, allow_self_approval=True
        )
    with scopes_disabled():
        assert not StatusPageSettings.objects.exists()


def test_approval_by_another_spokesperson_lands_on_the_timeline_and_in_the_audit_trail(
    acme, responder, speaker, incident
):
    message = draft(acme, responder, incident=incident)

    approve(acme, speaker, message)

    stored = fresh(message)
    assert stored.state == MessageState.APPROVED
    assert stored.approved_by == speaker
    assert external_events(incident)[-1] == (
        "External message approved: “Card payments: we are investigating”"
    )
    with scopes_disabled():
        changes = [
            entry.changes_dict
            for entry in AuditEntry.objects.filter(
                object_pk=str(message.pk), content_type__model="externalmessage"
            ).order_by("timestamp")
        ]
    assert any(change.get("state") == ["draft", "approved"] for change in changes)


def test_publishing_needs_an_approval_first(acme, responder, speaker, payments):
    message = draft(acme, responder, affected={payments: ComponentState.MAJOR_OUTAGE})

    with pytest.raises(ValidationError, match="must approve the message before"):
        publish(acme, speaker, message)

    assert fresh(message).state == MessageState.DRAFT
    assert fresh(message).published_at is None
    assert component_state(payments) == ComponentState.OPERATIONAL


def test_only_a_spokesperson_publishes_an_approved_message(acme, responder, speaker, payments):
    message = draft(acme, responder, affected={payments: ComponentState.MAJOR_OUTAGE})
    approve(acme, speaker, message)

    with pytest.raises(PermissionDenied, match="Only a spokesperson may publish"):
        publish(acme, responder, message)

    assert fresh(message).state == MessageState.APPROVED
    assert component_state(payments) == ComponentState.OPERATIONAL


def test_publishing_sets_the_component_states_and_queues_the_subscriber_mail_on_commit(
    acme,
    responder,
    speaker,
    payments,
    dashboard,
    incident,
    queued,
    django_capture_on_commit_callbacks,
):
    message = draft(
        acme,
        responder,
        incident=incident,
        affected={payments: ComponentState.MAJOR_OUTAGE, dashboard: ComponentState.DEGRADED},
    )
    approve(acme, speaker, message)
    moment = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        publish(acme, speaker, message, now=moment)

    stored = fresh(message)
    assert stored.state == MessageState.PUBLISHED
    assert stored.published_at == moment
    assert stored.published_by == speaker
    assert component_state(payments) == ComponentState.MAJOR_OUTAGE
    assert component_state(dashboard) == ComponentState.DEGRADED
    assert queued["subscribers"] == [(acme.pk, message.pk)]
    assert external_events(incident)[-1].startswith("External message published")


def test_editing_an_approved_message_sends_it_back_to_draft(acme, responder, speaker, incident):
    message = draft(acme, responder, incident=incident)
    approve(acme, speaker, message)

    with org_scope(acme):
        services.message_update(
            organization=acme,
            actor=responder,
            message=message,
            title="Card payments: cause identified",
            body="We found the cause.",
            status=PublicStatus.IDENTIFIED,
            incident=incident,
        )

    stored = fresh(message)
    assert stored.state == MessageState.DRAFT
    assert stored.approved_by is None
    assert stored.approved_at is None
    assert stored.title == "Card payments: cause identified"
    assert "approval was withdrawn" in external_events(incident)[-1]
    with pytest.raises(ValidationError, match="must approve"):
        publish(acme, speaker, message)


def test_a_published_message_cannot_be_edited(acme, published, responder):
    with pytest.raises(ValidationError, match="follow-up"), org_scope(acme):
        services.message_update(
            organization=acme,
            actor=responder,
            message=published,
            title="Changed after the fact",
            body="No.",
            status=PublicStatus.RESOLVED,
        )
    assert fresh(published).title == "Card payments: we are investigating"


def test_a_published_message_cannot_be_approved_or_published_again(acme, published, speaker):
    with pytest.raises(ValidationError, match="Only drafts"):
        approve(acme, speaker, published)
    with pytest.raises(ValidationError, match="published already"):
        publish(acme, speaker, published)


def test_placeholders_are_filled_from_the_message_itself(acme, responder, payments, dashboard):
    due = timezone.now() + timezone.timedelta(minutes=30)
    message = draft(
        acme,
        responder,
        title="{components}: {status}",
        body="Next update by {next_update}.",
        status=PublicStatus.IDENTIFIED,
        next_update_at=due,
        affected={dashboard: ComponentState.DEGRADED, payments: ComponentState.PARTIAL_OUTAGE},
    )

    stored = fresh(message)
    assert stored.title == "Card payments and Dashboard: Identified"
    local = timezone.localtime(due, acme.tzinfo)
    assert local.strftime("%H:%M") in stored.body
    assert "{" not in stored.body


@pytest.mark.parametrize(
    ("title", "error"),
    [
        ("{incident_title} is broken", "Unknown placeholder {incident_title}"),
        ("{key}: investigating", "Unknown placeholder {key}"),
        ("{status.__class__}", "Unknown placeholder {status.__class__}"),
        ("Payments {components", "A brace is not closed"),
    ],
)
def test_unknown_placeholders_and_stray_braces_are_refused(acme, responder, title, error):
    with pytest.raises(ValidationError, match=error):
        draft(acme, responder, title=title)
    with scopes_disabled():
        assert not ExternalMessage.objects.exists()


def test_a_placeholder_without_its_value_is_named(acme, responder):
    with pytest.raises(ValidationError, match="Set when the next update is due"):
        draft(acme, responder, body="Next update by {next_update}.")
    with pytest.raises(ValidationError, match="Choose the affected components"):
        draft(acme, responder, title="{components} degraded")


def test_templates_refuse_internal_placeholders(acme, admin):
    with pytest.raises(ValidationError) as error, org_scope(acme):
        services.template_save(
            organization=acme,
            actor=admin,
            name="Leaky",
            title="{incident_key}: {status}",
            body="Hello {reporter}",
        )
    assert set(error.value.message_dict) == {"title", "body"}


def test_a_drafter_cannot_link_an_incident_they_may_not_see(acme, responder, admin, make_member):
    secret = declare(acme, admin, title="Breach", is_restricted=True)

    with pytest.raises(ValidationError, match="No such incident"):
        draft(acme, responder, incident=secret)


def test_components_of_another_organisation_are_refused(acme, globex, responder):
    from incidents.statuspage.models import Component

    foreign = Component.objects.create(organization=globex, name="Grid")
    with pytest.raises(ValidationError, match="organisation's own"):
        draft(acme, responder, affected={foreign: ComponentState.MAJOR_OUTAGE})


def test_a_removed_member_is_no_spokesperson_any_more(acme, responder, speaker):
    from tenancy.models import Membership

    message = draft(acme, responder)
    with scopes_disabled():
        Membership.objects.filter(organization=acme, user=speaker).delete()

    with pytest.raises(PermissionDenied):
        approve(acme, speaker, message)


def test_spokespersons_hear_about_a_new_draft(acme, responder, speaker, queued):
    from incidents.models import Notification

    message = draft(acme, responder)

    with scopes_disabled():
        notification = Notification.objects.get(recipient=speaker)
    assert notification.kind == "statuspage_approval"
    assert notification.url.endswith(f"/status-page/messages/{message.pk}/")
