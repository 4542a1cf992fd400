"""Action-item pages: the panel on the post-mortem page, add / status / edit, the org-wide list
(filters, pagination, CSV), "my action items" and the completion-rate page — with
permissions, restricted visibility and another tenant's 404 on every URL."""

import csv
import datetime as dt
import io

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse
from django_scopes import scopes_disabled

from postmortems.models import ActionItem
from tenancy.scoping import org_scope
from tests.factories import TeamFactory
from tests.postmortems.test_actions_support import (
    BERLIN,
    fresh,
    make_item,
    make_postmortem,
    timeline,
)

pytestmark = pytest.mark.django_db

D = dt.date
S = ActionItem.Status


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    monkeypatch.setattr("incidents.notify._enqueue", lambda *args: None)


@pytest.fixture
def pm(acme, responder):
    return make_postmortem(acme, responder)


@pytest.fixture
def secret(acme, admin):
    """A post-mortem of a restricted incident Rita is not granted."""
    return make_postmortem(acme, admin, title="Card data exposure", is_restricted=True)


def url(name, **kwargs):
    return reverse(f"postmortems:{name}", kwargs={"org_slug": "acme", **kwargs})


def count_items():
    with scopes_disabled():
        return ActionItem.objects.count()


TODAY = dt.datetime.now(tz=BERLIN).date()  # acme's calendar
FAR = TODAY + dt.timedelta(days=60)
PAST = TODAY - dt.timedelta(days=3)


# — the panel and adding ——————————————————————————————————————————————————————————


def render_panel(acme, user, membership, postmortem):
    request = RequestFactory().get("/o/acme/postmortems/1/")
    request.user, request.org, request.membership = user, acme, membership
    with org_scope(acme):
        return Template("{% load postmortems_actions %}{% action_items_panel pm %}").render(
            Context({"pm": postmortem, "request": request})
        )


def test_the_panel_lists_items_with_overdue_marked_and_offers_the_add_form(
    acme, pm, responder, viewer
):
    make_item(pm, title="Add a canary", owner=responder, due_date=PAST, priority="p1",
              ticket_url="https://tracker.example/OPS-1", ticket_key="OPS-1")  # fmt: skip
    make_item(pm, title="Write the runbook", due_date=FAR)
    make_item(pm, title="Finished first", due_date=PAST, status=S.DONE)
    with scopes_disabled():
        membership = responder.memberships.get()
        viewer_membership = viewer.memberships.get()
    html = render_panel(acme, responder, membership, pm)
    # Unfinished first, by due date; finished ones last.
    order = [
        html.index(f">{t}</a>") for t in ("Add a canary", "Write the runbook", "Finished first")
    ]
    assert order == sorted(order)
    assert "Add a canary" in html
    assert "Write the runbook" in html
    assert html.count('class="ai-overdue"') == 1
    assert ">overdue</span>" in html
    assert 'href="https://tracker.example/OPS-1"' in html
    assert ">OPS-1</a>" in html
    assert "Add an action item" in html
    assert 'name="status" value="done"' in html
    as_viewer = render_panel(acme, viewer, viewer_membership, pm)
    assert "Add an action item" not in as_viewer
    assert 'value="done"' not in as_viewer  # not theirs, and viewers may not update


def test_the_empty_panel_explains_what_belongs_there(acme, pm, responder):
    with scopes_disabled():
        membership = responder.memberships.get()
    assert "No action items yet" in render_panel(acme, responder, membership, pm)


def form_data(**overrides):
    data = {"title": "Alert on error rate", "priority": "p2", "kind": "detect",
            "due_date": FAR.isoformat(), "next": "/o/acme/incidents/"}  # fmt: skip
    data.update(overrides)
    return data


def test_adding_with_a_plain_form_redirects_back(acme, login, pm, responder):
    response = login(responder).post(
        url("action_item_create", postmortem_pk=pm.pk), form_data(owner=responder.pk)
    )
    assert response.status_code == 302
    assert response["Location"] == "/o/acme/incidents/"
    with scopes_disabled():
        item = ActionItem.objects.get()
    assert (item.title, item.owner, item.kind, item.due_date) == (
        "Alert on error rate",
        responder,
        "detect",
        FAR,
    )
    assert len(timeline(pm.incident)) == 1


