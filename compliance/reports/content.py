"""What a regulatory report says, as plain data, and the hash of it.

`build_content()` gathers everything a report shows — the organisation's header, the obligation
(reference, recipients, rule, deadline), the format's own fixed fields, the obligation's mapped
sections (`compliance.mapping.sections`), and for the SOX evidence pack the incident's timeline
and audit entries — already formatted for display (times in the organisation's time zone) and
already masked (`compliance.masking`, reveal decided by the generating user's role). The PDF
template renders this dict and nothing else about the incident.

What is hashed (`content_hash`): the sha256 of this dict serialised as canonical JSON (keys
sorted, no whitespace, UTF-8). It therefore covers every word the report shows except three
things that are printed but deliberately *not* hashed: the version number, the generation time
and who generated it. Same data → same hash, whoever regenerates it and whenever; any changed
value, missing value filled in, new timeline or audit entry, or different masking → another
hash. The obligation's status is not part of the content (generating a report changes it)."""

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

from compliance import mapping
from compliance.masking import mask_text, mask_value
from compliance.models import IncidentFacts, IncidentObligation, Obligation, ReportFormat
from incidents.models import Incident, TimelineEvent
from taxonomy.models import CustomFieldDefinition
from tenancy.models import AuditEntry, Organization, User

SCHEMA = 1
_EMPTY_RELATION = re.compile(r"^[\w.]+\.None$")
NOT_YET_KNOWN = "not yet known"


@dataclass(frozen=True)
class FormatSpec:
    title: str
    basis: str
    # (label, field reference or a constant prefixed "=") — the format's own mandatory fields.
    fixed: tuple[tuple[str, str], ...]
    evidence: bool = False  # the SOX pack: timeline and audit entries too


_ENTITY = "=organization"

FORMATS: dict[str, FormatSpec] = {
    ReportFormat.GDPR_ART33: FormatSpec(
        title="Notification of a personal data breach to the supervisory authority",
        basis="Regulation (EU) 2016/679 (GDPR), Article 33",
        fixed=(
            ("Controller", _ENTITY),
            ("Date and time the controller became aware", "facts.aware_at"),
            ("Date and time of detection", "incident.detected_at"),
            ("Nature of the personal data breach", "incident.description"),
            ("Categories of personal data concerned", "facts.data_categories"),
            ("Approximate number of data subjects concerned", "facts.subjects_affected"),
            ("Likely consequences of the breach", "incident.impact_summary"),
            ("Measures taken or proposed", "incident.resolution_summary"),
            ("Contact point (DPO or other)", "incident.commander"),
        ),
    ),
    ReportFormat.GDPR_ART34: FormatSpec(
        title="Communication of a personal data breach to the data subjects",
        basis="Regulation (EU) 2016/679 (GDPR), Article 34",
        fixed=(
            ("Controller", _ENTITY),
            ("Nature of the personal data breach", "incident.description"),
            ("Likely consequences of the breach", "incident.impact_summary"),
            ("Measures taken or proposed", "incident.resolution_summary"),
            ("Contact point (DPO or other)", "incident.commander"),
        ),
    ),
    ReportFormat.HIPAA_BREACH: FormatSpec(
        title="Breach of unsecured protected health information",
        basis="45 CFR §§ 164.404–164.408 (HIPAA Breach Notification Rule)",
        fixed=(
            ("Covered entity", _ENTITY),
            ("Date of breach", "incident.detected_at"),
            ("Date of discovery", "facts.aware_at"),
            ("Type of breach", "incident.category"),
            ("Location of breached information", "incident.primary_service"),
            ("Type of protected health information involved", "facts.data_categories"),
            ("Number of individuals affected", "facts.subjects_affected"),
            ("Residents affected in the most affected state", "facts.residents_most_in_one_state"),
            ("Brief description of the breach", "incident.description"),
            ("Safeguards in place and actions taken", "incident.resolution_summary"),
            ("Contact for more information", "incident.commander"),
        ),
    ),
    ReportFormat.SEC_8K: FormatSpec(
        title="Form 8-K, Item 1.05 Material Cybersecurity Incidents (draft)",
        basis="Securities Exchange Act of 1934; Form 8-K Item 1.05",
        fixed=(
            ("Registrant", _ENTITY),
            ("Item", "=Item 1.05 Material Cybersecurity Incidents"),
            ("Date of the materiality determination", "facts.materiality_determined_at"),
            ("Nature of the incident", "incident.description"),
            ("Scope of the incident", "incident.affected_services"),
            ("Timing of the incident (detected)", "incident.detected_at"),
            ("Material impact or reasonably likely material impact", "incident.impact_summary"),
        ),
    ),
    ReportFormat.DORA_INITIAL: FormatSpec(
        title="Initial notification of a major ICT-related incident",
        basis="Regulation (EU) 2022/2554 (DORA), Article 19(4)(a)",
        fixed=(
            ("Financial entity", _ENTITY),
            ("Incident reference code", "incident.key"),
            ("Date and time of detection", "incident.detected_at"),
            ("Date and time of classification as major", "facts.classified_at"),
            ("Classified as a major ICT-related incident", "facts.major_ict"),
            ("Description of the incident", "incident.description"),
            ("Affected services", "incident.affected_services"),
        ),
    ),
    ReportFormat.DORA_INTERMEDIATE: FormatSpec(
        title="Intermediate report on a major ICT-related incident",
        basis="Regulation (EU) 2022/2554 (DORA), Article 19(4)(b)",
        fixed=(
            ("Financial entity", _ENTITY),
            ("Incident reference code", "incident.key"),
            ("Date and time of classification as major", "facts.classified_at"),
            ("Current status", "incident.status"),
            ("Date and time of recovery", "incident.mitigated_at"),
            ("Impact", "incident.impact_summary"),
            ("Clients and counterparts affected", "facts.subjects_affected"),
            ("Root cause (if known)", "incident.root_cause_category"),
        ),
    ),
    ReportFormat.DORA_FINAL: FormatSpec(
        title="Final report on a major ICT-related incident",
        basis="Regulation (EU) 2022/2554 (DORA), Article 19(4)(c)",
        fixed=(
            ("Financial entity", _ENTITY),
            ("Incident reference code", "incident.key"),
            ("Root cause", "incident.root_cause_category"),
            ("Resolution", "incident.resolution_summary"),
            ("Date and time the incident was resolved", "incident.resolved_at"),
            ("Overall impact", "incident.impact_summary"),
        ),
    ),
    ReportFormat.SOX_EVIDENCE: FormatSpec(
        title="Incident evidence pack (IT general controls)",
        basis="Sarbanes-Oxley Act § 404 — internal evidence",
        fixed=(
            ("Entity", _ENTITY),
            ("Financial systems affected", "incident.affected_services"),
            ("Primary system", "incident.primary_service"),
            ("Detected", "incident.detected_at"),
            ("Resolved", "incident.resolved_at"),
            ("Root cause", "incident.root_cause_category"),
            ("Resolution", "incident.resolution_summary"),
            ("Incident commander", "incident.commander"),
        ),
        evidence=True,
    ),
}

