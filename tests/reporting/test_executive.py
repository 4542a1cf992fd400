"""Scheduled executive reports: the period and next-run arithmetic, the PDF of the hand-built
March of tests/reporting/conftest.py, the e-mail with the PDF attached, exactly-once sweeps,
the pages and their permissions, and the schedule form's validation."""

import datetime
import subprocess
import threading
import zoneinfo

import pytest
from django.db import connection
from django.urls import reverse
from django_scopes import scopes_disabled

from incidents import notify
from incidents.models import Delivery, Incident
from reporting import executive, services
from reporting.models import ExecutiveReport, ReportSchedule
from tenancy.roles import Role
from tests.reporting.conftest import action_item, berlin, postmortem

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
APRIL_FIRST_8AM = berlin(1, 8, month=4)


def pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(  # noqa: S603 — a fixed binary, our own file
        ["/usr/bin/pdftotext", "-layout", str(path), "-"],
        capture_output=True,
        check=True,
        text=True,
    )
    return result.stdout


def make_schedule(organization, creator, **fields) -> ReportSchedule:
    values = {
        "name": "Monthly to the board",
        "frequency": "monthly",
        "day_of_month": 1,
        "hour": 8,
        "emails": ["board@example.org"],
        "next_run_at": APRIL_FIRST_8AM,
        "created_by": creator,
    } | fields
    with scopes_disabled():
        return ReportSchedule.objects.create(organization=organization, **values)


def reports(organization):
    with scopes_disabled():
        return list(ExecutiveReport.objects.filter(organization=organization))


# — periods and runs ———————————————————————————————————————————————————————————————


def test_the_weekly_period_is_the_last_full_monday_to_sunday():
    # Wednesday 8 April 2026 → Monday 30 March … Sunday 5 April.
    assert executive.last_full_period("weekly", datetime.date(2026, 4, 8)) == (
        datetime.date(2026, 3, 30),
        datetime.date(2026, 4, 5),
    )
    # On a Monday the week that just ended is the one reported.
    assert executive.last_full_period("weekly", datetime.date(2026, 4, 6)) == (
        datetime.date(2026, 3, 30),
        datetime.date(2026, 4, 5),
    )


def test_the_monthly_period_is_the_last_full_month_across_a_year():
    assert executive.last_full_period("monthly", datetime.date(2026, 1, 3)) == (
        datetime.date(2025, 12, 1),
        datetime.date(2025, 12, 31),
    )


def test_the_next_run_is_at_the_hour_in_the_organisations_time_zone():
    # Monday 30 March 2026, 09:00 Berlin (summer time) is after Monday's 08:00: next Monday.
    after = datetime.datetime(2026, 3, 30, 9, 0, tzinfo=BERLIN)
    weekly = executive.next_run(
        frequency="weekly", weekday=0, day_of_month=None, hour=8, tz=BERLIN, after=after
    )
    assert weekly == datetime.datetime(2026, 4, 6, 8, 0, tzinfo=BERLIN)
    assert weekly.astimezone(datetime.UTC).hour == 6
    monthly = executive.next_run(
        frequency="monthly", weekday=None, day_of_month=28, hour=23, tz=BERLIN, after=after
    )
    assert monthly == datetime.datetime(2026, 4, 28, 23, 0, tzinfo=BERLIN)


def test_change_is_a_percentage_for_counts_and_points_for_rates():
    assert executive.change(6, 4, is_percent=False) == "+50 %"
    assert executive.change(3, 4, is_percent=False) == "-25 %"
    assert executive.change(4, 0, is_percent=False) == "new"
    assert executive.change(75.0, 50.0, is_percent=True) == "+25 pts"
    assert executive.change(None, 50.0, is_percent=True) == "—"


# — the sweeper ———————————————————————————————————————————————————————————————————


@pytest.fixture
def restricted_h(march, acme):
    """March's H, restricted, with a title that must never be printed, and an action item
    due on 25 March and still open (overdue)."""
    with scopes_disabled():
        h = Incident.objects.get(organization=acme, reported_at=berlin(20, 10))
        Incident.objects.filter(pk=h.pk).update(is_restricted=True, title="Secret merger outage")
        h.refresh_from_db()
    action_item(postmortem(h), due=datetime.date(2026, 3, 25))
    return h


