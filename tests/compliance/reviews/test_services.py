"""Access-review campaigns: the snapshot, the reviewers, certify and revoke (effective at once,
audited, never twice), the sign-off, the schedule, and two starts at once making one."""

import contextvars
import threading
from datetime import date, timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone
from django_scopes import scopes_disabled
from guardian.shortcuts import assign_perm

from compliance.reviews import export, services
from compliance.reviews.models import Campaign, ReviewLine, ReviewPolicy
from incidents.models import IncidentUserObjectPermission, TimelineEvent
from tenancy import services as tenancy_services
from tenancy.models import AuditEntry, Membership
from tenancy.roles import Role
from tenancy.scoping import org_scope
from tests.compliance.reviews.conftest import campaigns, fresh_line, line_for, lines_of, start
from tests.factories import TeamFactory
from tests.incidents.factories import declare

pytestmark = pytest.mark.django_db

K = ReviewLine.Kind
D = ReviewLine.Decision


def membership_of(org, user) -> Membership | None:
    with scopes_disabled():
        return Membership.objects.filter(organization=org, user=user).first()


def has_grant(user, incident) -> bool:
    return IncidentUserObjectPermission.objects.filter(user=user, content_object=incident).exists()


# — the snapshot ———————————————————————————————————————————————————————————————————————


def test_the_snapshot_lists_every_members_role_and_every_restricted_grant(
    world, acme, globex_admin
):
    """Globex's admin exists too, and is not in acme's snapshot."""
    secret, _ = world
    campaign = start(acme)

    rows = {(line.kind, line.subject, line.role, line.incident_key) for line in lines_of(campaign)}
    assert rows == {
        (K.MEMBERSHIP, "admin@acme.test", Role.ADMIN, ""),
        (K.MEMBERSHIP, "cora@acme.test", Role.COMPLIANCE, ""),
        (K.MEMBERSHIP, "max@acme.test", Role.MANAGER, ""),
        (K.MEMBERSHIP, "oscar@acme.test", Role.RESPONDER, ""),
        (K.MEMBERSHIP, "rita@acme.test", Role.RESPONDER, ""),
        (K.MEMBERSHIP, "vera@acme.test", Role.VIEWER, ""),
        (K.GRANT, "admin@acme.test", "", secret.key),  # the reporter of the restricted one
        (K.GRANT, "oscar@acme.test", "", secret.key),
    }
    assert all(line.decision == D.PENDING for line in lines_of(campaign))
    assert all(
        line.permission == "view_incident" for line in lines_of(campaign) if line.kind == K.GRANT
    )


def test_grants_on_unrestricted_incidents_and_other_organisations_are_not_in_the_snapshot(
    world, acme, globex, globex_admin, admin, other_responder
):
    _, public = world
    with scopes_disabled():
        assign_perm("view_incident", other_responder, public)  # harmless: it is not restricted
    globex_secret = declare(globex, globex_admin.user, title="Grid", is_restricted=True)

    campaign = start(acme)

    keys = {line.incident_key for line in lines_of(campaign) if line.kind == K.GRANT}
    assert public.key not in keys
    assert globex_secret.key not in keys
    assert "admin@globex.test" not in {line.subject for line in lines_of(campaign)}


def test_a_groups_grant_on_a_restricted_incident_is_a_line(world, acme, viewer):
    secret, _ = world
    group = Group.objects.create(name="Auditors")
    group.user_set.add(viewer)
    with scopes_disabled():
        assign_perm("view_incident", group, secret)

    campaign = start(acme)

    line = line_for(campaign, "group Auditors", kind=K.GROUP_GRANT)
    assert line.incident_key == secret.key
    assert line.reviewer is not None
    assert line.reviewer != viewer


# — reviewers ——————————————————————————————————————————————————————————————————————————


def test_reviewers_are_the_admins_and_compliance_staff_and_share_the_work(world, acme, admin, cora):
    campaign = start(acme)
    lines = lines_of(campaign)

    reviewers = [line.reviewer for line in lines]
    assert set(reviewers) == {admin, cora}
    assert abs(reviewers.count(admin) - reviewers.count(cora)) <= 1


def test_nobody_reviews_their_own_line(world, acme, admin, cora):
    campaign = start(acme)

    for line in lines_of(campaign):
        assert line.reviewer_id != line.user_id, line
    assert line_for(campaign, "admin@acme.test").reviewer == cora
    assert line_for(campaign, "cora@acme.test").reviewer == admin
    assert line_for(campaign, "admin@acme.test", kind=K.GRANT).reviewer == cora


