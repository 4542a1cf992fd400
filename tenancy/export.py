"""Per-organisation data export for portability (issue 11): one JSON document with every row
the organisation owns, written as it is read so that a large organisation never sits in memory.

Which models: every model of a Vigil app with an `organization` foreign key to Organization
(found at run time, so a new tenant model is exported without touching this file), minus
`EXCLUDED_MODELS` (each with its reason). Which fields: every concrete field by its column
name (`severity_id`, not the related object), many-to-many fields as lists of primary keys,
binary fields in base64; `REDACTED_FIELDS` (secrets, their hashes, tokens) are written as
"[redacted]". Members are listed with their e-mail address, name and role; users' password
hashes are never read. Masked PII is exported as stored (it is the organisation's own data;
docs/operations.md says so).

The document, read in one transaction inside `org_scope(org)` (READ COMMITTED: each table as
it is when its turn comes; rows written during a long export may or may not be in it):

    {"format": "vigil-org-export", "version": 1, "organization": {…}, "generated_at": "…",
     "members": [{"user_id", "email", "full_name", "role"}, …],
     "models": {"incidents.Incident": [{…}, …], …},
     "counts": {"incidents.Incident": 1234, …}, "redacted": {"integrations.AlertSource": [...]}}
"""

import base64
import json
from collections.abc import Iterator

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils import timezone

from tenancy.models import Membership, Organization
from tenancy.scoping import org_scope

FORMAT = "vigil-org-export"
VERSION = 1
REDACTED = "[redacted]"
CHUNK = 2000
# Above this many incidents the web page refuses and points to `manage.py export_org`: the
# download must finish within gunicorn's --timeout (60 s), and bigger exports take longer
# (docs/operations.md, "Exporting an organisation's data", has the measured rates).
WEB_MAX_INCIDENTS = 20_000

VIGIL_APPS = {
    "tenancy",
    "taxonomy",
    "incidents",
    "incident_channels",
    "statuspage",
    "integrations",
    "postmortems",
    "compliance",
    "compliance_reports",
    "compliance_reviews",
    "compliance_retention",
    "reporting",
    "ticketing",
    "api",
}

# Tenant models left out of the export, each with its reason ("app_label.Model").
EXCLUDED_MODELS = {
    "reporting.Rollup": "derived numbers, rebuilt from the incidents (refresh_rollups)",
    "reporting.RollupBar": "derived numbers, rebuilt from the incidents (refresh_rollups)",
    "reporting.RollupDay": "derived numbers, rebuilt from the incidents (refresh_rollups)",
    "reporting.RollupDirty": "derived bookkeeping of the roll-ups",
    "integrations.SignatureSeen": "replay guard for HMAC signatures: bookkeeping, not data",
    "api.IdempotencyRecord": "which request an Idempotency-Key answered, kept 24 hours",
}

# Secret fields: the row is exported, the value replaced by "[redacted]".
REDACTED_FIELDS = {
    "tenancy.Invitation": {"token_hash"},
    "integrations.AlertSource": {
        "secret_hash",
        "previous_secret_hash",
        "hmac_secret",
        "previous_hmac_secret",
        "outbound_secret",
    },
    "integrations.PagerDutyService": {"routing_key", "webhook_secret"},
    "incidents.ChatWebhook": {"url"},  # a chat incoming-webhook URL is its own credential
    "incident_channels.ChannelSettings": {"slack_token"},
    "reporting.ExposureFeedToken": {"token_hash"},
    "api.ApiToken": {"secret_hash"},
    "ticketing.TicketIntegration": {"credential_encrypted", "webhook_secret_hash"},
}


def tenant_models() -> list[type[models.Model]]:
    """Every model of a Vigil app whose `organization` is a foreign key to Organization."""
    found = []
    for model in apps.get_models():
        if model._meta.app_label not in VIGIL_APPS:
            continue
        try:
            field = model._meta.get_field("organization")
        except FieldDoesNotExist:  # not a tenant model
            continue
        if getattr(field, "related_model", None) is Organization:
            found.append(model)
    return sorted(found, key=lambda m: m._meta.label)