@pytest.mark.django_db
def test_the_sweeper_renders_the_months_kpis_with_their_arithmetic(
    march, restricted_h, acme, admin, tmp_path
):
    schedule = make_schedule(acme, admin)

    assert services.sweep_schedules(now=APRIL_FIRST_8AM + datetime.timedelta(minutes=3)) == 1

    [report] = reports(acme)
    assert (report.schedule_id, report.generated_by_id) == (schedule.pk, None)
    assert (report.period_start, report.period_end) == (
        datetime.date(2026, 3, 1),
        datetime.date(2026, 3, 31),
    )
    pdf = bytes(report.pdf)
    assert pdf.startswith(b"%PDF")
    assert report.sha256 == __import__("hashlib").sha256(pdf).hexdigest()
    assert report.page_count == 2
    text = " ".join(pdf_text(pdf, tmp_path).split())
    assert "Acme Payments · Sunday 1 March 2026 – Tuesday 31 March 2026" in text
    assert "Incident volume 4 incidents reported 0 new" in text
    # MTTA: A 5 + B 15 + C 10 + H 20 = 50 min over 4; MTTR: A 2 h + B 2 h + H 4 h over 3.
    assert "12 min 30 s 50 min ÷ 4 incidents" in text
    assert "2 h 40 min 8 h 0 min ÷ 3 incidents" in text
    assert "SLA compliance: Acknowledge 100 % 2 ÷ 2 timers met" in text
    assert "SLA compliance: Resolve 0% 0 ÷ 1 timers met" in text
    assert "Reopen rate 25 % 1 ÷ 4 incidents reopened" in text
    assert "Alert-created incidents 50 % 2 ÷ 4 incidents from alerts" in text
    assert "3 excluded incidents" in text
    # Top services, the resolve breach of A (11:00 Berlin), and the overdue items.
    assert "Checkout <web> 2 Payments API 2" in text
    assert "ACME-1 Checkout fails Resolve 30 min 2 Mar 2026 11:00" in text
    assert "Overdue action items (2)" in text
    assert "generated 2026-04-01 08:03 Europe/Berlin" in text
    assert "Page 1 of 2" in text
    assert "Page 2 of 2" in text


@pytest.mark.django_db
def test_a_restricted_incident_counts_but_its_title_is_never_printed(
    march, restricted_h, acme, admin, tmp_path
):
    make_schedule(acme, admin)

    services.sweep_schedules(now=APRIL_FIRST_8AM)

    [report] = reports(acme)
    text = " ".join(pdf_text(bytes(report.pdf), tmp_path).split())
    assert "Incident volume 4 " in text  # H is one of the four
    assert "ACME-8 restricted incident" in text
    assert "Secret merger" not in text


@pytest.mark.django_db
def test_the_run_advances_the_schedule_and_a_second_sweep_finds_nothing(march, acme, admin):
    schedule = make_schedule(acme, admin)
    now = APRIL_FIRST_8AM + datetime.timedelta(minutes=4)

    assert services.sweep_schedules(now=now) == 1
    assert services.sweep_schedules(now=now) == 0

    with scopes_disabled():
        schedule.refresh_from_db()
    assert schedule.last_run_at == now
    assert schedule.next_run_at == berlin(1, 8, month=5)
    assert len(reports(acme)) == 1


@pytest.mark.django_db
def test_a_schedule_not_due_or_disabled_does_not_run(march, acme, admin):
    make_schedule(acme, admin, next_run_at=APRIL_FIRST_8AM + datetime.timedelta(minutes=1))
    make_schedule(acme, admin, name="Paused", is_enabled=False)

    assert services.sweep_schedules(now=APRIL_FIRST_8AM) == 0
    assert reports(acme) == []