GENERIC_FIXED = (
    ("Organisation", _ENTITY),
    ("Description", "incident.description"),
    ("Detected", "incident.detected_at"),
    ("Impact", "incident.impact_summary"),
)


def spec_for(report_format: str) -> FormatSpec:
    """The format's layout; formats without their own share the generic one."""
    if report_format in FORMATS:
        return FORMATS[report_format]
    label = ReportFormat(report_format).label if report_format else "Ad-hoc report"
    return FormatSpec(title=label, basis="", fixed=GENERIC_FIXED)


def _when(value, tz) -> str:
    if isinstance(value, datetime):
        return timezone.localtime(value, tz).strftime("%Y-%m-%d %H:%M %Z")
    return value.isoformat()


class _Formatter:
    """Turns resolved values into display text, masked for the reader."""

    def __init__(self, organization: Organization, reveal: bool, sensitive_keys: set[str]):
        self.tz = organization.tzinfo
        self.reveal = reveal
        self.sensitive_keys = sensitive_keys

    def text(self, value) -> str | None:
        if value is None:
            return None
        if isinstance(value, bool):
            return "Yes" if value else "No"
        if isinstance(value, datetime | date):
            return _when(value, self.tz)
        if isinstance(value, User):
            value = value.display_name
        elif isinstance(value, models.Model):
            value = str(value)
        elif isinstance(value, list | tuple):
            value = ", ".join(str(v) for v in value)
        return mask_text(str(value), reveal=self.reveal)

    def ref(self, ref: str, value) -> str | None:
        if ref.startswith("custom:"):
            value = mask_value(value, sensitive=ref[7:] in self.sensitive_keys, reveal=self.reveal)
        return self.text(value)


def _fixed(spec, organization, incident, facts, fmt) -> list[dict]:
    rows = []
    for label, ref in spec.fixed:
        if ref == _ENTITY:
            value = organization.name
        elif ref.startswith("="):
            value = ref[1:]
        else:
            value = fmt.ref(ref, mapping.resolve(ref, incident, facts))
        rows.append({"ref": ref, "label": label, "value": value})
    return rows


def _sections(obligation, incident, facts, fmt, labels) -> list[dict]:
    if obligation is None:
        return []
    result = []
    for section in mapping.sections(obligation, incident, facts):
        fields = []
        for field in section["fields"]:
            label = field["label"]
            if field["ref"].startswith("custom:"):
                label = labels.get(field["ref"][7:], label)
            fields.append(
                {
                    "ref": field["ref"],
                    "label": label,
                    "value": fmt.ref(field["ref"], field["value"]),
                }
            )
        result.append({"title": section["title"], "fields": fields})
    return result


