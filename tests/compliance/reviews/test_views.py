"""The access-review pages: admins and compliance only (everyone else, and other organisations,
get 404 and change nothing); start, filter, certify in bulk, revoke — after which the person's
very next request is refused — sign off, the schedule form, big organisations paginated."""

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from compliance.reviews.models import Campaign, ReviewLine, ReviewPolicy
from incidents.models import IncidentUserObjectPermission
from tenancy.models import AuditEntry, Membership
from tenancy.roles import Role
from tests.compliance.reviews.conftest import campaigns, fresh_line, line_for, start
from tests.conftest import StrictClient
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

D = ReviewLine.Decision


def url(name, **kwargs):
    return reverse(f"compliance_reviews:{name}", kwargs={"org_slug": "acme", **kwargs})


def client_of(user) -> StrictClient:
    client = StrictClient()
    assert client.login(username=user.email, password=PASSWORD)
    return client


@pytest.fixture
def review(world, acme):
    return start(acme)


def every_url(campaign, line):
    return [
        url("campaign_list"),
        url("campaign_start"),
        url("my_reviews"),
        url("policy_edit"),
        url("campaign_detail", pk=campaign.pk),
        url("lines_certify", pk=campaign.pk),
        url("campaign_sign_off", pk=campaign.pk),
        url("campaign_pdf", pk=campaign.pk),
        url("line_revoke", pk=campaign.pk, line_pk=line.pk),
        url("line_reassign", pk=campaign.pk, line_pk=line.pk),
    ]


# — who may see the pages ————————————————————————————————————————————————————————————————


@pytest.mark.parametrize("role", [Role.VIEWER, Role.RESPONDER, Role.MANAGER])
def test_roles_without_manage_compliance_get_404_and_change_nothing(
    review, acme, make_member, role
):
    line = line_for(review, "rita@acme.test")
    client = client_of(make_member(acme, role).user)

    for address in every_url(review, line):
        assert client.get(address).status_code == 404, address
        response = client.post(
            address, {"line": [line.pk], "reason": "x", "action": "remove", "period_months": 1}
        )
        assert response.status_code == 404, address
    assert fresh_line(line).decision == D.PENDING
    assert len(campaigns(acme)) == 1
    with scopes_disabled():
        assert Membership.objects.filter(user=line.user).exists()
        assert not ReviewPolicy.objects.exists()


def test_another_organisations_admin_gets_404_even_on_their_own_org_url(review, globex_admin, acme):
    line = line_for(review, "rita@acme.test")
    client = client_of(globex_admin.user)

    for address in every_url(review, line):
        assert client.get(address).status_code == 404
        assert client.post(address, {"line": [line.pk], "reason": "x"}).status_code == 404
    # acme's campaign through globex's own pages: not found either
    own = reverse(
        "compliance_reviews:campaign_detail", kwargs={"org_slug": "globex", "pk": review.pk}
    )
    assert client.get(own).status_code == 404
    own_revoke = reverse(
        "compliance_reviews:line_revoke",
        kwargs={"org_slug": "globex", "pk": review.pk, "line_pk": line.pk},
    )
    assert client.post(own_revoke, {"reason": "x", "action": "remove"}).status_code == 404
    assert fresh_line(line).decision == D.PENDING


@pytest.mark.parametrize("email", ["admin@acme.test", "cora@acme.test"])
def test_admins_and_compliance_see_the_pages(review, email):
    with scopes_disabled():
        user = Membership.objects.get(user__email=email).user
    client = client_of(user)

    listing = client.get(url("campaign_list"))
    detail = client.get(url("campaign_detail", pk=review.pk))

    assert listing.status_code == 200
    assert b"0 of 8" in listing.content
    assert detail.status_code == 200
    assert b"0 of 8 decided (0 %)" in detail.content
    assert b"rita@acme.test" in detail.content


# — start, list, empty states ——————————————————————————————————————————————————————————————