@pytest.mark.django_db
def test_the_pdf_is_e_mailed_to_members_and_addresses_once_delivered(
    march, acme, admin, manager, responder, mailoutbox
):
    schedule = make_schedule(acme, admin, emails=["board@example.org"])
    with scopes_disabled():
        # The responder may not view dashboards: left out.
        schedule.members.set([manager, responder])

    services.sweep_schedules(now=APRIL_FIRST_8AM)
    assert mailoutbox == []  # nothing is sent before the deliveries are delivered

    with scopes_disabled():
        deliveries = list(Delivery.objects.filter(idempotency_key__startswith="executive:"))
    for delivery in deliveries:
        notify.deliver(delivery=delivery)

    [report] = reports(acme)
    assert sorted(message.to[0] for message in mailoutbox) == sorted(
        ["board@example.org", manager.email]
    )
    message = mailoutbox[0]
    assert "executive report · 1 Mar 2026 – 31 Mar 2026" in message.subject
    assert report.sha256 in message.body
    [(filename, content, mimetype)] = message.attachments
    assert filename == "executive-report-2026-03-01-2026-03-31.pdf"
    assert (content, mimetype) == (bytes(report.pdf), "application/pdf")


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sweeps_make_one_report(march, acme, admin, caplog):
    make_schedule(acme, admin)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def sweep():
        try:
            barrier.wait()
            results.append(services.sweep_schedules(now=APRIL_FIRST_8AM))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(results) == [0, 1]
    assert len(reports(acme)) == 1
    # The second sweep skipped the claimed row: it did not fail on the unique constraint.
    assert [r for r in caplog.records if r.levelname == "ERROR"] == []


# — pages ——————————————————————————————————————————————————————————————————————————


def url(name, **kwargs):
    return reverse(f"reporting:{name}", kwargs={"org_slug": "acme", **kwargs})


def stored_report(organization, **fields) -> ExecutiveReport:
    values = {
        "period_start": datetime.date(2026, 3, 1),
        "period_end": datetime.date(2026, 3, 31),
        "pdf": b"%PDF-1.7 stored",
        "sha256": "0" * 64,
        "page_count": 2,
        "size": 15,
    } | fields
    with scopes_disabled():
        return ExecutiveReport.objects.create(organization=organization, **values)


@pytest.mark.django_db
def test_a_manager_sees_schedules_and_past_reports_and_downloads_one(acme, admin, manager, login):
    make_schedule(acme, admin)
    report = stored_report(acme)

    page = login(manager).get(url("executive_list"))

    assert page.status_code == 200
    html = page.content.decode()
    assert "Monthly to the board" in html
    assert "Monthly, day 1 at 08:00" in html
    assert "board@example.org" in html
    assert "Generate now" in html
    assert url("executive_pdf", report_id=report.pk) in html
    download = login(manager).get(url("executive_pdf", report_id=report.pk))
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    assert b"".join(download.streaming_content if download.streaming else [download.content]) == (
        b"%PDF-1.7 stored"
    )


@pytest.mark.django_db
def test_the_list_says_so_when_there_is_nothing_yet(acme, manager, login):
    html = login(manager).get(url("executive_list")).content.decode()

    assert "No schedules yet." in html
    assert "No executive reports yet." in html


@pytest.mark.django_db
def test_past_reports_are_paginated(acme, manager, login):
    for day in range(1, 23):
        stored_report(
            acme, period_start=datetime.date(2026, 1, day), period_end=datetime.date(2026, 1, day)
        )

    first = login(manager).get(url("executive_list")).content.decode()
    second = login(manager).get(url("executive_list") + "?page=2").content.decode()

    assert "Page 1 of 2 · 22 in all" in first
    assert first.count("/pdf/") == 20
    assert second.count("/pdf/") == 2


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.RESPONDER, Role.VIEWER])
def test_roles_without_dashboards_get_404_everywhere(acme, admin, make_member, login, role):
    schedule = make_schedule(acme, admin)
    report = stored_report(acme)
    member = make_member(acme, role)
    client = login(member.user)

    assert client.get(url("executive_list")).status_code == 404
    assert client.get(url("executive_pdf", report_id=report.pk)).status_code == 404
    assert client.get(url("schedule_create")).status_code == 404
    assert client.post(url("schedule_delete", schedule_id=schedule.pk)).status_code == 404
    assert client.post(url("executive_generate"), {"frequency": "weekly"}).status_code == 404
    with scopes_disabled():
        assert ReportSchedule.objects.filter(pk=schedule.pk).exists()
    assert len(reports(acme)) == 1


@pytest.mark.django_db
def test_another_organisations_admin_gets_404(acme, admin, stranger, login):
    schedule = make_schedule(acme, admin)
    report = stored_report(acme)
    client = login(stranger)

    assert client.get(url("executive_list")).status_code == 404
    assert client.get(url("executive_pdf", report_id=report.pk)).status_code == 404
    assert client.get(url("schedule_edit", schedule_id=schedule.pk)).status_code == 404


@pytest.mark.django_db
def test_a_report_of_another_organisation_is_404_through_this_one(acme, globex, manager, login):
    theirs = stored_report(globex)

    response = login(manager).get(url("executive_pdf", report_id=theirs.pk))

    assert response.status_code == 404