def test_adding_with_htmx_returns_the_panel_and_errors_keep_the_input(login, pm, responder):
    client = login(responder)
    response = client.post(
        url("action_item_create", postmortem_pk=pm.pk),
        form_data(due_date=PAST.isoformat(), ticket_url="javascript:alert(1)"),
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert f'id="action-items-{pm.pk}"' in body
    assert "in the past" not in body  # the form refused the URL first
    assert "Enter a valid URL" in body or "Only http" in body
    assert 'value="Alert on error rate"' in body
    assert count_items() == 0
    response = client.post(
        url("action_item_create", postmortem_pk=pm.pk),
        form_data(due_date=PAST.isoformat()),
        HTTP_HX_REQUEST="true",
    )
    assert "The due date is in the past" in response.content.decode()
    assert count_items() == 0
    response = client.post(
        url("action_item_create", postmortem_pk=pm.pk), form_data(), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert "Alert on error rate</a>" in response.content.decode()
    assert count_items() == 1


def test_the_plain_add_form_shows_errors_with_the_input_kept(login, pm, responder):
    response = login(responder).post(
        url("action_item_create", postmortem_pk=pm.pk),
        form_data(title="", ticket_key="K" * 51),
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "This field is required." in body
    assert "Ensure this value has at most 50 characters" in body
    assert count_items() == 0


def test_a_viewer_may_not_add_and_nothing_is_stored(login, pm, viewer):
    response = login(viewer).post(url("action_item_create", postmortem_pk=pm.pk), form_data())
    assert response.status_code == 403
    assert count_items() == 0


def test_a_restricted_post_mortem_is_not_found_for_people_who_may_not_see_it(
    login, secret, responder, client
):
    response = login(responder).post(
        url("action_item_create", postmortem_pk=secret.pk), form_data()
    )
    assert response.status_code == 404
    assert count_items() == 0


# — status and edit ————————————————————————————————————————————————————————————————


def test_quick_status_buttons_work_for_the_owner_even_a_viewer(login, pm, viewer):
    item = make_item(pm, owner=viewer, due_date=FAR)
    client = login(viewer)
    response = client.post(
        url("action_item_status", pk=item.pk), {"status": "done", "next": "/o/acme/"}
    )
    assert (response.status_code, response["Location"]) == (302, "/o/acme/")
    assert fresh(item).status == S.DONE
    assert fresh(item).completed_at is not None


def test_someone_elses_item_is_refused_to_a_viewer_and_unchanged(login, pm, viewer, responder):
    item = make_item(pm, owner=responder, due_date=FAR)
    response = login(viewer).post(url("action_item_status", pk=item.pk), {"status": "done"})
    assert response.status_code == 403
    assert fresh(item).status == S.OPEN


def test_status_by_htmx_returns_the_panel_with_the_change(login, pm, responder):
    item = make_item(pm, owner=responder, due_date=FAR)
    response = login(responder).post(
        url("action_item_status", pk=item.pk),
        {"status": "in_progress", "panel": "1"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert 'class="pill ai-status-in_progress">In progress' in response.content.decode()


def test_a_wrong_status_or_an_external_next_is_not_followed(login, pm, responder):
    item = make_item(pm, owner=responder, due_date=FAR)
    client = login(responder)
    response = client.post(
        url("action_item_status", pk=item.pk), {"status": "gone", "next": "https://evil.example/"}
    )
    assert response.status_code == 302
    assert response["Location"] == url("action_item_detail", pk=item.pk)
    assert fresh(item).status == S.OPEN
    assert client.get(url("action_item_status", pk=item.pk)).status_code == 405


def test_the_item_page_shows_the_facts_and_saves_an_edit(login, pm, responder):
    item = make_item(pm, title="Add a canary", owner=responder, due_date=FAR)
    client = login(responder)
    page = client.get(url("action_item_detail", pk=item.pk))
    assert page.status_code == 200
    assert "Add a canary" in page.content.decode()
    # The browser's date input only takes ISO dates: the current one must be filled in.
    assert f'type="date" name="due_date" value="{FAR.isoformat()}"' in page.content.decode()
    new_due = FAR + dt.timedelta(days=7)
    response = client.post(
        url("action_item_detail", pk=item.pk),
        form_data(title="Add a canary release", due_date=new_due.isoformat(), owner=responder.pk),
    )
    assert response.status_code == 302
    assert (fresh(item).title, fresh(item).due_date) == ("Add a canary release", new_due)


def test_a_viewer_sees_the_item_but_may_not_edit_it(login, pm, viewer):
    item = make_item(pm, title="Add a canary", due_date=FAR)
    client = login(viewer)
    page = client.get(url("action_item_detail", pk=item.pk)).content.decode()
    assert "Add a canary" in page
    assert "<h2>Edit</h2>" not in page
    response = client.post(url("action_item_detail", pk=item.pk), form_data(title="Hijacked"))
    assert response.status_code == 403
    assert fresh(item).title == "Add a canary"


def test_restricted_items_are_not_found_for_people_who_may_not_see_the_incident(
    login, secret, responder, admin
):
    item = make_item(secret, title="Rotate the keys", owner=responder, due_date=FAR)
    client = login(responder)
    assert client.get(url("action_item_detail", pk=item.pk)).status_code == 404
    response = client.post(url("action_item_status", pk=item.pk), {"status": "done"})
    assert response.status_code == 404
    assert fresh(item).status == S.OPEN
    assert "Rotate the keys" not in client.get(url("action_item_mine")).content.decode()
    assert "Rotate the keys" not in client.get(url("action_item_list")).content.decode()
    client.logout()
    assert login(admin).get(url("action_item_detail", pk=item.pk)).status_code == 200


# — the org-wide list, filters and CSV ———————————————————————————————————————————————


@pytest.fixture
def listed(acme, pm, responder, viewer):
    payments = TeamFactory(organization=acme, name="Payments")
    sev1 = make_postmortem(acme, responder, title="Database down", level="SEV-1")
    make_item(pm, title="Overdue canary", owner=responder, team=payments, due_date=PAST,
              kind="prevent", priority="p1")  # fmt: skip
    make_item(pm, title="Runbook", owner=viewer, due_date=FAR, kind="process", priority="p3")
    make_item(sev1, title="Replica alert", team=payments, due_date=FAR, kind="detect",
              status=S.DONE, priority="p2")  # fmt: skip
    make_item(sev1, title="Undated", kind="mitigate", priority="p4")
    return payments


def titles(response) -> list[str]:
    body = response.content.decode()
    names = ["Overdue canary", "Runbook", "Replica alert", "Undated"]
    return [name for name in names if f">{name}</a>" in body]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["Overdue canary", "Runbook", "Replica alert", "Undated"]),
        ("status=unfinished", ["Overdue canary", "Runbook", "Undated"]),
        ("status=done", ["Replica alert"]),
        ("overdue=true", ["Overdue canary"]),
        ("overdue=false", ["Runbook", "Replica alert", "Undated"]),
        ("team=null", ["Runbook", "Undated"]),
        ("owner=null", ["Replica alert", "Undated"]),
        ("kind=detect", ["Replica alert"]),
        ("priority=p1", ["Overdue canary"]),
        ("has_due_date=false", ["Undated"]),
        ("q=runbook", ["Runbook"]),
        ("q=ACME-2", ["Replica alert", "Undated"]),
        (f"due_after={FAR.isoformat()}&due_before={FAR.isoformat()}", ["Runbook", "Replica alert"]),
    ],
)
def test_the_list_filters(login, responder, listed, query, expected):
    response = login(responder).get(url("action_item_list") + "?" + query)
    assert response.status_code == 200
    assert titles(response) == expected


def test_the_list_filters_by_team_owner_and_incident_severity(acme, login, responder, listed):
    from tests.incidents.factories import severity

    client = login(responder)
    by_team = client.get(url("action_item_list"), {"team": listed.pk})
    assert titles(by_team) == ["Overdue canary", "Replica alert"]
    by_owner = client.get(url("action_item_list"), {"owner": responder.pk})
    assert titles(by_owner) == ["Overdue canary"]
    by_severity = client.get(url("action_item_list"), {"severity": severity(acme, "SEV-1").pk})
    assert titles(by_severity) == ["Replica alert", "Undated"]


def test_a_wrong_filter_value_shows_the_error_and_no_rows(login, responder, listed, globex):
    foreign_team = TeamFactory(organization=globex, name="Grid")
    response = login(responder).get(url("action_item_list"), {"team": foreign_team.pk})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert titles(response) == []


def test_the_csv_has_the_filtered_rows_and_neutralises_formulas(login, pm, responder, listed):
    make_item(pm, title='=HYPERLINK("http://x")', due_date=FAR)
    response = login(responder).get(url("action_item_export"), {"status": "unfinished"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:6] == ["id", "incident", "post-mortem", "title", "status", "overdue"]
    body = {row[3]: row for row in rows[1:]}
    assert set(body) == {"Overdue canary", "Runbook", "Undated", '\'=HYPERLINK("http://x")'}
    assert body["Overdue canary"][5] == "yes"
    assert body["Overdue canary"][6] == "rita@acme.test"


def test_the_list_pages_and_its_query_count_does_not_grow(
    acme, login, pm, responder, django_assert_max_num_queries
):
    for n in range(55):
        make_item(pm, title=f"Item {n:02}", owner=responder, due_date=FAR)
    client = login(responder)
    with django_assert_max_num_queries(14):
        first = client.get(url("action_item_list"))
    assert "Page 1 of 2" in first.content.decode()
    second = client.get(url("action_item_list"), {"page": 2})
    assert second.content.decode().count('href="/o/acme/postmortems/actions/') >= 5


def test_restricted_items_are_listed_for_the_admin_only(login, secret, responder, admin):
    make_item(secret, title="Rotate the keys", due_date=FAR)
    assert "Rotate the keys" not in login(responder).get(url("action_item_export")).content.decode()
    assert "Rotate the keys" in login(admin).get(url("action_item_export")).content.decode()


def test_the_empty_list_says_where_items_come_from(login, responder):
    assert (
        "They are added on a post-mortem"
        in login(responder).get(url("action_item_list")).content.decode()
    )


# — my action items —————————————————————————————————————————————————————————————————


def test_my_items_come_open_first_with_overdue_highlighted(login, pm, responder, viewer):
    make_item(pm, title="Finished", owner=responder, due_date=PAST, status=S.DONE)
    make_item(pm, title="Later", owner=responder, due_date=FAR)
    make_item(pm, title="Overdue", owner=responder, due_date=PAST)
    make_item(pm, title="Undated", owner=responder)
    make_item(pm, title="Not mine", owner=viewer, due_date=PAST)
    body = login(responder).get(url("action_item_mine")).content.decode()
    order = [body.index(f">{t}</a>") for t in ("Overdue", "Later", "Undated", "Finished")]
    assert order == sorted(order)
    assert "Not mine" not in body
    assert body.count('class="ai-overdue"') == 1
    assert "3 open" in body
    assert "1 overdue" in body


def test_my_items_empty_state(login, responder):
    assert (
        "You own no action items" in login(responder).get(url("action_item_mine")).content.decode()
    )


# — completion rate ————————————————————————————————————————————————————————————————


def test_the_completion_page_shows_the_rate_and_its_definition(
    acme, login, pm, responder, django_assert_max_num_queries
):
    payments = TeamFactory(organization=acme, name="Payments")
    last_month = (TODAY.replace(day=1) - dt.timedelta(days=1)).replace(day=10)
    on_time = dt.datetime.combine(last_month - dt.timedelta(days=2), dt.time(9), tzinfo=dt.UTC)
    make_item(
        pm, title="a", team=payments, due_date=last_month, status=S.DONE, completed_at=on_time
    )
    make_item(pm, title="b", team=payments, due_date=last_month)
    make_item(pm, title="c", team=payments, due_date=last_month, status=S.WONT_DO)
    make_item(pm, title="d", due_date=last_month, status=S.DONE, completed_at=on_time)
    code = f"{last_month:%Y-%m}"
    client = login(responder)
    with django_assert_max_num_queries(12):
        response = client.get(url("action_item_completion"), {"by": "month", "period": code})
    body = response.content.decode()
    assert response.status_code == 200
    assert "How is this computed?" in body
    assert "Rate = done on time ÷ (due in the period − won't do)" in body
    assert ">50 %<" in body  # Payments: 1 on time of 3 − 1
    assert ">100 %<" in body  # No team
    assert ">67 %<" in body  # all: 2 of 3
    assert "No team" in body


def test_the_completion_page_refuses_a_wrong_period_politely(login, responder):
    response = login(responder).get(url("action_item_completion"), {"period": "2026-13"})
    assert response.status_code == 200
    assert "That period is out of range." in response.content.decode()
    response = login(responder).get(url("action_item_completion"), {"by": "week"})
    assert "Choose month or quarter." in response.content.decode()


def test_the_completion_page_by_quarter(login, responder):
    response = login(responder).get(url("action_item_completion"), {"by": "quarter"})
    assert response.status_code == 200
    assert "Trend: the last 6 quarters" in response.content.decode()


# — every URL: another tenant gets 404 ————————————————————————————————————————————————


def test_every_action_item_url_is_404_for_another_organisations_admin(
    login, pm, responder, globex_admin
):
    item = make_item(pm, title="Add a canary", owner=responder, due_date=FAR)
    client = login(globex_admin.user)
    urls = [
        url("action_item_list"),
        url("action_item_export"),
        url("action_item_mine"),
        url("action_item_completion"),
        url("action_item_create", postmortem_pk=pm.pk),
        url("action_item_detail", pk=item.pk),
        url("action_item_status", pk=item.pk),
    ]
    for address in urls:
        for method in (client.get, client.post):
            response = method(address, {"status": "done", "title": "x"})
            assert response.status_code == 404, address
            assert b"Add a canary" not in response.content
    assert fresh(item).status == S.OPEN
    assert count_items() == 1


def test_signed_out_visitors_are_sent_to_sign_in(client, pm):
    response = client.get(url("action_item_list"))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