def test_a_line_only_its_own_subject_could_review_is_flagged(acme, admin, responder):
    campaign = start(acme)

    assert line_for(campaign, "admin@acme.test").reviewer is None
    assert line_for(campaign, "rita@acme.test").reviewer == admin
    with org_scope(acme):
        from compliance.reviews.selectors import campaign_get

        assert campaign_get(organization=acme, pk=campaign.pk).flagged_count == 1


def test_an_admin_gives_a_flagged_line_to_a_new_reviewer_but_never_to_its_subject(
    acme, admin, make_member
):
    campaign = start(acme)
    flagged = line_for(campaign, "admin@acme.test")
    newcomer = make_member(acme, Role.COMPLIANCE, email="nina@acme.test").user

    with pytest.raises(ValidationError, match="their own access"):
        services.line_reassign(line=flagged, actor=admin, reviewer=admin)
    services.line_reassign(line=flagged, actor=admin, reviewer=newcomer)

    assert fresh_line(flagged).reviewer_id == newcomer.pk


# — dates and the policy ————————————————————————————————————————————————————————————————


def test_the_due_date_reminder_and_period_follow_the_policy(acme, admin, cora):
    now = timezone.now()
    default = start(acme, now=now)
    assert default.due_at == now + timedelta(days=14)
    assert default.remind_at == now + timedelta(days=11)
    assert default.period_end == timezone.localtime(now, acme.tzinfo).date()
    assert default.period_start == services.months_before(default.period_end, 3)
    assert default.trigger == Campaign.Trigger.SCHEDULE

    _decide_all(default, admin, cora)
    services.campaign_sign_off(campaign=default, actor=admin)
    services.policy_save(
        organization=acme, actor=cora, period_months=1, due_days=7, remind_days_before=2
    )
    shorter = start(acme, actor=cora, now=now)
    assert shorter.due_at == now + timedelta(days=7)
    assert shorter.remind_at == now + timedelta(days=5)
    assert shorter.period_start == services.months_before(shorter.period_end, 1)
    assert shorter.started_by == cora
    assert shorter.trigger == Campaign.Trigger.MANUAL


def test_months_before_clamps_to_the_end_of_a_shorter_month():
    assert services.months_before(date(2026, 5, 31), 3) == date(2026, 2, 28)
    assert services.months_before(date(2026, 1, 15), 3) == date(2025, 10, 15)
    assert services.months_before(date(2024, 5, 31), 3) == date(2024, 2, 29)


def test_a_policy_that_reminds_after_the_due_date_is_refused(acme, cora):
    with pytest.raises(ValidationError, match="fewer days"):
        services.policy_save(
            organization=acme, actor=cora, period_months=3, due_days=5, remind_days_before=5
        )
    with org_scope(acme):
        assert not ReviewPolicy.objects.filter(organization=acme).exists()


# — certify ————————————————————————————————————————————————————————————————————————————


def _decide_all(campaign, *reviewers):
    for line in lines_of(campaign):
        actor = line.reviewer or next(r for r in reviewers if r.pk != line.user_id)
        services.line_certify(line=line, actor=actor)


def test_certify_records_who_and_when_and_changes_no_access(world, acme, admin, cora, responder):
    campaign = start(acme)
    line = line_for(campaign, "rita@acme.test")
    reviewer = line.reviewer

    services.line_certify(line=line, actor=reviewer)

    line = fresh_line(line)
    assert line.decision == D.CERTIFIED
    assert line.decided_by == reviewer
    assert line.decided_at is not None
    assert membership_of(acme, responder).role == Role.RESPONDER
    with scopes_disabled():
        assert AuditEntry.objects.filter(
            content_type__model="reviewline", object_pk=str(line.pk), action=1
        ).exists()


def test_nobody_certifies_their_own_line_and_nothing_changes(world, acme, admin, cora):
    campaign = start(acme)
    own = line_for(campaign, "cora@acme.test")

    with pytest.raises(PermissionDenied, match="own access"):
        services.line_certify(line=own, actor=cora)
    assert fresh_line(own).decision == D.PENDING


def test_compliance_staff_decide_only_their_own_assignments_admins_may_take_over(
    world, acme, admin, cora
):
    campaign = start(acme)
    admins_line = next(
        line for line in lines_of(campaign) if line.reviewer == admin and line.user_id != cora.pk
    )
    coras_line = next(
        line for line in lines_of(campaign) if line.reviewer == cora and line.user_id != admin.pk
    )

    with pytest.raises(PermissionDenied, match=f"for {admin.display_name} to review"):
        services.line_certify(line=admins_line, actor=cora)
    assert fresh_line(admins_line).decision == D.PENDING
    services.line_certify(line=coras_line, actor=admin)
    assert fresh_line(coras_line).decided_by == admin


