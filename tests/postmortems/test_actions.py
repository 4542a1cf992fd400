"""Action items: services (validation, permissions, visibility, timeline and audit), the
reminder sweep with a controlled clock, and the remediation completion rate on a hand-built
dataset whose answer is worked out by hand below."""

import datetime as dt

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django_scopes import scopes_disabled

from postmortems import actions
from postmortems.models import ActionItem, PostMortemPolicy
from tenancy.models import AuditEntry
from tenancy.roles import Role
from tenancy.scoping import org_scope
from tests.factories import TeamFactory
from tests.postmortems.test_actions_support import (
    BERLIN,
    at,
    fresh,
    make_item,
    make_postmortem,
    sent,
    timeline,
)

pytestmark = pytest.mark.django_db

D = dt.date
S = ActionItem.Status


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    """Deliveries are queued on commit; the tests read the recorded notifications instead."""
    monkeypatch.setattr("incidents.notify._enqueue", lambda *args: None)


@pytest.fixture
def other(acme, make_member):
    return make_member(acme, Role.RESPONDER, email="oscar@acme.test", full_name="Oscar").user


@pytest.fixture
def pm(acme, responder):
    return make_postmortem(acme, responder)


NOW = at(2026, 12, 5, 10)  # Saturday 5 December 2026, 11:00 in Berlin


def create(pm, actor, now=NOW, **fields):
    fields.setdefault("title", "Alert on checkout error rate")
    with org_scope(pm.organization):
        return actions.action_item_create(postmortem=pm, actor=actor, now=now, **fields)


def count_items():
    with scopes_disabled():
        return ActionItem.objects.count()


# — create ———————————————————————————————————————————————————————————————————————————


def test_a_responder_adds_an_item_which_is_audited_and_on_the_incident_timeline(
    acme, pm, responder, other
):
    team = TeamFactory(organization=acme, name="Payments")
    item = create(
        pm,
        responder,
        owner=other,
        team=team,
        due_date=D(2026, 12, 20),
        priority="p1",
        kind="detect",
        ticket_url="https://tracker.example/OPS-7",
        ticket_key="OPS-7",
    )
    item = fresh(item)
    assert (item.owner, item.team, item.due_date, item.status) == (
        other,
        team,
        D(2026, 12, 20),
        S.OPEN,
    )
    assert timeline(pm.incident) == [
        "Action item added: “Alert on checkout error rate” (owner Oscar, team Payments, "
        "due 2026-12-20, P1)"
    ]
    with scopes_disabled():
        entry = AuditEntry.objects.get(
            content_type=ContentType.objects.get_for_model(ActionItem), object_id=item.pk
        )
    assert entry.action == AuditEntry.Action.CREATE
    assert entry.organization_id == acme.pk


def test_a_viewer_may_not_add_an_item_and_nothing_is_stored(pm, viewer):
    with pytest.raises(PermissionDenied):
        create(pm, viewer)
    assert count_items() == 0
    assert timeline(pm.incident) == []


def test_a_member_of_another_organisation_may_not_add_an_item(pm, globex_admin):
    with pytest.raises(PermissionDenied):
        create(pm, globex_admin.user)
    assert count_items() == 0


def test_a_restricted_incident_takes_items_only_from_people_who_see_it(acme, admin, responder):
    secret = make_postmortem(acme, admin, title="Card data exposure", is_restricted=True)
    with pytest.raises(PermissionDenied, match="may not see"):
        create(secret, responder)
    assert count_items() == 0
    assert create(secret, admin).pk


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"title": "  "}, "title", "Say what needs doing"),
        ({"title": "x" * 201}, "title", "At most 200"),
        ({"description": "x" * 5001}, "description", "At most 5,000"),
        ({"ticket_url": "javascript:alert(1)"}, "ticket_url", "Only http"),
        ({"ticket_url": "ftp://files.example/x"}, "ticket_url", "Only http"),
        ({"ticket_url": "https://"}, "ticket_url", "full web address"),
        ({"ticket_key": "K" * 51}, "ticket_key", "At most 50"),
        ({"ticket_key": "<script>"}, "ticket_key", "Letters, digits"),
        ({"priority": "p9"}, "priority", "Choose P1"),
        ({"kind": "blame"}, "kind", "Choose prevent"),
        ({"due_date": "2026-12-20"}, "due_date", "Give a date"),
    ],
)
def test_wrong_inputs_are_refused_with_the_field_named(pm, responder, fields, field, message):
    with pytest.raises(ValidationError) as error:
        create(pm, responder, **fields)
    assert field in error.value.error_dict
    assert message in " ".join(error.value.message_dict[field])
    assert count_items() == 0


