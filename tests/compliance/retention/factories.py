"""Helpers for the retention tests: old closed incidents, alert payloads and audit entries,
backdated; frameworks switched off; full row dumps to prove held data did not change."""

import datetime as dt

from django.db import connection
from django.utils import timezone
from django_scopes import scopes_disabled

from compliance.frameworks import ensure_frameworks
from compliance.models import Framework
from compliance.retention import services
from incidents.lifecycle import Status
from incidents.models import Incident
from integrations.models import Alert, AlertGroup, AlertSource, RawPayload
from tenancy.models import AuditEntry
from tenancy.scoping import org_scope
from tests.incidents.factories import bring_to, declare, document, fresh

DAY = dt.timedelta(days=1)


def days_ago(n: float) -> dt.datetime:
    return timezone.now() - n * DAY


def switch_off_frameworks(org) -> None:
    """Seed the organisation's frameworks and switch them all off: no minimum applies."""
    ensure_frameworks(org.pk)
    with scopes_disabled():
        Framework.objects.filter(organization=org).update(enabled=False)


def set_policy(org, actor, record_type, days, action=None):
    from compliance.records import REGISTRY

    with org_scope(org):
        return services.retention_policy_save(
            organization=org,
            actor=actor,
            record_type=record_type,
            days=days,
            action=action or REGISTRY[record_type].actions[0],
        )


def closed_incident(org, actor, *, closed_days_ago, title="Old outage", **fields) -> Incident:
    """A documented incident walked to closed, then backdated: closed `closed_days_ago`
    days ago, detected a day before that."""
    incident = document(declare(org, actor, title=title, **fields), actor)
    incident = bring_to(incident, Status.CLOSED, actor)
    with scopes_disabled():
        Incident.objects.filter(pk=incident.pk).update(
            closed_at=days_ago(closed_days_ago), detected_at=days_ago(closed_days_ago + 1)
        )
    return fresh(incident)


def alert_source(org, **fields):
    with scopes_disabled():
        source = AlertSource(organization=org, name=fields.pop("name", "prod"), kind="generic")
        for name, value in fields.items():
            setattr(source, name, value)
        source.set_secret("s3cret-" + "x" * 30)
        source.save()
        return source


def payload(source, *, received_days_ago, incident=None, fingerprint="fp") -> RawPayload:
    """A raw payload with one alert, in a group (linked to `incident` when given)."""
    with scopes_disabled():
        received = days_ago(received_days_ago)
        raw = RawPayload.objects.create(
            organization_id=source.organization_id,
            source=source,
            received_at=received,
            body='{"alerts": []}',
            status="processed",
            alert_count=1,
        )
        group = AlertGroup.objects.create(
            organization_id=source.organization_id,
            source=source,
            fingerprint=f"{fingerprint}-{raw.pk}",
            title="HighErrorRate",
            first_seen=received,
            last_seen=received,
            incident=incident,
        )
        Alert.objects.create(
            organization_id=source.organization_id,
            source=source,
            raw=raw,
            group=group,
            fingerprint=group.fingerprint,
            status="firing",
            title="HighErrorRate",
            received_at=received,
        )
        return raw


def audit_entries(org) -> list[AuditEntry]:
    with scopes_disabled():
        return list(AuditEntry.objects.filter(organization=org).order_by("pk"))


TABLES = {
    "incidents_incident": "id",
    "incidents_timelineevent": "incident_id",
    "incidents_verification": "incident_id",
    "incidents_incident_watchers": "incident_id",
    "postmortems_postmortemdecision": "incident_id",
    "compliance_incidentfacts": "incident_id",
}


def dump_incidents(incident_ids) -> dict[str, list[str]]:
    """Every row of the incidents (and of the rows that hang off them), as JSON text, in
    id order — compared before and after to prove a purge left them bit-identical."""
    ids = list(incident_ids)
    result = {}
    with connection.cursor() as cursor:
        for table, column in TABLES.items():
            cursor.execute(
                f"SELECT row_to_json(t)::text FROM {table} t "  # noqa: S608 — fixed table names
                f"WHERE t.{column} = ANY(%s) ORDER BY t.id",
                [ids],
            )
            result[table] = [row[0] for row in cursor.fetchall()]
    return result


def dump_table(table: str, ids) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT row_to_json(t)::text FROM {table} t WHERE t.id = ANY(%s) ORDER BY t.id",  # noqa: S608
            [list(ids)],
        )
        return [row[0] for row in cursor.fetchall()]
