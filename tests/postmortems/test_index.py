"""The post-mortems index: what the reader may see, by status, overdue reviews, paging."""

import datetime as dt

from django.utils import timezone
from django_scopes import scopes_disabled

from postmortems.models import PostMortem
from tests.postmortems.test_kb_support import postmortem, resolved_incident


def keys(response) -> list[str]:
    return [pm.incident.key for pm in response.context["page"].object_list]


def test_the_index_lists_what_the_reader_may_see_with_filters(
    acme, globex, responder, admin, stranger, login
):
    published = postmortem(resolved_incident(acme, responder, "Checkout down"))
    draft = postmortem(
        resolved_incident(acme, responder, "Ledger late"), status=PostMortem.Status.DRAFT
    )
    secret = postmortem(
        resolved_incident(acme, admin, "Breach at BigBank", is_restricted=True),
        status=PostMortem.Status.DRAFT,
    )
    postmortem(resolved_incident(globex, stranger, "Globex outage"))
    with scopes_disabled():
        PostMortem.objects.filter(pk=draft.pk).update(
            review_due_at=timezone.now() - dt.timedelta(hours=1), owner=responder
        )
    client = login(responder)
    page = client.get("/o/acme/postmortems/")
    assert page.status_code == 200
    assert sorted(keys(page)) == sorted([published.incident.key, draft.incident.key])
    assert "Breach at BigBank" not in page.content.decode()
    assert "Globex outage" not in page.content.decode()
    assert keys(client.get("/o/acme/postmortems/?show=overdue")) == [draft.incident.key]
    assert keys(client.get("/o/acme/postmortems/?show=mine")) == [draft.incident.key]
    assert keys(client.get("/o/acme/postmortems/?show=published")) == [published.incident.key]
    assert keys(client.get("/o/acme/postmortems/?show=open")) == [draft.incident.key]
    assert len(keys(client.get("/o/acme/postmortems/?show=<bogus>"))) == 2  # unknown: all
    empty = client.get("/o/acme/postmortems/?show=in_review")
    assert "No post-mortems match" in empty.content.decode()
    assert secret.incident.key in keys(login(admin).get("/o/acme/postmortems/"))


def test_the_index_is_404_for_another_organisation(acme, stranger, login):
    assert login(stranger).get("/o/acme/postmortems/").status_code == 404
