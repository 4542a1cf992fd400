"""The record types this app registers with compliance.records: incidents, alerts (raw
payloads with their alerts), audit entries. Reports are registered by compliance.reports.

Incidents are anonymised, never deleted: post-mortems protect their incident, duplicates point
at their primary, and an incident's number must not be reused. Anonymising replaces every free
text (title, description, summaries, custom fields, timeline, status updates, war room,
hand-offs, questions, verifications, post-mortem) and unlinks the people (commander, reporter,
watchers, roles, grants, authors). Only closed incidents are ever touched.

Alerts go payload by payload (deleting a payload deletes its alerts); a payload whose alerts
belong to a group linked to an incident that is not closed stays, so no open incident loses its
alerts. Groups emptied by the purge go too.

Audit entries go oldest first, as one unbroken run from the start of the organisation's chain:
the first entry that must stay (young enough, or held) ends the run, so the hash chain still
verifies from its new anchor (compliance.models.AuditChain)."""

from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import Q, QuerySet

from compliance.models import AuditChain, IncidentFacts, IncidentObligation, RecordType
from compliance.records import Retained, register
from compliance.retention.models import AnonymisedIncident
from incidents.channels.models import WarRoomMessage
from incidents.lifecycle import Status
from incidents.models import (
    Handoff,
    ImpactPeriod,
    Incident,
    IncidentGroupObjectPermission,
    IncidentRole,
    IncidentUserObjectPermission,
    Notification,
    OpenQuestion,
    OwnershipRequest,
    StatusUpdate,
    TimelineEvent,
    Verification,
)
from integrations.models import Alert, AlertGroup, RawPayload
from postmortems.models import ActionItem, FishboneCause, PostMortem, PostMortemApproval, WhyStep
from tenancy.audit import lock_chains, retention_gate
from tenancy.models import AuditEntry

ANONYMISED_TITLE = "Removed under the retention policy"
REMOVED = "[removed under the retention policy]"
BATCH = 1000


def table_bytes(queryset: QuerySet) -> int:
    """An estimate of the rows' size: the sum of pg_column_size over each row (no indexes,
    no TOAST overhead, no dead tuples)."""
    model = queryset.model
    inner = queryset.order_by().values("pk").query
    sql, params = inner.sql_with_params()
    table = connection.ops.quote_name(model._meta.db_table)
    pk = connection.ops.quote_name(model._meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT coalesce(sum(pg_column_size(t.*)), 0) FROM {table} t "  # noqa: S608 — identifiers from model meta
            f"WHERE t.{pk} IN ({sql})",
            params,
        )
        return int(cursor.fetchone()[0])


def _chunks(ids: list, size: int = BATCH):
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


# — incidents ——————————————————————————————————————————————————————————————————————————


def incident_rows(org_id: int) -> QuerySet:
    return Incident.objects.filter(organization_id=org_id)


def incident_eligible(candidates: QuerySet, org_id: int) -> QuerySet:
    """Closed incidents only, and not twice."""
    done = AnonymisedIncident.objects.filter(organization_id=org_id).values("incident_id")
    return candidates.filter(status=Status.CLOSED).exclude(pk__in=done)


def incident_anonymise(queryset: QuerySet) -> int:
    """Replace the free text and unlink the people of the given closed incidents, and of
    everything that hangs off them. Rows that cannot exist without a person (roles, grants,
    hand-offs, ownership requests, approvals) are deleted."""
    ids = list(queryset.filter(status=Status.CLOSED).values_list("pk", flat=True))
    for chunk in _chunks(ids):
        _anonymise_incidents(chunk)
    return len(ids)


def _anonymise_incidents(ids: list[int]) -> None:
    Incident.objects.filter(pk__in=ids).update(
        title=ANONYMISED_TITLE,
        description="",
        impact_summary="",
        resolution_summary="",
        custom_fields={},
        commander=None,
        reporter=None,
    )
    Incident.watchers.through.objects.filter(incident_id__in=ids).delete()
    IncidentUserObjectPermission.objects.filter(content_object_id__in=ids).delete()
    IncidentGroupObjectPermission.objects.filter(content_object_id__in=ids).delete()
    IncidentRole.objects.filter(incident_id__in=ids).delete()
    TimelineEvent.objects.filter(incident_id__in=ids).update(message=REMOVED, data={}, actor=None)
    StatusUpdate.objects.filter(incident_id__in=ids).update(
        current_status="", impact="", workaround="", body=REMOVED, author=None
    )
    WarRoomMessage.objects.filter(incident_id__in=ids).update(text=REMOVED, author=None)
    OpenQuestion.objects.filter(incident_id__in=ids).update(
        text=REMOVED[:200], answer="", asked_by=None, answered_by=None, handoff=None
    )
    Handoff.objects.filter(incident_id__in=ids).delete()
    OwnershipRequest.objects.filter(incident_id__in=ids).delete()
    Verification.objects.filter(incident_id__in=ids).update(
        note="", evidence="", url="", error="", confirmer=None
    )
    ImpactPeriod.objects.filter(incident_id__in=ids).update(reopen_reason="")
    Notification.objects.filter(incident_id__in=ids).update(title=ANONYMISED_TITLE, body="")
    IncidentFacts.objects.filter(incident_id__in=ids).update(
        data_categories="", notes="", updated_by=None
    )
    IncidentObligation.objects.filter(incident_id__in=ids).update(
        submitted_by=None, submission_reference=""
    )
    postmortems = PostMortem.objects.filter(incident_id__in=ids)
    postmortems.update(
        title=ANONYMISED_TITLE,
        owner=None,
        summary="",
        customer_impact="",
        business_impact="",
        detection="",
        response="",
        recovery="",
        contributing_factors="",
        what_went_well="",
        lessons_learned="",
        timeline=[],
        search_vector=None,
    )
    PostMortemApproval.objects.filter(postmortem__in=postmortems).delete()
    WhyStep.objects.filter(postmortem__in=postmortems).update(why=REMOVED[:200], because="")
    FishboneCause.objects.filter(postmortem__in=postmortems).update(text=REMOVED[:200])
    ActionItem.objects.filter(postmortem__in=postmortems).update(
        title=REMOVED[:200], description="", owner=None
    )
    org_of = dict(Incident.objects.filter(pk__in=ids).values_list("pk", "organization_id"))
    AnonymisedIncident.objects.bulk_create(
        [AnonymisedIncident(organization_id=org_of[pk], incident_id=pk) for pk in ids],
        ignore_conflicts=True,
    )