def test_the_empty_list_explains_and_the_button_starts_a_review(world, acme, cora):
    client = client_of(cora)
    empty = client.get(url("campaign_list"))
    assert b"No access reviews yet" in empty.content
    assert b"Start a review now" in empty.content

    response = client.post(url("campaign_start"))

    campaign = campaigns(acme)[0]
    assert response.status_code == 302
    assert response["Location"] == url("campaign_detail", pk=campaign.pk)
    assert campaign.started_by == cora
    assert b"Start a review now" not in client.get(url("campaign_list")).content


def test_starting_while_one_is_open_says_so(review, acme, cora):
    client = client_of(cora)

    response = client.post(url("campaign_start"), follow=True)

    assert b"already open" in response.content
    assert len(campaigns(acme)) == 1


# — the detail page: filters, bulk certify ————————————————————————————————————————————————————


def test_lines_filter_by_reviewer_decision_and_kind(review, cora):
    client = client_of(cora)
    base = url("campaign_detail", pk=review.pk)

    grants = client.get(base, {"kind": "grant"}).content
    assert b"Can see" in grants
    assert b"Member as" not in grants
    mine = client.get(base, {"reviewer": cora.pk}).content
    with scopes_disabled():
        for line in ReviewLine.objects.filter(campaign=review):
            shown = f'id="line-{line.pk}"'.encode() in mine
            assert shown == (line.reviewer_id == cora.pk)
    assert b"No lines match these filters" in client.get(base, {"decision": "revoked"}).content
    bad = client.get(base, {"decision": "maybe"})
    assert bad.status_code == 200
    assert b"Select a valid choice" in bad.content


def test_bulk_certify_certifies_only_what_was_selected(review, cora):
    client = client_of(cora)
    with scopes_disabled():
        mine = list(ReviewLine.objects.filter(campaign=review, reviewer=cora).order_by("pk"))

    response = client.post(url("lines_certify", pk=review.pk), {"line": [mine[0].pk]})

    assert response.status_code == 302
    assert fresh_line(mine[0]).decision == D.CERTIFIED
    assert all(fresh_line(line).decision == D.PENDING for line in mine[1:])


def test_certify_all_shown_and_nothing_selected(review, cora):
    client = client_of(cora)
    with scopes_disabled():
        mine = list(ReviewLine.objects.filter(campaign=review, reviewer=cora))

    nothing = client.post(url("lines_certify", pk=review.pk), {}, follow=True)
    assert b"Select at least one line" in nothing.content
    client.post(
        url("lines_certify", pk=review.pk), {"all": "1", "shown": [line.pk for line in mine]}
    )
    assert all(fresh_line(line).decision == D.CERTIFIED for line in mine)


def test_a_foreign_next_is_ignored(review, cora):
    client = client_of(cora)
    line = line_for(review, "rita@acme.test")

    response = client.post(
        url("lines_certify", pk=review.pk), {"line": [line.pk], "next": "https://evil.test/"}
    )

    assert response["Location"] == url("campaign_detail", pk=review.pk)


# — revoke: effective at the person's next request ——————————————————————————————————————————


def test_after_a_membership_is_revoked_the_persons_next_request_gets_404(review, acme, responder):
    line = line_for(review, "rita@acme.test")
    rita = client_of(responder)
    assert rita.get("/o/acme/incidents/").status_code == 200

    reviewer = client_of(line.reviewer)
    response = reviewer.post(
        url("line_revoke", pk=review.pk, line_pk=line.pk),
        {"action": "remove", "reason": "Left the company"},
    )

    assert response.status_code == 302
    assert rita.get("/o/acme/incidents/").status_code == 404
    with scopes_disabled():
        entry = AuditEntry.objects.get(content_type__model="membership", action=2)
    assert entry.actor == line.reviewer  # the audit trail names the reviewer
    assert fresh_line(line).decided_by == line.reviewer