def test_the_owner_must_be_a_member_and_the_team_the_organisations(
    acme, globex, pm, responder, globex_admin
):
    foreign_team = TeamFactory(organization=globex, name="Grid")
    with pytest.raises(ValidationError) as error:
        create(pm, responder, owner=globex_admin.user, team=foreign_team)
    assert set(error.value.error_dict) == {"owner", "team"}
    assert count_items() == 0


def test_a_due_date_in_the_past_is_refused_in_the_organisations_time_zone(pm, responder):
    late_evening = at(2026, 12, 5, 23, 30)  # already 6 December in Berlin
    with pytest.raises(ValidationError, match=r"in the past \(today is 2026-12-06"):
        create(pm, responder, due_date=D(2026, 12, 5), now=late_evening)
    assert create(pm, responder, due_date=D(2026, 12, 6), now=late_evening).due_date == D(
        2026, 12, 6
    )


# — status and update ——————————————————————————————————————————————————————————————


def set_status(item, actor, status, now=NOW):
    with org_scope(item.organization):
        return actions.action_item_set_status(item=item, actor=actor, status=status, now=now)


def update(item, actor, now=NOW, **changes):
    with org_scope(item.organization):
        return actions.action_item_update(item=item, actor=actor, changes=changes, now=now)


def test_done_records_when_and_reopening_clears_it(pm, responder):
    item = create(pm, responder)
    set_status(item, responder, S.DONE, now=at(2026, 12, 6, 9))
    assert (fresh(item).status, fresh(item).completed_at) == (S.DONE, at(2026, 12, 6, 9))
    set_status(item, responder, S.OPEN, now=at(2026, 12, 7))
    assert (fresh(item).status, fresh(item).completed_at) == (S.OPEN, None)
    assert timeline(pm.incident)[1:] == [
        "Action item “Alert on checkout error rate”: Open → Done",
        "Action item “Alert on checkout error rate”: Done → Open",
    ]


def test_the_owner_may_change_the_status_of_their_own_item_whatever_their_role(
    pm, responder, viewer, make_member, acme
):
    mine = create(pm, responder, owner=viewer)
    set_status(mine, viewer, S.IN_PROGRESS)
    assert fresh(mine).status == S.IN_PROGRESS
    someone_else = make_member(acme, Role.VIEWER).user
    with pytest.raises(PermissionDenied):
        set_status(mine, someone_else, S.DONE)
    assert fresh(mine).status == S.IN_PROGRESS
    with pytest.raises(ValidationError, match="in progress already"):
        set_status(mine, viewer, S.IN_PROGRESS)
    with pytest.raises(ValidationError):
        set_status(mine, viewer, "finished")


def test_an_update_names_each_change_on_the_timeline_and_a_new_due_date_rearms_reminders(
    pm, responder, other
):
    item = create(pm, responder, owner=responder, due_date=D(2026, 12, 10))
    with scopes_disabled():
        ActionItem.objects.filter(pk=item.pk).update(reminded_at=NOW, overdue_notified_at=NOW)
    update(item, responder, owner=other, due_date=D(2026, 12, 24))
    item = fresh(item)
    assert (item.owner, item.due_date, item.reminded_at, item.overdue_notified_at) == (
        other,
        D(2026, 12, 24),
        None,
        None,
    )
    assert timeline(pm.incident)[-1] == (
        "Action item “Alert on checkout error rate” changed: owner Rita → Oscar; "
        "due date 2026-12-10 → 2026-12-24"
    )


