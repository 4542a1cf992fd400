"""manage.py generate_incidents: set-based bulk incidents for load tests and benchmarks."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F, Q
from django_scopes import scopes_disabled

from incidents.models import ImpactPeriod, Incident, KeyCounter, SlaTimer
from taxonomy.models import Service
from tenancy.roles import Role

from .factories import ServiceFactory, declare


def generate(*args: str) -> str:
    out = io.StringIO()
    call_command("generate_incidents", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def seeded(acme, make_member):
    make_member(acme, Role.RESPONDER)
    make_member(acme, Role.MANAGER)
    with scopes_disabled():
        for name in ("payments-api", "checkout", "ledger"):
            ServiceFactory(organization=acme, name=name)
    return acme


@pytest.mark.django_db
def test_generates_consistent_incidents_and_later_declarations_still_work(
    seeded, make_member, settings
):
    settings.DEBUG = True
    declare(seeded, make_member(seeded, Role.RESPONDER).user)  # ACME-1 exists beforehand

    assert "500 incidents created in acme" in generate("--org", "acme", "--count", "500")

    with scopes_disabled():
        generated = Incident.objects.filter(organization=seeded, number__gt=1)
        assert generated.count() == 500
        assert Incident.objects.filter(organization=seeded).values("key").distinct().count() == 501
        assert set(generated.values_list("number", flat=True)) == set(range(2, 502))
        assert KeyCounter.objects.get(organization=seeded).last_number == 501
        # Timestamps in lifecycle order, whatever the status.
        for earlier, later in [
            ("detected_at", "reported_at"),
            ("reported_at", "acknowledged_at"),
            ("acknowledged_at", "mitigated_at"),
            ("mitigated_at", "resolved_at"),
            ("detected_at", "resolved_at"),
            ("resolved_at", "closed_at"),
        ]:
            assert not generated.filter(**{f"{later}__lt": F(earlier)}).exists(), later
        assert not generated.filter(status="closed", closed_at__isnull=True).exists()
        assert not generated.filter(status="resolved", resolved_at__isnull=True).exists()
        spread = generated.order_by("reported_at")
        first, last = spread.first().reported_at, spread.last().reported_at
        assert (last - first).days > 2 * 365
        # A realistic mix: excluded ones, reopened ones with two impact periods, alerts.
        statuses = set(generated.values_list("status", flat=True))
        assert {"closed", "dismissed", "duplicate"} <= statuses
        assert generated.filter(source="alert").count() > 50
        assert generated.exclude(kind="real").exists()
        assert not generated.filter(status="duplicate", duplicate_of__isnull=True).exists()
        reopened = generated.filter(reopen_count__gt=0)
        assert reopened.exists()
        for incident in reopened:
            periods = list(ImpactPeriod.objects.filter(incident=incident).order_by("number"))
            assert [p.number for p in periods] == [1, 2]
            assert periods[0].ended_at <= periods[1].started_at <= incident.resolved_at
        timers = SlaTimer.objects.filter(incident__in=generated)
        assert timers.filter(met_at__isnull=False, breached_at__isnull=True).exists()
        assert timers.filter(breached_at__isnull=False).exists()
        assert not timers.filter(Q(met_at__lt=F("started_at"))).exists()
        services = set(Service.objects.filter(organization=seeded).values_list("pk", flat=True))
        assert set(generated.values_list("primary_service", flat=True)) <= services | {None}

    incident = declare(seeded, make_member(seeded, Role.RESPONDER).user)
    assert incident.number == 502
    assert incident.key == "ACME-502"


@pytest.mark.django_db
def test_same_seed_gives_the_same_incidents(seeded, globex, settings):
    settings.DEBUG = True
    generate("--org", "acme", "--count", "50", "--seed", "7")
    with scopes_disabled():
        first = list(
            Incident.objects.filter(organization=seeded)
            .order_by("number")
            .values_list("status", "severity__level", "reopen_count")
        )
        Incident.objects.filter(organization=seeded).update(duplicate_of=None)
        Incident.objects.filter(organization=seeded).delete()
        KeyCounter.objects.filter(organization=seeded).update(last_number=0)
    generate("--org", "acme", "--count", "50", "--seed", "7")
    with scopes_disabled():
        again = list(
            Incident.objects.filter(organization=seeded)
            .order_by("number")
            .values_list("status", "severity__level", "reopen_count")
        )
    assert again == first


@pytest.mark.django_db
def test_refuses_an_unknown_organisation_and_outside_debug_without_force(seeded, settings):
    settings.DEBUG = True
    with pytest.raises(CommandError, match="No organisation with the slug 'nope'"):
        generate("--org", "nope", "--count", "5")
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG is off"):
        generate("--org", "acme", "--count", "5")
    with scopes_disabled():
        assert not Incident.objects.filter(organization=seeded).exists()
    generate("--org", "acme", "--count", "5", "--force")
    with scopes_disabled():
        assert Incident.objects.filter(organization=seeded).count() == 5
