"""Retention policies: the enabled frameworks' minimums, named when a policy is too short."""

import pytest
from django.core.exceptions import ValidationError
from django_scopes import scopes_disabled

from compliance.frameworks import ensure_frameworks
from compliance.models import Framework, FrameworkKey, RecordType
from compliance.retention import services
from compliance.retention.models import RetentionPolicy
from tenancy.scoping import org_scope

pytestmark = pytest.mark.django_db


def policies(org):
    with scopes_disabled():
        return list(RetentionPolicy.objects.filter(organization=org))


def save(*, organization, **kwargs):
    with org_scope(organization):
        return services.retention_policy_save(organization=organization, **kwargs)


def only_enabled(org, *keys):
    ensure_frameworks(org.pk)
    with scopes_disabled():
        Framework.objects.filter(organization=org).exclude(key__in=keys).update(enabled=False)


def test_a_policy_shorter_than_sox_is_refused_naming_sox(acme, admin):
    only_enabled(acme, FrameworkKey.SOX, FrameworkKey.HIPAA)
    five_years = services.duration_days(years=5)
    with pytest.raises(ValidationError, match=r"at least 7 years while SOX is enabled"):
        save(
            organization=acme,
            actor=admin,
            record_type=RecordType.AUDIT_ENTRIES,
            days=five_years,
            action="delete",
        )
    assert policies(acme) == []


def test_with_sox_off_hipaa_six_years_is_the_minimum(acme, admin):
    only_enabled(acme, FrameworkKey.HIPAA)
    with pytest.raises(ValidationError, match=r"at least 6 years while HIPAA is enabled"):
        save(
            organization=acme,
            actor=admin,
            record_type=RecordType.AUDIT_ENTRIES,
            days=services.duration_days(years=6) - 1,
            action="delete",
        )
    policy = save(
        organization=acme,
        actor=admin,
        record_type=RecordType.AUDIT_ENTRIES,
        days=services.duration_days(years=6),
        action="delete",
    )
    assert policy.days == services.duration_days(years=6)


def test_exactly_the_minimum_is_accepted_and_a_second_save_changes_the_same_row(acme, admin):
    ensure_frameworks(acme.pk)  # all enabled: SOX asks 7 years of incidents
    seven = services.duration_days(years=7)
    save(
        organization=acme,
        actor=admin,
        record_type=RecordType.INCIDENTS,
        days=seven,
        action="anonymise",
    )
    save(
        organization=acme,
        actor=admin,
        record_type=RecordType.INCIDENTS,
        days=seven + 30,
        action="anonymise",
    )
    [policy] = policies(acme)
    assert policy.days == seven + 30
    assert policy.updated_by == admin


def test_a_disabled_framework_sets_no_minimum(no_minimums, admin):
    policy = save(
        organization=no_minimums,
        actor=admin,
        record_type=RecordType.AUDIT_ENTRIES,
        days=30,
        action="delete",
    )
    assert policy.days == 30


@pytest.mark.parametrize(
    ("record_type", "action", "message"),
    [
        (RecordType.INCIDENTS, "delete", "can only be anonymised"),
        (RecordType.ALERTS, "anonymise", "can only be deleted"),
    ],
)
def test_an_action_the_record_type_does_not_support_is_refused(
    no_minimums, admin, record_type, action, message
):
    with pytest.raises(ValidationError, match=message):
        save(organization=no_minimums, actor=admin, record_type=record_type, days=30, action=action)
    assert policies(no_minimums) == []


@pytest.mark.parametrize("days", [0, -5])
def test_a_duration_under_one_day_is_refused(no_minimums, admin, days):
    with pytest.raises(ValidationError):
        save(
            organization=no_minimums,
            actor=admin,
            record_type=RecordType.ALERTS,
            days=days,
            action="delete",
        )


def test_another_organisations_frameworks_do_not_count(acme, globex, admin):
    only_enabled(acme)  # all of acme's off
    ensure_frameworks(globex.pk)  # all of globex's on
    policy = save(
        organization=acme,
        actor=admin,
        record_type=RecordType.AUDIT_ENTRIES,
        days=10,
        action="delete",
    )
    assert policy.days == 10


def test_seven_years_is_counted_in_calendar_days():
    import datetime as dt

    assert services.duration_days(years=7, today=dt.date(2026, 11, 27)) == 2557
    assert services.duration_days(years=1, today=dt.date(2024, 3, 1)) == 366