def test_an_update_without_changes_records_nothing_and_a_past_due_date_is_refused(pm, responder):
    item = create(pm, responder, due_date=D(2026, 12, 10))
    update(item, responder, title="Alert on checkout error rate")
    assert len(timeline(pm.incident)) == 1
    with pytest.raises(ValidationError, match="in the past"):
        update(item, responder, due_date=D(2026, 12, 1))
    assert fresh(item).due_date == D(2026, 12, 10)
    with pytest.raises(ValidationError, match="cannot be changed"):
        update(item, responder, status="done")


def test_a_viewer_may_not_edit_an_item(pm, responder, viewer):
    item = create(pm, responder, owner=viewer)
    with pytest.raises(PermissionDenied):
        update(item, viewer, title="Something else")
    assert fresh(item).title == "Alert on checkout error rate"


# — reminders ——————————————————————————————————————————————————————————————————————


def sweep(now, limit=200):
    return actions.sweep_action_items(now=now, limit=limit)


def test_one_reminder_before_the_due_date_and_one_when_overdue_by_the_berlin_calendar(
    pm, responder
):
    item = make_item(pm, owner=responder, due_date=D(2026, 12, 10))
    # Reminders go out 2 days ahead (the default): on 8 December, Berlin time.
    assert sweep(at(2026, 12, 7, 22, 59)) == 0  # 23:59 on the 7th in Berlin
    assert sweep(at(2026, 12, 7, 23, 1)) == 1  # 00:01 on the 8th in Berlin
    assert sweep(at(2026, 12, 8, 12)) == 0
    assert sent() == [("rita@acme.test", "action_item_due")]
    # Overdue from the 11th, Berlin time; once.
    assert sweep(at(2026, 12, 10, 22, 59)) == 0
    assert sweep(at(2026, 12, 10, 23, 1)) == 1
    assert sweep(at(2026, 12, 12)) == 0
    assert sent() == [
        ("rita@acme.test", "action_item_due"),
        ("rita@acme.test", "action_item_overdue"),
    ]
    assert timeline(pm.incident) == [
        "Action item “Add a canary” is overdue (was due 2026-12-10; owner Rita)"
    ]
    assert fresh(item).overdue_notified_at == at(2026, 12, 10, 23, 1)


def test_a_sweeper_that_was_down_sends_the_overdue_notice_but_no_stale_reminder(pm, responder):
    make_item(pm, owner=responder, due_date=D(2026, 12, 10))
    assert sweep(at(2026, 12, 12)) == 1
    assert sweep(at(2026, 12, 13)) == 0
    assert sent() == [("rita@acme.test", "action_item_overdue")]


def test_changing_the_due_date_rearms_both_reminders(pm, responder):
    item = make_item(pm, owner=responder, due_date=D(2026, 12, 10))
    sweep(at(2026, 12, 8))
    sweep(at(2026, 12, 11))
    assert len(sent()) == 2
    update(item, responder, now=at(2026, 12, 11, 9), due_date=D(2026, 12, 20))
    assert sweep(at(2026, 12, 12)) == 0
    assert sweep(at(2026, 12, 18)) == 1
    assert sweep(at(2026, 12, 21)) == 1
    assert [kind for _, kind in sent()] == [
        "action_item_due",
        "action_item_overdue",
        "action_item_due",
        "action_item_overdue",
    ]


def test_the_policy_sets_how_many_days_ahead_and_finished_items_are_left_alone(acme, pm, responder):
    PostMortemPolicy.objects.create(organization=acme, action_item_remind_days=5)
    make_item(pm, owner=responder, due_date=D(2026, 12, 10))
    make_item(pm, title="Done already", owner=responder, due_date=D(2026, 12, 6), status=S.DONE)
    make_item(pm, title="Dropped", owner=responder, due_date=D(2026, 12, 6), status=S.WONT_DO)
    make_item(pm, title="Undated", owner=responder)
    assert sweep(at(2026, 12, 4, 12)) == 0
    assert sweep(at(2026, 12, 5, 12)) == 1
    assert sweep(at(2026, 12, 30)) == 1
    assert [kind for _, kind in sent()] == ["action_item_due", "action_item_overdue"]


