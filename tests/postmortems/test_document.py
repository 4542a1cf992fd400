"""The post-mortem pages: the document with its computed impact, timeline, 5 Whys (with the
person warning), fishbone (SVG, escaped), tags, approvers and review buttons; the blameless
check; wrong inputs; the incident page's post-mortem line; and visibility (another tenant and
a restricted incident get 404 on every URL)."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled
from guardian.shortcuts import assign_perm

from incidents.models import ImpactPeriod
from postmortems import blameless, fishbone, services
from postmortems.models import FishboneCause, PostMortem, Tag, WhyStep
from postmortems.urls_document import urlpatterns
from tenancy.scoping import org_scope
from tests.postmortems import test_policy_support as support
from tests.postmortems.test_policy_support import (
    fill,
    fresh_pm,
    postmortem_of,
    resolved,
)

pytestmark = pytest.mark.django_db

# Fixtures shared by the post-mortem core tests.
mona = support.mona
oscar = support.oscar
rita = support.rita
vera = support.vera

PEOPLE = [("Rita Ramos", "rita@acme.test"), ("Oscar Olsen", "oscar@acme.test")]


@pytest.fixture
def postmortem(acme, rita):
    return postmortem_of(resolved(acme, rita, title="Card payments fail"))


def url(postmortem, view="postmortem_detail", **kwargs):
    return reverse(
        f"postmortems:{view}",
        kwargs={"org_slug": "acme", "key": postmortem.incident.key, **kwargs},
    )


# — the blameless check and the 5-Whys warning ——————————————————————————————————————————


@pytest.mark.parametrize(
    "sentence",
    [
        "Rita forgot to renew the certificate.",
        "The deploy was run by rita@acme.test without review.",
        "Oscar Olsen pushed the config.",
        "Bob didn't check the diff before merging.",
        "He failed to follow the runbook.",
        "The on-call engineer ignored the alert.",
        "The outage was caused by human error.",
    ],
)
def test_sentences_that_name_a_person_as_the_cause_are_warned_about(sentence):
    warnings = blameless.check(f"Traffic rose at 14:00. {sentence}", people=PEOPLE)

    assert [w.sentence for w in warnings] == [sentence]


@pytest.mark.parametrize(
    "text",
    [
        "The deploy pipeline has no canary stage.",
        "Redis didn't respond within 5 s, so the pool filled up.",
        "The runbook did not mention the second data centre.",
        "Max connections was set to 100 by default.",
    ],
)
def test_sentences_about_the_process_and_the_system_pass(text):
    assert blameless.check(text, people=PEOPLE) == []


def test_the_chain_that_stops_at_a_person_gets_the_warning(postmortem, rita):
    with org_scope(postmortem.organization_id):
        services.why_add(
            postmortem=postmortem, actor=rita, why="Why did it fail?", because="A bad release."
        )
        assert services.why_warning(postmortem) == ""
        services.why_add(
            postmortem=postmortem,
            actor=rita,
            why="Why was the release bad?",
            because="Oscar forgot to run the tests.",
        )
        assert services.why_warning(postmortem).startswith("The chain stops at a person.")
        services.why_add(
            postmortem=postmortem,
            actor=rita,
            why="Why could tests be skipped?",
            because="The pipeline does not require them before a deploy.",
        )
        assert services.why_warning(postmortem) == ""


def test_whys_are_reordered_and_renumbered(postmortem, rita):
    with org_scope(postmortem.organization_id):
        steps = [
            services.why_add(postmortem=postmortem, actor=rita, why=f"Why {n}?", because=f"B{n}")
            for n in (1, 2, 3)
        ]
        services.why_move(postmortem=postmortem, actor=rita, step_id=steps[2].pk, direction="up")
        services.why_remove(postmortem=postmortem, actor=rita, step_id=steps[0].pk)
        chain = list(WhyStep.objects.filter(postmortem=postmortem).values_list("position", "why"))

    assert chain == [(1, "Why 3?"), (2, "Why 2?")]


# — fishbone —————————————————————————————————————————————————————————————————————————————


def test_the_fishbone_svg_shows_each_cause_escaped(postmortem, rita):
    with org_scope(postmortem.organization_id):
        services.cause_add(
            postmortem=postmortem, actor=rita, category="technology", text="<script>x</script>"
        )
        services.cause_add(
            postmortem=postmortem, actor=rita, category="process", text="No canary & no gate"
        )
        causes = list(FishboneCause.objects.filter(postmortem=postmortem))

    svg = fishbone.render_svg(causes, effect="Card payments fail")

    assert "&lt;script&gt;x&lt;/script&gt;" in svg
    assert "<script>" not in svg
    assert "No canary &amp; no gate" in svg


def test_a_cause_needs_a_known_category_and_text(postmortem, rita):
    with org_scope(postmortem.organization_id):
        with pytest.raises(services.ValidationError, match="six categories"):
            services.cause_add(postmortem=postmortem, actor=rita, category="luck", text="x")
        with pytest.raises(services.ValidationError, match="cannot be empty"):
            services.cause_add(postmortem=postmortem, actor=rita, category="people", text=" ")


# — the page ———————————————————————————————————————————————————————————————————————————


def test_the_page_shows_the_document_impact_warnings_and_the_diagram(
    postmortem, rita, oscar, login
):
    with scopes_disabled():
        period = ImpactPeriod.objects.get(incident=postmortem.incident)
        ImpactPeriod.objects.filter(pk=period.pk).update(
            ended_at=period.started_at + timedelta(minutes=72)
        )
    with org_scope(postmortem.organization_id):
        services.postmortem_update(
            postmortem=postmortem,
            actor=rita,
            changes={"summary": "Oscar forgot to renew the certificate."},
        )
        services.why_add(
            postmortem=postmortem, actor=rita, why="Why?", because="Oscar skipped the checklist."
        )
        services.cause_add(postmortem=postmortem, actor=rita, category="process", text="No gate")

    page = login(rita).get(url(postmortem)).content.decode()

    assert "Measured impact:</strong> 1 h 12 min" in page
    assert 'data-testid="blameless-summary"' in page
    assert "names Oscar" in page
    assert 'data-testid="why-warning"' in page
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in page
    assert "No gate" in page
    assert "Missing: summary" not in page  # the summary is written
    assert "Missing: customer or business impact" in page
    assert "Declared SEV-2: Card payments fail" in page  # the imported timeline


def test_editing_the_sections_through_the_form(postmortem, rita, oscar, login):
    client = login(rita)
    assert client.get(url(postmortem, "postmortem_edit")).status_code == 200

    response = client.post(
        url(postmortem, "postmortem_edit"),
        {"title": "Card payments failed", "summary": "The release broke card payments.",
         "owner": oscar.pk},
    )  # fmt: skip

    assert response.status_code == 302
    stored = fresh_pm(postmortem)
    assert (stored.title, stored.summary, stored.owner) == (
        "Card payments failed",
        "The release broke card payments.",
        oscar,
    )


def test_the_edit_form_refuses_wrong_shapes(postmortem, rita, login):
    response = login(rita).post(
        url(postmortem, "postmortem_edit"),
        {"title": "", "summary": "x" * 20_001, "owner": "999999"},
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "This field is required." in page
    assert "Ensure this value has at most 20000 characters" in page
    assert "Select a valid choice" in page
    assert fresh_pm(postmortem).summary == ""


def test_the_timeline_is_edited_row_by_row_and_reimported(postmortem, rita, login):
    client = login(rita)
    imported = len(postmortem.timeline)

    client.post(url(postmortem, "timeline_add"), {"at": "2026-11-20T09:00", "text": "Cert expired"})
    stored = fresh_pm(postmortem)
    assert stored.timeline[0]["text"] == "Cert expired"  # sorted: it is the earliest
    assert stored.timeline[0]["source"] == "added"

    client.post(
        url(postmortem, "timeline_row", index=0), {"at": "2026-11-20T09:05", "text": "Cert gone"}
    )
    assert fresh_pm(postmortem).timeline[0]["text"] == "Cert gone"
    client.post(url(postmortem, "timeline_row", index=1), {"action": "remove"})
    assert len(fresh_pm(postmortem).timeline) == imported

    client.post(url(postmortem, "timeline_reimport"))
    texts = [row["text"] for row in fresh_pm(postmortem).timeline]
    assert "Cert gone" in texts
    assert len(texts) > imported


@pytest.mark.parametrize(
    "data", [{"at": "yesterday", "text": "x"}, {"at": "2026-11-20T09:00", "text": ""}]
)
def test_a_timeline_row_needs_a_time_and_a_text(postmortem, rita, login, data):
    before = fresh_pm(postmortem).timeline

    response = login(rita).post(url(postmortem, "timeline_add"), data, follow=True)

    assert fresh_pm(postmortem).timeline == before
    assert 'class="message error"' in response.content.decode()


def test_tags_are_picked_or_created_by_name(postmortem, rita, login, globex):
    existing = Tag.objects.create(organization=postmortem.organization, name="TLS", slug="tls")
    foreign = Tag.objects.create(organization=globex, name="Grid", slug="grid")
    client = login(rita)

    client.post(
        url(postmortem, "tags_set"), {"tags": [existing.pk], "new_tags": "Certificates, tls"}
    )
    with scopes_disabled():
        assert sorted(t.name for t in fresh_pm(postmortem).tags.all()) == ["Certificates", "TLS"]

    client.post(url(postmortem, "tags_set"), {"tags": [foreign.pk]})
    with scopes_disabled():
        assert fresh_pm(postmortem).tags.count() == 2  # another organisation's tag is refused


def test_the_review_buttons_say_what_is_missing_then_work(postmortem, rita, oscar, login):
    client = login(rita)
    page = client.get(url(postmortem)).content.decode()
    assert re.search(r"Missing: summary, customer or business impact, detection", page)

    filled = fill(postmortem, rita, approver=oscar)
    response = client.post(url(filled, "postmortem_transition", name="submit"))
    assert response.status_code == 302
    assert fresh_pm(postmortem).status == PostMortem.Status.IN_REVIEW

    login(oscar)
    page = client.get(url(postmortem)).content.decode()
    assert 'data-testid="verdict-form"' in page
    client.post(url(postmortem, "postmortem_verdict"), {"approve": "yes"})
    login(rita)
    client.post(url(postmortem, "postmortem_transition", name="publish"))
    assert fresh_pm(postmortem).status == PostMortem.Status.PUBLISHED


def test_review_held_is_recorded_once(postmortem, rita, login):
    client = login(rita)
    client.post(url(postmortem, "review_held"))
    held = fresh_pm(postmortem).review_held_at

    response = client.post(url(postmortem, "review_held"), follow=True)

    assert held is not None
    assert fresh_pm(postmortem).review_held_at == held
    assert "already marked as held" in response.content.decode()


def test_a_viewer_reads_but_changes_nothing(postmortem, vera, login):
    client = login(vera)
    assert client.get(url(postmortem)).status_code == 200
    assert "Edit the document" not in client.get(url(postmortem)).content.decode()

    for name, kwargs in [("why_add", {}), ("postmortem_edit", {}), ("review_held", {})]:
        assert (
            client.post(url(postmortem, name, **kwargs), {"why": "a", "because": "b"}).status_code
            == 403
        )
    with scopes_disabled():
        assert not WhyStep.objects.exists()
    assert fresh_pm(postmortem).review_held_at is None


# — the incident page ——————————————————————————————————————————————————————————————————


def test_the_incident_page_shows_the_decision_and_links_the_post_mortem(postmortem, rita, login):
    page = login(rita).get(f"/o/acme/incidents/{postmortem.incident.key}/").content.decode()

    assert 'data-testid="postmortem-decision"' in page
    assert "SEV-2 is at or above the policy" in page
    assert url(postmortem) in page


def test_the_incident_page_requests_a_post_mortem(acme, rita, login):
    from tests.incidents.factories import declare

    incident = declare(acme, rita)
    client = login(rita)
    assert (
        "Request a post-mortem" in client.get(f"/o/acme/incidents/{incident.key}/").content.decode()
    )

    client.post(url_for_request(incident), {"reason": "A near miss"})

    page = client.get(f"/o/acme/incidents/{incident.key}/").content.decode()
    assert "Requested by Rita Ramos: A near miss" in page


def url_for_request(incident):
    return reverse(
        "postmortems:postmortem_request", kwargs={"org_slug": "acme", "key": incident.key}
    )


# — visibility ——————————————————————————————————————————————————————————————————————————


GET_VIEWS = {"postmortem_detail", "postmortem_edit"}


def _every_url(postmortem):
    """(url, whether it answers GET) for every document URL of the post-mortem's incident."""
    sample = {"index": 0, "pk": 1, "name": "submit"}
    for pattern in urlpatterns:
        route = str(pattern.pattern)
        if "<str:key>" not in route:
            continue
        names = set(re.findall(r"<(?:\w+:)?(\w+)>", route)) - {"key"}
        yield url(postmortem, pattern.name, **{n: sample[n] for n in names}), pattern.name