def _timeline(incident, fmt) -> list[dict]:
    events = TimelineEvent.objects.filter(incident=incident).select_related("actor")
    return [
        {
            "at": _when(event.created_at, fmt.tz),
            "kind": event.get_kind_display(),
            "actor": fmt.text(event.actor) if event.actor_id else "system",
            "message": fmt.text(event.message) or "",
        }
        for event in events.order_by("created_at", "pk")
    ]


def _changes(entry: AuditEntry, fmt) -> str:
    created = entry.action == AuditEntry.Action.CREATE
    changes = entry.changes or {}
    if isinstance(changes, str):
        try:
            changes = json.loads(changes)
        except ValueError:
            return fmt.text(changes) or ""
    parts = []
    for field, values in sorted(changes.items()):
        if isinstance(values, dict):
            objects = ", ".join(map(str, values.get("objects", [])))
            shown = f"{values.get('operation', '')} {objects}"
        elif isinstance(values, list | tuple) and len(values) == 2:
            before, after = (str(v) for v in values)
            if _EMPTY_RELATION.match(after) or (created and after in ("", "None", "{}", "[]")):
                continue  # a reverse relation or an empty field of a new row says nothing
            shown = after if created else f"{before} → {after}"
        else:
            shown = str(values)
        parts.append(f"{field}: {shown.strip()}")
    return fmt.text("; ".join(parts)) or ""


def _audit(incident, facts, fmt) -> list[dict]:
    """The audit entries of the incident itself and of its regulatory facts (report rows and
    obligation clocks are left out: generating a report writes those)."""
    targets = models.Q(
        content_type=ContentType.objects.get_for_model(Incident), object_id=incident.pk
    )
    if facts is not None:
        targets |= models.Q(
            content_type=ContentType.objects.get_for_model(IncidentFacts), object_id=facts.pk
        )
    entries = (
        AuditEntry.objects.filter(organization_id=incident.organization_id)
        .filter(targets)
        .select_related("actor", "content_type")
        .order_by("timestamp", "pk")
    )
    return [
        {
            "at": _when(entry.timestamp, fmt.tz),
            "actor": fmt.text(entry.actor) if entry.actor_id else (entry.actor_email or "system"),
            "action": entry.get_action_display(),
            "object": str(entry.content_type.name).capitalize(),
            "changes": _changes(entry, fmt),
            "origin": entry.origin or "",
        }
        for entry in entries
    ]


def build_content(
    *,
    organization: Organization,
    incident: Incident,
    obligation: Obligation | None,
    report_format: str,
    reveal: bool,
) -> dict:
    """Everything the report shows except its version, generation time and generator — the
    hashed content. Call inside the organisation's scope."""
    spec = spec_for(report_format)
    facts = IncidentFacts.objects.filter(incident=incident).first()
    definitions = list(
        CustomFieldDefinition.objects.filter(organization=organization).values_list(
            "key", "label", "is_sensitive"
        )
    )
    fmt = _Formatter(organization, reveal, {key for key, _, s in definitions if s})
    labels = {key: label for key, label, _ in definitions}
    tracked = None
    if obligation is not None:
        tracked = IncidentObligation.objects.filter(
            incident=incident, obligation=obligation
        ).first()
    fixed = _fixed(spec, organization, incident, facts, fmt)
    sections = _sections(obligation, incident, facts, fmt, labels)
    # What is still missing, named once: a field both among the fixed fields and in a mapped
    # section is named by its fixed label.
    missing, seen = [], set()
    unknown = [(row["ref"], row["label"]) for row in fixed if row["value"] is None]
    for section in sections:
        unknown += [(f["ref"], f["label"]) for f in section["fields"] if f["value"] is None]
    for ref, label in unknown:
        if ref not in seen and label not in missing:
            seen.add(ref)
            missing.append(label)
    content = {
        "schema": SCHEMA,
        "format": report_format,
        "title": spec.title,
        "basis": spec.basis,
        "organization": {"name": organization.name, "timezone": organization.timezone},
        "incident": {
            "key": incident.key,
            "title": fmt.text(incident.title),
            "severity": str(incident.severity),
            "restricted": incident.is_restricted,
        },
        "obligation": None,
        "fixed": fixed,
        "sections": sections,
        "missing": missing,
        "masked": not reveal,
    }
    if obligation is not None:
        content["obligation"] = {
            "key": obligation.key,
            "name": obligation.name,
            "reference": obligation.reference,
            "recipients": [line.strip() for line in obligation.recipients.splitlines() if line],
            "rule": obligation.rule_text,
            "clock_started": _when(tracked.clock_started_at, fmt.tz)
            if tracked and tracked.clock_started_at
            else None,
            "deadline": _when(tracked.due_at, fmt.tz) if tracked and tracked.due_at else None,
        }
    if spec.evidence:
        content["timeline"] = _timeline(incident, fmt)
        content["audit"] = _audit(incident, facts, fmt)
    return content


def canonical(content: dict) -> bytes:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def content_hash(content: dict) -> str:
    return hashlib.sha256(canonical(content)).hexdigest()