def test_after_a_grant_is_revoked_the_restricted_incident_is_404_for_that_person(
    review, world, other_responder
):
    secret, _ = world
    line = line_for(review, "oscar@acme.test", kind=ReviewLine.Kind.GRANT)
    oscar = client_of(other_responder)
    incident_url = f"/o/acme/incidents/{secret.key}/"
    assert oscar.get(incident_url).status_code == 200

    client_of(line.reviewer).post(
        url("line_revoke", pk=review.pk, line_pk=line.pk),
        {"action": "remove", "reason": "Off the case"},
    )

    assert oscar.get(incident_url).status_code == 404
    assert oscar.get("/o/acme/incidents/").status_code == 200  # still a member
    assert not IncidentUserObjectPermission.objects.filter(
        user=other_responder, content_object=secret
    ).exists()


def test_lowering_a_role_through_the_form(review, acme, manager):
    line = line_for(review, "max@acme.test")
    client = client_of(line.reviewer)

    form = client.get(url("line_revoke", pk=review.pk, line_pk=line.pk))
    assert b'value="viewer"' in form.content
    assert b'value="admin"' not in form.content
    client.post(
        url("line_revoke", pk=review.pk, line_pk=line.pk),
        {
            "action": "lower",
            "new_role": "viewer",
            "reason": "Reads only",
            "expected_role": "manager",
        },
    )

    with scopes_disabled():
        assert Membership.objects.get(organization=acme, user=manager).role == Role.VIEWER
    assert client_of(manager).get("/o/acme/incidents/new/").status_code in (403, 404)


def test_the_revoke_form_explains_errors_and_changes_nothing(review, acme, manager):
    line = line_for(review, "max@acme.test")
    client = client_of(line.reviewer)

    no_reason = client.post(
        url("line_revoke", pk=review.pk, line_pk=line.pk), {"action": "remove", "reason": ""}
    )
    no_role = client.post(
        url("line_revoke", pk=review.pk, line_pk=line.pk), {"action": "lower", "reason": "x"}
    )

    assert no_reason.status_code == 200
    assert b"This field is required." in no_reason.content
    assert b"Choose the lower role." in no_role.content
    assert fresh_line(line).decision == D.PENDING
    with scopes_disabled():
        assert Membership.objects.get(organization=acme, user=manager).role == Role.MANAGER


def test_a_reviewer_cannot_revoke_their_own_line_through_the_page(review, cora):
    line = line_for(review, "cora@acme.test")
    client = client_of(cora)

    page = client.get(url("line_revoke", pk=review.pk, line_pk=line.pk))
    posted = client.post(
        url("line_revoke", pk=review.pk, line_pk=line.pk), {"action": "remove", "reason": "x"}
    )

    assert b"Revoke now" not in page.content
    assert b"own access" in posted.content
    assert fresh_line(line).decision == D.PENDING


# — my pending reviews, sign-off, schedule ————————————————————————————————————————————————————


def test_my_pending_reviews_lists_only_my_pending_lines(review, cora, admin):
    client = client_of(cora)
    with scopes_disabled():
        mine = list(ReviewLine.objects.filter(campaign=review, reviewer=cora))
        others = list(ReviewLine.objects.filter(campaign=review).exclude(reviewer=cora))
    client.post(url("lines_certify", pk=review.pk), {"line": [mine[0].pk]})

    content = client.get(url("my_reviews")).content

    for line in mine[1:]:
        assert f'id="line-{line.pk}"'.encode() in content
    assert f'id="line-{mine[0].pk}"'.encode() not in content
    for line in others:
        assert f'id="line-{line.pk}"'.encode() not in content


def test_my_pending_reviews_empty_state(world, cora):
    assert b"Nothing waits for you" in client_of(cora).get(url("my_reviews")).content