def test_another_tenant_gets_404_on_every_url(postmortem, globex_admin, login):
    client = login(globex_admin.user)
    addresses = [address for address, _ in _every_url(postmortem)]
    assert len(addresses) == len(urlpatterns) - 2  # all but the index and the policy page
    for address in [*addresses, "/o/acme/postmortems/", "/o/acme/postmortems/policy/"]:
        for method in (client.get, client.post):
            assert method(address).status_code == 404, address


def test_a_restricted_incidents_post_mortem_is_404_for_those_without_access(
    postmortem, rita, oscar, login
):
    with scopes_disabled():
        type(postmortem.incident).objects.filter(pk=postmortem.incident_id).update(
            is_restricted=True
        )
    client = login(oscar)
    for address, view in _every_url(postmortem):
        assert client.post(address).status_code == 404, address
        # POST-only views answer 405 to any GET, whatever the key: nothing is revealed.
        assert client.get(address).status_code == (404 if view in GET_VIEWS else 405), address

    with scopes_disabled():
        assign_perm("incidents.view_incident", oscar, postmortem.incident)
    assert client.get(url(postmortem)).status_code == 200


def test_an_incident_without_a_post_mortem_is_404(acme, rita, login):
    from tests.incidents.factories import declare

    incident = declare(acme, rita)

    response = login(rita).get(f"/o/acme/postmortems/{incident.key}/")

    assert response.status_code == 404