def test_roles_without_manage_compliance_decide_nothing(world, acme, manager):
    campaign = start(acme)
    line = line_for(campaign, "rita@acme.test")

    with pytest.raises(PermissionDenied):
        services.line_certify(line=line, actor=manager)
    assert fresh_line(line).decision == D.PENDING


def test_a_decided_line_is_not_decided_again(world, acme):
    campaign = start(acme)
    line = line_for(campaign, "rita@acme.test")
    services.line_certify(line=line, actor=line.reviewer)

    with pytest.raises(ValidationError, match="Already certified"):
        services.line_revoke(line=line, actor=line.reviewer, reason="changed my mind")
    assert fresh_line(line).decision == D.CERTIFIED
    assert membership_of(acme, line.user) is not None


def test_bulk_certify_certifies_what_the_reviewer_may_and_names_the_rest(world, acme, cora):
    campaign = start(acme)
    lines = lines_of(campaign)

    certified, skipped = services.lines_certify(
        campaign=campaign, actor=cora, line_ids=[line.pk for line in lines]
    )

    mine = [line for line in lines if line.reviewer == cora]
    assert certified == len(mine)
    assert len(skipped) == len(lines) - len(mine)
    assert any("own access" in reason for reason in skipped)
    decisions = {line.pk: fresh_line(line).decision for line in lines}
    assert all(decisions[line.pk] == D.CERTIFIED for line in mine)
    assert sum(1 for d in decisions.values() if d == D.PENDING) == len(skipped)


# — revoke ————————————————————————————————————————————————————————————————————————————


def test_revoking_a_membership_removes_it_and_its_teams_at_once_audited(world, acme, responder):
    team = TeamFactory(organization=acme, name="Payments", members=[responder])
    campaign = start(acme)
    line = line_for(campaign, "rita@acme.test")

    services.line_revoke(line=line, actor=line.reviewer, reason="Left the company")

    assert membership_of(acme, responder) is None
    with scopes_disabled():
        assert list(team.members.all()) == []
        assert AuditEntry.objects.filter(
            content_type__model="membership", action=2, object_repr="Rita (Responder)"
        ).exists()
    line = fresh_line(line)
    assert (line.decision, line.action, line.reason) == (D.REVOKED, "remove", "Left the company")
    assert line.outcome == "Removed from the organisation."


def test_revoking_by_lowering_the_role(world, acme, manager):
    campaign = start(acme)
    line = line_for(campaign, "max@acme.test")

    services.line_revoke(
        line=line, actor=line.reviewer, reason="No longer leads", action="lower", new_role="viewer"
    )

    assert membership_of(acme, manager).role == Role.VIEWER
    assert fresh_line(line).outcome == "Role lowered from Manager to Viewer."


@pytest.mark.parametrize("new_role", ["manager", "admin", "compliance", "", "boss"])
def test_lowering_to_a_role_that_is_not_lower_is_refused(world, acme, manager, new_role):
    campaign = start(acme)
    line = line_for(campaign, "max@acme.test")

    with pytest.raises(ValidationError):
        services.line_revoke(
            line=line, actor=line.reviewer, reason="x", action="lower", new_role=new_role
        )
    assert membership_of(acme, manager).role == Role.MANAGER
    assert fresh_line(line).decision == D.PENDING


def test_a_revocation_needs_a_reason(world, acme, responder):
    campaign = start(acme)
    line = line_for(campaign, "rita@acme.test")

    with pytest.raises(ValidationError, match="why"):
        services.line_revoke(line=line, actor=line.reviewer, reason="   ")
    assert membership_of(acme, responder) is not None
    assert fresh_line(line).decision == D.PENDING


def test_revoking_a_grant_removes_it_at_once_with_a_timeline_entry(world, acme, other_responder):
    secret, _ = world
    campaign = start(acme)
    line = line_for(campaign, "oscar@acme.test", kind=K.GRANT)

    services.line_revoke(line=line, actor=line.reviewer, reason="Not on the case any more")

    assert not has_grant(other_responder, secret)
    assert membership_of(acme, other_responder) is not None  # only the grant goes
    with scopes_disabled():
        event = TimelineEvent.objects.filter(incident=secret, kind="access").latest("pk")
    assert event.message == f"Access of Oscar revoked by {line.reviewer} (access review)"
    assert event.actor == line.reviewer
    assert fresh_line(line).outcome == f"Access to {secret.key} removed."