def test_an_overdue_item_without_owner_goes_to_its_team_or_else_to_the_managers(
    acme, pm, responder, other, manager, admin
):
    team = TeamFactory(organization=acme, name="Payments", members=[other])
    make_item(pm, title="Team item", team=team, due_date=D(2026, 12, 10))
    make_item(pm, title="Nobody's", due_date=D(2026, 12, 10))
    assert sweep(at(2026, 12, 8)) == 0  # no owner, no "due soon" reminder
    assert sweep(at(2026, 12, 11)) == 2
    assert sorted(sent()) == [
        ("admin@acme.test", "action_item_escalation"),
        ("max@acme.test", "action_item_escalation"),
        ("oscar@acme.test", "action_item_escalation"),
    ]
    assert timeline(pm.incident) == [
        "Action item “Team item” is overdue (was due 2026-12-10) and has no owner; "
        "escalated to team Payments",
        "Action item “Nobody's” is overdue (was due 2026-12-10) and has no owner; "
        "escalated to the managers",
    ]


def test_an_owner_who_left_the_organisation_counts_as_no_owner(acme, pm, manager, make_member):
    leaver = make_member(acme, Role.RESPONDER, email="lea@acme.test").user
    make_item(pm, owner=leaver, due_date=D(2026, 12, 10))
    with scopes_disabled():
        leaver.memberships.all().delete()
    sweep(at(2026, 12, 11))
    assert sent() == [("max@acme.test", "action_item_escalation")]


def test_the_sweep_stops_at_its_limit_and_the_rest_follows_next_time(pm, responder):
    for n in range(5):
        make_item(pm, title=f"Item {n}", owner=responder, due_date=D(2026, 12, 10))
    assert sweep(at(2026, 12, 11), limit=3) == 3
    assert sweep(at(2026, 12, 11), limit=3) == 2
    assert sweep(at(2026, 12, 11), limit=3) == 0


def test_each_organisation_is_swept_on_its_own_calendar(acme, globex, pm, responder, globex_admin):
    theirs = make_postmortem(globex, globex_admin.user)
    make_item(pm, owner=responder, due_date=D(2026, 12, 10))
    make_item(theirs, owner=globex_admin.user, due_date=D(2026, 12, 10))
    # 02:00 UTC on the 11th: the 11th in Berlin, still the 10th in New York.
    assert sweep(at(2026, 12, 11, 2)) == 2  # Rita's overdue; the Globex owner's "due today"
    assert sent(kind_prefix="action_item_overdue") == [("rita@acme.test", "action_item_overdue")]
    assert sweep(at(2026, 12, 11, 5, 30)) == 1  # 00:30 on the 11th in New York
    assert [kind for _, kind in sent()] == [
        "action_item_overdue",
        "action_item_due",
        "action_item_overdue",
    ]


