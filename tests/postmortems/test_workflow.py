"""The review workflow: draft → in review → published → revising → in review → published, with
what each step requires (named), approvals of the current version from approvers who are not
the owner, "request changes", versions, the incident's timeline and who may."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django_scopes import scopes_disabled

from incidents.lifecycle import Status
from postmortems import services
from postmortems.models import PostMortem, PostMortemApproval, PostMortemPolicy
from postmortems.services import ReviewMissing
from tenancy.scoping import org_scope
from tests.incidents.factories import fresh, transition
from tests.postmortems import test_policy_support as support
from tests.postmortems.test_policy_support import (
    fill,
    fresh_pm,
    incident_timeline,
    postmortem_of,
    resolved,
)

pytestmark = pytest.mark.django_db

# Fixtures shared by the post-mortem core tests.
mona = support.mona
oscar = support.oscar
rita = support.rita
vera = support.vera


def step(postmortem, name, actor, **kwargs):
    with org_scope(postmortem.organization_id):
        return services.postmortem_transition(
            postmortem=postmortem, name=name, actor=actor, **kwargs
        )


def verdict(postmortem, actor, approve=True, comment=""):
    with org_scope(postmortem.organization_id):
        return services.postmortem_approve(
            postmortem=postmortem, actor=actor, approve=approve, comment=comment
        )


@pytest.fixture
def draft(acme, rita):
    return postmortem_of(resolved(acme, rita))


@pytest.fixture
def in_review(draft, rita, oscar):
    return step(fill(draft, rita, approver=oscar), "submit", rita)


def test_submitting_an_empty_draft_names_everything_missing_and_changes_nothing(draft, rita):
    with pytest.raises(ReviewMissing) as refusal:
        step(draft, "submit", rita)

    assert [m.label for m in refusal.value.missing] == [
        "summary",
        "customer or business impact",
        "detection",
        "response",
        "recovery",
        "a contributing factor, a 5-Whys step or a fishbone cause",
        "at least one action item",
        "1 approver besides the owner",
    ]
    assert fresh_pm(draft).status == PostMortem.Status.DRAFT
    assert fresh_pm(draft).submitted_at is None


def test_a_complete_draft_goes_to_review_and_onto_the_incident_timeline(draft, rita, oscar):
    postmortem = step(fill(draft, rita, approver=oscar), "submit", rita, note="Ready")

    assert postmortem.status == PostMortem.Status.IN_REVIEW
    assert fresh_pm(postmortem).submitted_at is not None
    assert incident_timeline(draft.incident)[-1] == (
        "Post-mortem (version 1) submitted for review: Ready"
    )


def test_a_document_in_review_cannot_be_edited(in_review, rita):
    with org_scope(in_review.organization_id), pytest.raises(ValidationError, match="in review"):
        services.postmortem_update(postmortem=in_review, actor=rita, changes={"summary": "x"})

    assert fresh_pm(in_review).summary == "Card payments failed for 40 minutes."


def test_publishing_needs_the_approvals_the_policy_asks_for(in_review, rita):
    with pytest.raises(ReviewMissing, match=r"1 more approval of version 1 \(0 of 1\)"):
        step(in_review, "publish", rita)

    assert fresh_pm(in_review).status == PostMortem.Status.IN_REVIEW


def test_an_approved_post_mortem_is_published_and_searchable(in_review, rita, oscar):
    verdict(in_review, oscar)

    postmortem = step(fresh_pm(in_review), "publish", rita)

    stored = fresh_pm(postmortem)
    assert stored.status == PostMortem.Status.PUBLISHED
    assert stored.published_at is not None
    assert stored.search_vector is not None
    assert incident_timeline(in_review.incident)[-2:] == [
        "Post-mortem version 1 approved by Oscar Olsen",
        "Post-mortem version 1 published",
    ]


def test_two_approvals_are_two_different_approvers(acme, in_review, rita, oscar, mona):
    PostMortemPolicy.objects.create(organization=acme, approvals_required=2)
    with scopes_disabled():
        fresh_pm(in_review).approvers.add(mona)
    verdict(in_review, oscar)
    with pytest.raises(ValidationError, match="already"):
        verdict(in_review, oscar)
    with pytest.raises(ReviewMissing, match=r"1 more approval of version 1 \(1 of 2\)"):
        step(fresh_pm(in_review), "publish", rita)

    verdict(in_review, mona)

    assert step(fresh_pm(in_review), "publish", rita).status == PostMortem.Status.PUBLISHED


def test_the_owner_and_people_who_are_not_approvers_give_no_verdict(in_review, rita, mona):
    with pytest.raises(PermissionDenied, match="approvers"):
        verdict(in_review, mona)
    with scopes_disabled():
        fresh_pm(in_review).approvers.add(rita)  # even if someone lists the owner
    with pytest.raises(PermissionDenied, match="owner"):
        verdict(in_review, rita)

    with scopes_disabled():
        assert not PostMortemApproval.objects.exists()


def test_request_changes_needs_a_comment_and_starts_the_next_version(in_review, rita, oscar):
    with pytest.raises(ValidationError, match="cannot be empty"):
        verdict(in_review, oscar, approve=False)

    verdict(in_review, oscar, approve=False, comment="The timeline misses the rollback.")

    postmortem = fresh_pm(in_review)
    assert (postmortem.status, postmortem.version) == (PostMortem.Status.DRAFT, 2)
    assert incident_timeline(in_review.incident)[-1] == (
        "Changes requested on the post-mortem by Oscar Olsen: The timeline misses the rollback."
    )
    # The next round collects fresh verdicts: the old one is of version 1.
    postmortem = step(postmortem, "submit", rita)
    with pytest.raises(ReviewMissing, match="version 2"):
        step(postmortem, "publish", rita)
    verdict(postmortem, oscar)
    assert step(fresh_pm(postmortem), "publish", rita).status == PostMortem.Status.PUBLISHED


def test_a_revision_increments_the_version_and_needs_a_new_approval(in_review, rita, oscar):
    verdict(in_review, oscar)
    published = step(fresh_pm(in_review), "publish", rita)

    revising = step(published, "revise", rita)
    assert (revising.status, revising.version) == (PostMortem.Status.REVISING, 2)
    with org_scope(revising.organization_id):
        services.postmortem_update(
            postmortem=revising, actor=rita, changes={"lessons_learned": "Canaries first."}
        )
    again = step(fresh_pm(revising), "submit", rita)
    with pytest.raises(ReviewMissing, match="version 2"):
        step(again, "publish", rita)
    verdict(again, oscar)

    final = step(fresh_pm(again), "publish", rita)
    assert (final.status, final.version) == (PostMortem.Status.PUBLISHED, 2)
    assert fresh_pm(final).lessons_learned == "Canaries first."


def test_the_incident_can_be_closed_once_published_even_during_a_revision(in_review, rita, oscar):
    verdict(in_review, oscar)
    step(step(fresh_pm(in_review), "publish", rita), "revise", rita)

    assert transition(fresh(in_review.incident), "close", rita).status == Status.CLOSED


def test_a_viewer_moves_nothing(draft, rita, oscar, vera):
    postmortem = fill(draft, rita, approver=oscar)
    with pytest.raises(PermissionDenied):
        step(postmortem, "submit", vera)

    assert fresh_pm(postmortem).status == PostMortem.Status.DRAFT


@pytest.mark.parametrize(
    ("name", "message"),
    [("publish", "not possible while the post-mortem is draft"), ("delete", "not a step")],
)
def test_impossible_and_unknown_steps_are_refused(draft, rita, name, message):
    with pytest.raises(ValidationError, match=message):
        step(draft, name, rita)
    assert fresh_pm(draft).status == PostMortem.Status.DRAFT


def test_approvers_are_members_and_not_the_owner(draft, rita, oscar, globex_admin):
    with org_scope(draft.organization_id):
        with pytest.raises(ValidationError, match="owner"):
            services.approvers_set(postmortem=draft, actor=rita, users=[rita])
        with pytest.raises(ValidationError, match="members"):
            services.approvers_set(postmortem=draft, actor=rita, users=[globex_admin.user])
        services.approvers_set(postmortem=draft, actor=rita, users=[oscar])
        assert list(fresh_pm(draft).approvers.all()) == [oscar]


def test_each_step_is_in_the_audit_trail(in_review, rita, oscar):
    from django.contrib.contenttypes.models import ContentType

    from tenancy.models import AuditEntry

    verdict(in_review, oscar)
    step(fresh_pm(in_review), "publish", rita)

    with scopes_disabled():
        changes = [
            entry.changes_dict.get("status")
            for entry in AuditEntry.objects.filter(
                content_type=ContentType.objects.get_for_model(PostMortem),
                object_pk=str(in_review.pk),
            ).order_by("pk")
            if "status" in entry.changes_dict
        ]
        approvals = AuditEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(PostMortemApproval)
        ).count()
    assert changes == [[None, "draft"], ["draft", "in_review"], ["in_review", "published"]]
    assert approvals == 1