def test_a_grant_can_only_be_removed_not_lowered(world, acme, other_responder):
    secret, _ = world
    campaign = start(acme)
    line = line_for(campaign, "oscar@acme.test", kind=K.GRANT)

    with pytest.raises(ValidationError, match="only be removed"):
        services.line_revoke(line=line, actor=line.reviewer, reason="x", action="lower")
    assert has_grant(other_responder, secret)


def test_the_only_admin_cannot_be_revoked(acme, admin, cora):
    campaign = start(acme)
    line = line_for(campaign, "admin@acme.test")
    assert line.reviewer == cora

    with pytest.raises(ValidationError, match="only admin"):
        services.line_revoke(line=line, actor=cora, reason="x")
    assert membership_of(acme, admin).role == Role.ADMIN
    assert fresh_line(line).decision == D.PENDING


# — access that changed since the snapshot ————————————————————————————————————————————————


def test_a_member_removed_since_the_snapshot_is_not_removed_twice(world, acme, admin, responder):
    campaign = start(acme)
    line = line_for(campaign, "rita@acme.test")
    with org_scope(acme):
        tenancy_services.membership_remove(
            organization=acme,
            actor=membership_of(acme, admin),
            membership=membership_of(acme, responder),
        )
        assert services.current_access(line).change == "No longer a member"

    services.line_revoke(line=line, actor=line.reviewer, reason="Gone")

    line = fresh_line(line)
    assert line.decision == D.REVOKED
    assert line.outcome == "Already no longer a member before this decision; nothing changed."


def test_a_role_changed_since_the_snapshot_must_be_seen_before_it_is_revoked(
    world, acme, admin, responder
):
    campaign = start(acme)
    line = line_for(campaign, "rita@acme.test")
    with org_scope(acme):
        tenancy_services.membership_change_role(
            organization=acme,
            actor=membership_of(acme, admin),
            membership=membership_of(acme, responder),
            role=Role.MANAGER,
        )
        assert services.current_access(line).change == "Role is now manager"

    with pytest.raises(ValidationError, match="changed since the snapshot"):
        services.line_revoke(
            line=line, actor=line.reviewer, reason="x", action="lower", new_role="viewer"
        )
    assert membership_of(acme, responder).role == Role.MANAGER

    services.line_revoke(
        line=line,
        actor=line.reviewer,
        reason="Too much",
        action="lower",
        new_role="responder",
        expected_role="manager",
    )
    assert membership_of(acme, responder).role == Role.RESPONDER


def test_a_grant_removed_since_the_snapshot_is_reported_not_removed_again(
    world, acme, admin, other_responder
):
    secret, _ = world
    campaign = start(acme)
    line = line_for(campaign, "oscar@acme.test", kind=K.GRANT)
    with org_scope(acme):
        from incidents.services import incident_revoke_access

        incident_revoke_access(incident=secret, actor=admin, user=other_responder)
        events_before = TimelineEvent.objects.filter(incident=secret, kind="access").count()
        assert services.current_access(line).change == "Grant already removed"

    services.line_revoke(line=line, actor=line.reviewer, reason="x")

    assert (
        fresh_line(line).outcome
        == f"The grant on {secret.key} was already removed; nothing changed."
    )
    with org_scope(acme):
        assert TimelineEvent.objects.filter(incident=secret, kind="access").count() == events_before


# — sign-off ———————————————————————————————————————————————————————————————————————————


def test_sign_off_waits_for_every_line_then_records_signer_time_and_hash(world, acme, admin, cora):
    campaign = start(acme)
    with pytest.raises(ValidationError, match="8 lines are still pending"):
        services.campaign_sign_off(campaign=campaign, actor=cora)

    _decide_all(campaign, admin, cora)
    signed = services.campaign_sign_off(campaign=campaign, actor=cora)

    assert signed.status == Campaign.Status.SIGNED_OFF
    assert signed.signed_off_by == cora
    assert signed.signed_off_at is not None
    assert signed.signed_hash == export.content_hash_of(signed)
    line = lines_of(campaign)[0]
    with pytest.raises(ValidationError, match="signed off"):
        services.line_revoke(line=line, actor=admin, reason="late")


def test_sign_off_is_refused_to_roles_without_manage_compliance(world, acme, admin, cora, manager):
    campaign = start(acme)
    _decide_all(campaign, admin, cora)

    with pytest.raises(PermissionDenied):
        services.campaign_sign_off(campaign=campaign, actor=manager)
    assert campaigns(acme)[0].status == Campaign.Status.OPEN