@pytest.mark.django_db
def test_a_manager_creates_a_weekly_schedule_with_its_next_run(acme, manager, viewer, login):
    response = login(manager).post(
        url("schedule_create"),
        {
            "name": "Weekly ops",
            "frequency": "weekly",
            "weekday": "0",
            "hour": "7",
            "members": [manager.pk],
            "emails": "cfo@example.org, ceo@example.org",
            "is_enabled": "on",
        },
    )

    assert response.status_code == 302
    with scopes_disabled():
        schedule = ReportSchedule.objects.get(organization=acme, name="Weekly ops")
        assert list(schedule.members.all()) == [manager]
    assert schedule.emails == ["cfo@example.org", "ceo@example.org"]
    assert schedule.created_by == manager
    local = schedule.next_run_at.astimezone(BERLIN)
    assert (local.weekday(), local.hour, local.minute) == (0, 7, 0)


@pytest.mark.django_db
def test_the_form_names_each_mistake_and_saves_nothing(acme, manager, login):
    response = login(manager).post(
        url("schedule_create"),
        {
            "name": "Broken",
            "frequency": "monthly",
            "day_of_month": "31",
            "hour": "24",
            "emails": "not-an-address, ok@example.org",
        },
    )

    assert response.status_code == 200
    form = response.context["form"]
    assert "Ensure this value is less than or equal to 28." in form.errors["day_of_month"]
    assert "Ensure this value is less than or equal to 23." in form.errors["hour"]
    assert form.errors["emails"] == ["Not a valid e-mail address: not-an-address."]
    with scopes_disabled():
        assert not ReportSchedule.objects.filter(organization=acme).exists()


@pytest.mark.django_db
def test_the_form_requires_a_recipient_and_the_weekday_of_a_weekly_report(acme, manager, login):
    response = login(manager).post(
        url("schedule_create"),
        {"name": "Nobody", "frequency": "weekly", "hour": "8", "emails": ""},
    )

    form = response.context["form"]
    assert form.non_field_errors() == ["Choose at least one recipient: a member or an address."]
    assert form.errors["weekday"] == ["Choose the day of the week a weekly report is sent."]
    with scopes_disabled():
        assert not ReportSchedule.objects.filter(organization=acme).exists()


@pytest.mark.django_db
def test_a_responder_cannot_be_chosen_as_a_member_recipient(acme, manager, responder, login):
    response = login(manager).post(
        url("schedule_create"),
        {
            "name": "Leaky",
            "frequency": "weekly",
            "weekday": "0",
            "hour": "8",
            "members": [responder.pk],
        },
    )

    assert "members" in response.context["form"].errors
    with scopes_disabled():
        assert not ReportSchedule.objects.filter(organization=acme).exists()


@pytest.mark.django_db
def test_a_manager_edits_and_deletes_a_schedule_and_its_reports_stay(acme, admin, manager, login):
    schedule = make_schedule(acme, admin)
    stored_report(acme, schedule=schedule)
    client = login(manager)

    client.post(
        url("schedule_edit", schedule_id=schedule.pk),
        {
            "name": "Board",
            "frequency": "monthly",
            "day_of_month": "2",
            "hour": "9",
            "emails": "board@example.org",
        },
    )
    with scopes_disabled():
        schedule.refresh_from_db()
    assert (schedule.name, schedule.day_of_month, schedule.is_enabled) == ("Board", 2, False)
    assert schedule.next_run_at is None  # paused: never due

    assert client.post(url("schedule_delete", schedule_id=schedule.pk)).status_code == 302
    with scopes_disabled():
        assert not ReportSchedule.objects.filter(pk=schedule.pk).exists()
    [report] = reports(acme)
    assert report.schedule_id is None


@pytest.mark.django_db
def test_generate_now_stores_the_last_full_week_without_e_mailing(acme, manager, login):
    response = login(manager).post(url("executive_generate"), {"frequency": "weekly"})

    assert response.status_code == 302
    [report] = reports(acme)
    assert report.generated_by == manager
    assert report.schedule_id is None
    assert (report.period_end - report.period_start).days == 6
    assert report.period_start.weekday() == 0
    assert report.page_count >= 1
    with scopes_disabled():
        assert not Delivery.objects.filter(idempotency_key__startswith="executive:").exists()