# — alerts and raw payloads ————————————————————————————————————————————————————————————

NOT_FINISHED = [s for s in Status.values if s not in (Status.CLOSED,)]


def payload_rows(org_id: int) -> QuerySet:
    return RawPayload.objects.filter(organization_id=org_id)


def payload_eligible(candidates: QuerySet, org_id: int) -> QuerySet:
    """Not a payload whose alerts are linked (through their group) to an incident that is
    still going or may be reopened."""
    linked = RawPayload.objects.filter(
        organization_id=org_id, alerts__group__incident__status__in=NOT_FINISHED
    ).values("pk")
    return candidates.exclude(pk__in=linked)


def payload_delete(queryset: QuerySet) -> int:
    ids = list(queryset.values_list("pk", flat=True))
    for chunk in _chunks(ids):
        group_ids = set(
            Alert.objects.filter(raw_id__in=chunk).values_list("group_id", flat=True).distinct()
        )
        RawPayload.objects.filter(pk__in=chunk).delete()
        group_ids.discard(None)
        AlertGroup.objects.filter(pk__in=group_ids, alerts__isnull=True).exclude(
            incident__status__in=NOT_FINISHED
        ).delete()
    return len(ids)


def payload_bytes(queryset: QuerySet) -> int:
    return table_bytes(queryset) + table_bytes(Alert.objects.filter(raw__in=queryset.values("pk")))


# — audit entries ——————————————————————————————————————————————————————————————————————


def audit_rows(org_id: int) -> QuerySet:
    return AuditEntry.objects.filter(organization_id=org_id)


def audit_eligible(candidates: QuerySet, org_id: int) -> QuerySet:
    """The unbroken run of the oldest entries: stop at the first entry that must stay."""
    first_kept = (
        audit_rows(org_id)
        .exclude(pk__in=candidates.values("pk"))
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )
    if first_kept is None:
        return candidates
    return candidates.filter(pk__lt=first_kept)


def audit_hold_filter(hold) -> Q | None:
    """Entries about a held incident or a held service (the objects themselves)."""
    incident_ids = [str(pk) for pk in hold.incidents.values_list("pk", flat=True)]
    service_ids = [str(pk) for pk in hold.services.values_list("pk", flat=True)]
    q = Q(pk__in=[])
    if incident_ids:
        q |= Q(content_type=ContentType.objects.get_for_model(Incident), object_pk__in=incident_ids)
    if service_ids:
        from taxonomy.models import Service

        q |= Q(content_type=ContentType.objects.get_for_model(Service), object_pk__in=service_ids)
    return q if (incident_ids or service_ids) else None


def audit_delete(queryset: QuerySet) -> int:
    """Remove the entries oldest first through the retention gate, then move the chain's
    anchor to the last one removed. The only code that removes audit rows."""
    entries = list(queryset.order_by("pk").values_list("pk", "entry_hash", "organization_id"))
    if not entries:
        return 0
    lock_chains({org_id for _, _, org_id in entries})  # no entry links in while the anchor moves
    with retention_gate():
        for chunk in _chunks(entries):
            AuditEntry.objects.filter(pk__in=[pk for pk, _, _ in chunk]).delete()
        last_pk, last_hash, org_id = entries[-1]
        chain = AuditChain.objects.select_for_update().filter(organization_id=org_id).first()
        if chain is None:
            chain = AuditChain(organization_id=org_id)
        chain.anchor_hash = last_hash
        chain.anchor_entry_id = last_pk
        chain.save()
    return len(entries)


def register_record_types() -> None:
    register(
        Retained(
            key=RecordType.INCIDENTS,
            label="Incidents (closed)",
            rows=incident_rows,
            date_field="closed_at",
            incident_path="pk",
            service_path="primary_service",
            extra_service_paths=("affected_services",),
            period=("detected_at", "closed_at"),
            purge=incident_anonymise,
            tables=("incidents_incident",),
            actions=("anonymise",),
            eligible=incident_eligible,
        )
    )
    register(
        Retained(
            key=RecordType.ALERTS,
            label="Alerts and raw payloads",
            rows=payload_rows,
            date_field="received_at",
            incident_path="alerts__group__incident",
            service_path="alerts__group__incident__primary_service",
            extra_service_paths=(
                "alerts__group__incident__affected_services",
                "source__default_service",
            ),
            purge=payload_delete,
            tables=("integrations_rawpayload", "integrations_alert"),
            eligible=payload_eligible,
            measure=payload_bytes,
        )
    )
    register(
        Retained(
            key=RecordType.AUDIT_ENTRIES,
            label="Audit entries",
            rows=audit_rows,
            date_field="timestamp",
            purge=audit_delete,
            tables=("tenancy_auditentry",),
            eligible=audit_eligible,
            hold_filter=audit_hold_filter,
        )
    )