@pytest.mark.django_db(transaction=True)
def test_two_sweepers_at_once_notify_each_overdue_item_once(acme, make_member, monkeypatch):
    import threading

    from django.db import connection

    monkeypatch.setattr("incidents.notify._enqueue", lambda *args: None)
    owner = make_member(acme, Role.RESPONDER, email="rita@acme.test").user
    pm = make_postmortem(acme, owner)
    for n in range(30):
        make_item(pm, title=f"Item {n}", owner=owner, due_date=D(2026, 12, 10))
    barrier = threading.Barrier(2)
    results = []

    def sweeper():
        barrier.wait()
        try:
            results.append(sweep(at(2026, 12, 11)))
        finally:
            connection.close()

    threads = [threading.Thread(target=sweeper) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == 30
    assert len(sent()) == 30
    assert len(timeline(pm.incident)) == 30


# — completion rate ————————————————————————————————————————————————————————————————


@pytest.fixture
def dataset(acme, globex, responder, admin, globex_admin):
    """Items of acme (Europe/Berlin), today = 5 December 2026. See the expected numbers in the
    tests; every boundary case is named."""
    payments = TeamFactory(organization=acme, name="Payments")
    platform = TeamFactory(organization=acme, name="Platform")
    pm = make_postmortem(acme, responder)
    secret = make_postmortem(acme, admin, title="Card data exposure", is_restricted=True)
    done = S.DONE

    def item(title, team, due, status=S.OPEN, completed=None, postmortem=pm):
        return make_item(
            postmortem, title=title, team=team, due_date=due, status=status, completed_at=completed
        )

    # Payments, November: 6 due.
    item("P1 on time", payments, D(2026, 11, 10), done, at(2026, 11, 9, 12))
    # 23:30 UTC on the 10th is 00:30 on the 11th in Berlin: late (UTC would say on time).
    item("P2 late by Berlin clock", payments, D(2026, 11, 10), done, at(2026, 11, 10, 23, 30))
    # 22:59 UTC on the 20th is 23:59 on the 20th in Berlin: on time.
    item("P3 on time at 23:59", payments, D(2026, 11, 20), done, at(2026, 11, 20, 22, 59))
    item("P4 open overdue", payments, D(2026, 11, 15))
    item("P5 won't do", payments, D(2026, 11, 30), S.WONT_DO)
    item("P7 first day, in progress", payments, D(2026, 11, 1), S.IN_PROGRESS)
    # Payments, other months.
    item("P6 December, on time", payments, D(2026, 12, 1), done, at(2026, 11, 30, 9))
    item("P8 October, late", payments, D(2026, 10, 31), done, at(2026, 11, 2, 9))
    # Platform, November: 2 due.
    item("L1 late", platform, D(2026, 11, 25), done, at(2026, 11, 28, 9))
    item("L2 last day, on time", platform, D(2026, 11, 30), done, at(2026, 11, 30, 22))
    # Platform, December: not yet due.
    item("L3 not yet due", platform, D(2026, 12, 20))
    # No team, November.
    item("N1 on time", None, D(2026, 11, 12), done, at(2026, 11, 12, 8))
    # No due date.
    item("U1 undated open", payments, None)
    item("U2 undated done", None, None, done, at(2026, 11, 3))
    # Restricted: counts only for those who see it (the admin).
    item("R1 restricted, on time", payments, D(2026, 11, 10), done, at(2026, 11, 1), secret)
    # Another organisation: never counts.
    theirs = make_postmortem(globex, globex_admin.user)
    item("G1 other tenant", None, D(2026, 11, 10), done, at(2026, 11, 1), theirs)
    return {"payments": payments, "platform": platform}


TODAY = D(2026, 12, 5)


def report(org, user, granularity, code):
    with org_scope(org):
        items = actions.action_item_list(organization=org, user=user, today=TODAY)
        period = actions.Period.parse(granularity, code, TODAY)
        return actions.completion_report(
            items, organization=org, period=period, trend=3, today=TODAY
        )


def table(result, period_index=-1):
    """{team name: (due, on time, late, open overdue, open not yet due, won't do, rate %)}"""
    period = result["periods"][period_index]

    def row(team_row):
        t = team_row.tally(period)
        rate = None if t.rate is None else round(t.rate * 100, 1)
        return (t.due, t.on_time, t.late, t.open_overdue, t.open_not_due, t.wont_do, rate)

    rows = {r.name: row(r) for r in result["rows"]}
    rows["All"] = row(result["total"])
    return rows


def test_completion_rate_per_team_for_a_month_worked_out_by_hand(acme, responder, dataset):
    result = report(acme, responder, "month", "2026-11")
    assert table(result) == {
        # 6 due − 1 won't do = 5 counted; on time: P1, P3 → 2/5
        "Payments": (6, 2, 1, 2, 0, 1, 40.0),
        # L1 late, L2 on time → 1/2
        "Platform": (2, 1, 1, 0, 0, 0, 50.0),
        "No team": (1, 1, 0, 0, 0, 0, 100.0),
        # 9 due − 1 = 8 counted; 4 on time
        "All": (9, 4, 2, 2, 0, 1, 50.0),
    }
    # The trend's earlier months: October has P8 (late); September nothing.
    assert table(result, 1)["Payments"] == (1, 0, 1, 0, 0, 0, 0.0)
    assert table(result, 0)["All"] == (0, 0, 0, 0, 0, 0, None)


def test_the_current_month_counts_open_items_not_yet_due(acme, responder, dataset):
    assert table(report(acme, responder, "month", "2026-12")) == {
        "Payments": (1, 1, 0, 0, 0, 0, 100.0),
        "Platform": (1, 0, 0, 0, 1, 0, 0.0),
        "No team": (0, 0, 0, 0, 0, 0, None),
        "All": (2, 1, 0, 0, 1, 0, 50.0),
    }


def test_completion_rate_per_quarter(acme, responder, dataset):
    result = report(acme, responder, "quarter", "2026-Q4")
    assert [p.label for p in result["periods"]] == ["Q2 2026", "Q3 2026", "Q4 2026"]
    assert table(result) == {
        # Oct P8 + Nov 6 + Dec P6 = 8 due, 1 won't do → 7; on time P1, P3, P6 → 3/7
        "Payments": (8, 3, 2, 2, 0, 1, 42.9),
        "Platform": (3, 1, 1, 0, 1, 0, 33.3),
        "No team": (1, 1, 0, 0, 0, 0, 100.0),
        "All": (12, 5, 3, 2, 1, 1, 45.5),
    }


def test_items_without_a_due_date_are_counted_apart(acme, responder, dataset):
    result = report(acme, responder, "month", "2026-11")
    undated = {r.name: (r.undated, r.undated_open) for r in result["rows"]}
    assert undated == {"Payments": (1, 1), "Platform": (0, 0), "No team": (1, 0)}
    assert (result["total"].undated, result["total"].undated_open) == (2, 1)


def test_restricted_items_count_only_for_people_who_see_the_incident(acme, admin, dataset):
    # The admin also sees R1 (Payments, due 10 November, on time): 3 of 6.
    assert table(report(acme, admin, "month", "2026-11"))["Payments"] == (
        7,
        3,
        1,
        2,
        0,
        1,
        50.0,
    )


def test_the_report_is_two_queries_however_many_teams(
    acme, responder, dataset, django_assert_num_queries
):
    with org_scope(acme):
        items = actions.action_item_list(organization=acme, user=responder, today=TODAY)
        period = actions.Period.parse("month", "2026-11", TODAY)
        with django_assert_num_queries(2):
            actions.completion_report(items, organization=acme, period=period, trend=6, today=TODAY)


@pytest.mark.parametrize("code", ["2026-13", "2026-00", "2026-Q5", "26-11", "November", "1999-01"])
def test_a_wrong_period_is_refused(code):
    granularity = "quarter" if "Q" in code else "month"
    with pytest.raises(ValidationError):
        actions.Period.parse(granularity, code, TODAY)


def test_periods_step_across_years():
    december = actions.Period.parse("month", "2026-12", TODAY)
    assert (december.end, december.shift(1).code, december.shift(-12).code) == (
        D(2027, 1, 1),
        "2027-01",
        "2025-12",
    )
    q1 = actions.Period.parse("quarter", "2027-Q1", TODAY)
    assert (q1.shift(-1).code, q1.last_day, q1.label) == ("2026-Q4", D(2027, 3, 31), "Q1 2027")
    assert actions.Period.parse("quarter", "", TODAY).code == "2026-Q4"
    # Switching granularity on the page keeps the period.
    assert actions.Period.parse("quarter", "2026-11", TODAY).code == "2026-Q4"
    assert actions.Period.parse("month", "2026-Q2", TODAY).code == "2026-04"
    assert BERLIN.key == "Europe/Berlin"