# — starting: by hand, by the schedule, twice at once ———————————————————————————————————————


def test_only_one_review_is_open_at_a_time(world, acme, cora):
    first = start(acme, actor=cora)

    with pytest.raises(services.CampaignAlreadyOpen) as refused:
        start(acme, actor=cora)
    assert refused.value.campaign == first
    assert len(campaigns(acme)) == 1


def test_a_responder_cannot_start_a_review(world, acme, responder):
    with pytest.raises(PermissionDenied):
        start(acme, actor=responder)
    assert campaigns(acme) == []


def test_the_schedule_starts_a_review_per_organisation_when_the_last_is_a_period_old(
    world, acme, globex, admin, cora, globex_admin, make_member
):
    globex_officer = make_member(globex, Role.COMPLIANCE, email="gina@globex.test").user
    now = timezone.now()
    assert services.start_due_campaigns(now=now) == 2  # neither had one
    assert services.start_due_campaigns(now=now + timedelta(days=1)) == 0  # open ones
    for org in (acme, globex):
        campaign = campaigns(org)[0]
        _decide_all(campaign, *((admin, cora) if org == acme else (globex_officer,)))
        services.campaign_sign_off(
            campaign=campaign, actor=admin if org == acme else globex_admin.user
        )

    assert services.start_due_campaigns(now=now + timedelta(days=60)) == 0
    assert services.start_due_campaigns(now=now + timedelta(days=93)) == 2
    assert [c.trigger for c in campaigns(acme)] == ["schedule", "schedule"]


def test_a_longer_period_waits_longer(world, acme, admin, cora):
    now = timezone.now()
    services.policy_save(
        organization=acme, actor=cora, period_months=6, due_days=14, remind_days_before=3
    )
    campaign = start(acme, now=now)
    _decide_all(campaign, admin, cora)
    services.campaign_sign_off(campaign=campaign, actor=admin)

    assert services.start_due_campaigns(now=now + timedelta(days=100)) == 0
    assert services.start_due_campaigns(now=now + timedelta(days=185)) == 1


def _at_once(function, count=2):
    barrier = threading.Barrier(count)
    results, errors = [], []
    context = contextvars.copy_context()

    def run():
        try:
            barrier.wait(timeout=30)
            results.append(context.copy().run(function))  # the test's own context
        except Exception as error:  # collected for the assertion
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors


@pytest.mark.django_db(transaction=True)
def test_two_starts_at_once_make_one_campaign(acme, admin, cora, responder):
    results, errors = _at_once(lambda: start(acme, actor=cora))

    assert len(results) == 1
    assert [type(error) for error in errors] == [services.CampaignAlreadyOpen]
    assert len(campaigns(acme)) == 1
    assert len(lines_of(campaigns(acme)[0])) == 3


@pytest.mark.django_db(transaction=True)
def test_two_scheduled_runs_at_once_start_one_campaign(acme, admin, cora):
    now = timezone.now()
    results, errors = _at_once(lambda: services.start_due_campaigns(now=now), count=3)

    assert errors == []
    assert sorted(results) == [0, 0, 1]
    assert len(campaigns(acme)) == 1


def test_revoking_a_groups_grant_removes_it_for_the_whole_group(world, acme, viewer):
    secret, _ = world
    group = Group.objects.create(name="Auditors")
    group.user_set.add(viewer)
    with scopes_disabled():
        assign_perm("view_incident", group, secret)
    campaign = start(acme)
    line = line_for(campaign, "group Auditors", kind=K.GROUP_GRANT)

    services.line_revoke(line=line, actor=line.reviewer, reason="Audit finished")

    from incidents.models import IncidentGroupObjectPermission

    assert not IncidentGroupObjectPermission.objects.filter(group=group).exists()
    assert fresh_line(line).outcome == f"Access to {secret.key} removed."
    with scopes_disabled():
        message = TimelineEvent.objects.filter(incident=secret, kind="access").latest("pk").message
    assert message == f"Access of Auditors revoked by {line.reviewer} (access review)"


def test_a_member_of_the_group_does_not_review_its_grant(world, acme, admin, cora):
    secret, _ = world
    group = Group.objects.create(name="Auditors")
    group.user_set.add(cora)
    with scopes_disabled():
        assign_perm("view_incident", group, secret)

    campaign = start(acme)

    line = line_for(campaign, "group Auditors", kind=K.GROUP_GRANT)
    assert line.reviewer == admin
    with pytest.raises(PermissionDenied, match="own access"):
        services.line_certify(line=line, actor=cora)