def exported_models() -> list[type[models.Model]]:
    return [m for m in tenant_models() if m._meta.label not in EXCLUDED_MODELS]


def _value(field: models.Field, obj: models.Model):
    value = getattr(obj, field.attname)
    if isinstance(value, memoryview | bytes | bytearray) and value is not None:
        return {"base64": base64.b64encode(bytes(value)).decode()}
    return value


def _rows(model, organization: Organization) -> Iterator[dict]:
    label = model._meta.label
    redacted = REDACTED_FIELDS.get(label, set())
    fields = list(model._meta.concrete_fields)
    m2m = [f.name for f in model._meta.many_to_many]
    queryset = model._default_manager.filter(organization=organization).order_by("pk")
    if m2m:
        queryset = queryset.prefetch_related(*m2m)
    for obj in queryset.iterator(chunk_size=CHUNK):
        row = {}
        for field in fields:
            if field.name in redacted:
                empty = getattr(obj, field.attname) in (None, "", b"")
                row[field.attname] = "" if empty else REDACTED
            else:
                row[field.attname] = _value(field, obj)
        for name in m2m:
            row[name] = sorted(related.pk for related in getattr(obj, name).all())
        yield row


def _dump(value) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False)


def stream(organization: Organization) -> Iterator[str]:
    """The export as chunks of JSON text (one row per chunk, after a small header)."""
    with org_scope(organization), transaction.atomic():  # scope first: RLS reads it at BEGIN
        header = {
            "format": FORMAT,
            "version": VERSION,
            "generated_at": timezone.now(),
            "organization": {
                "id": organization.pk,
                "slug": organization.slug,
                "name": organization.name,
                "key_prefix": organization.key_prefix,
                "timezone": organization.timezone,
            },
            "excluded": EXCLUDED_MODELS,
            "redacted": {k: sorted(v) for k, v in sorted(REDACTED_FIELDS.items())},
        }
        yield _dump(header)[:-1] + ', "members": ['
        members = (
            Membership.objects.filter(organization=organization)
            .select_related("user")
            .order_by("pk")
        )
        for n, member in enumerate(members.iterator(chunk_size=CHUNK)):
            yield ("," if n else "") + _dump(
                {
                    "user_id": member.user_id,
                    "email": member.user.email,
                    "full_name": member.user.full_name,
                    "role": member.role,
                }
            )
        yield '], "models": {'
        counts = {}
        for m, model in enumerate(exported_models()):
            label = model._meta.label
            yield ("," if m else "") + _dump(label) + ": ["
            count = 0
            for row in _rows(model, organization):
                yield ("," if count else "") + "\n" + _dump(row)
                count += 1
            counts[label] = count
            yield "]"
        yield '}, "counts": ' + _dump(counts) + "}\n"


def write(organization: Organization, out) -> int:
    """Write the export to a text file object; returns the characters written."""
    written = 0
    for chunk in stream(organization):
        out.write(chunk)
        written += len(chunk)
    return written


def record(organization: Organization, *, actor, origin: str):
    """The export in the audit trail: who took the organisation's data, and from where."""
    from django.contrib.contenttypes.models import ContentType

    from tenancy.models import AuditEntry

    with org_scope(organization):
        return AuditEntry.objects.create(
            organization=organization,
            content_type=ContentType.objects.get_for_model(Organization),
            object_pk=str(organization.pk),
            object_id=organization.pk,
            object_repr=str(organization),
            action=AuditEntry.Action.ACCESS,
            changes_text=f"exported all of the organisation's data as JSON ({origin})",
            actor=actor,
            actor_email=getattr(actor, "email", ""),
            additional_data={"export": {"format": FORMAT, "version": VERSION, "via": origin}},
        )