def test_sign_off_through_the_page(review, admin, cora):
    client = client_of(cora)
    early = client.post(url("campaign_sign_off", pk=review.pk), follow=True)
    assert b"still pending" in early.content

    with scopes_disabled():
        lines = list(ReviewLine.objects.filter(campaign=review))
    for line in lines:
        client_of(line.reviewer).post(url("lines_certify", pk=review.pk), {"line": [line.pk]})
    done = client.get(url("campaign_detail", pk=review.pk))
    assert b"Sign off the review" in done.content
    client.post(url("campaign_sign_off", pk=review.pk))

    signed = campaigns(review.organization)[0]
    assert signed.status == Campaign.Status.SIGNED_OFF
    assert signed.signed_off_by == cora
    page = client.get(url("campaign_detail", pk=review.pk)).content
    assert signed.signed_hash.encode() in page
    assert b"decisions unchanged since the sign-off" in page
    with scopes_disabled():
        ReviewLine.objects.filter(pk=lines[0].pk).update(reason="rewritten afterwards")
    tampered = client.get(url("campaign_detail", pk=review.pk)).content
    assert b"the decisions no longer match the signed hash" in tampered


def test_the_schedule_form_saves_and_refuses_nonsense(world, acme, cora):
    client = client_of(cora)

    bad = client.post(
        url("policy_edit"), {"period_months": 0, "due_days": 5, "remind_days_before": 9}
    )
    assert bad.status_code == 200
    assert b"Ensure this value is greater than or equal to 1." in bad.content
    reminder_late = client.post(
        url("policy_edit"), {"period_months": 3, "due_days": 5, "remind_days_before": 9}
    )
    assert b"Remind before the due date" in reminder_late.content
    with scopes_disabled():
        assert not ReviewPolicy.objects.exists()
    good = client.post(
        url("policy_edit"), {"period_months": 6, "due_days": 10, "remind_days_before": 2}
    )
    assert good.status_code == 302
    with scopes_disabled():
        policy = ReviewPolicy.objects.get(organization=acme)
    assert (policy.period_months, policy.due_days, policy.remind_days_before) == (6, 10, 2)


# — big organisations ——————————————————————————————————————————————————————————————————————


def test_a_big_review_is_paginated_with_constant_queries(
    acme, admin, cora, make_member, django_assert_max_num_queries
):
    for n in range(70):
        make_member(acme, Role.RESPONDER, email=f"member{n:02d}@acme.test")
    campaign = start(acme)
    client = client_of(cora)

    with django_assert_max_num_queries(20):
        first = client.get(url("campaign_detail", pk=campaign.pk))
    assert b"Page 1 of 2" in first.content
    second = client.get(url("campaign_detail", pk=campaign.pk), {"page": 2})
    assert b"member47@acme.test" in first.content  # admin, cora, then member00 … member47
    assert b"member48@acme.test" not in first.content
    assert b"member69@acme.test" in second.content
    with django_assert_max_num_queries(20):
        client.get(url("my_reviews"))
    with django_assert_max_num_queries(16):
        client.get(url("campaign_list"))


def test_an_admin_gives_a_flagged_line_to_a_new_reviewer_on_its_page(acme, admin, make_member):
    campaign = start(acme)
    flagged = line_for(campaign, "admin@acme.test")
    newcomer = make_member(acme, Role.COMPLIANCE, email="nina@acme.test").user
    client = client_of(admin)

    page = client.get(url("line_revoke", pk=campaign.pk, line_pk=flagged.pk)).content
    assert b"Give this line to another reviewer" in page
    assert b"Revoke now" not in page  # it is the admin's own access
    response = client.post(
        url("line_reassign", pk=campaign.pk, line_pk=flagged.pk), {"reviewer": newcomer.pk}
    )

    assert response.status_code == 302
    assert fresh_line(flagged).reviewer == newcomer
    refused = client.post(
        url("line_reassign", pk=campaign.pk, line_pk=flagged.pk), {"reviewer": admin.pk}
    )
    assert refused.status_code == 302
    assert fresh_line(flagged).reviewer == newcomer
