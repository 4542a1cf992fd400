"""The audit-trail export: for one incident or a date range, who did what and when — the audit
log (the incident's own entries and those of its related rows) merged with the incident
timeline — as CSV or PDF, for one organisation, following the reader's incident visibility,
masked with `compliance.masking`, CSV cells neutralised against formula injection.

Both formats carry the same content hash (sha256 of the CSV text): printed in the PDF's footer,
sent as the `X-Content-SHA256` header with either, so a PDF and a CSV of the same export can be
matched, and a re-export of unchanged history gives the same hash."""

import csv
import datetime as dt
import hashlib
import io
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django import forms
from django.contrib.contenttypes.models import ContentType
from django.http import Http404
from django.template.loader import render_to_string
from django.utils import timezone

from compliance.exports import csv_safe
from compliance.masking import HIDDEN, mask_text, may_see_sensitive
from compliance.pdf import render_pdf
from compliance.selectors import about_incidents, hidden_incident_ids
from incidents.models import Incident, TimelineEvent
from incidents.selectors import incident_get, incident_list
from tenancy.models import AuditEntry, Membership, Organization, User

MAX_RANGE_DAYS = 366
MAX_PDF_ROWS = 5000
FORMATS = [("pdf", "PDF"), ("csv", "CSV")]
CSV_COLUMNS = ["when", "source", "who", "action", "subject", "details", "from", "reference"]


class AuditExportForm(forms.Form):
    """One incident (by key) or a date range (at most MAX_RANGE_DAYS days), and a format."""

    incident = forms.CharField(
        label="Incident key",
        required=False,
        max_length=30,
        widget=forms.TextInput(attrs={"placeholder": "ACME-42", "autocomplete": "off"}),
    )
    date_from = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    format = forms.ChoiceField(choices=FORMATS, initial="pdf", widget=forms.RadioSelect)

    def __init__(self, *args, organization: Organization, user: User, membership, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization = organization
        self.user = user
        self.membership = membership
        self.incident_obj: Incident | None = None

    def clean_incident(self) -> str:
        key = self.cleaned_data["incident"].strip().upper()
        if not key:
            return ""
        try:
            self.incident_obj = incident_get(
                organization=self.organization,
                user=self.user,
                membership=self.membership,
                key=key,
            )
        except Http404:
            raise forms.ValidationError(
                f"There is no incident {key} here that you can see. Check the key "
                f"(for example {self.organization.key_prefix}-42)."
            ) from None
        return key

    def clean(self):
        data = super().clean()
        key = data.get("incident")
        start, end = data.get("date_from"), data.get("date_to")
        if self.errors:
            return data
        if key and (start or end):
            raise forms.ValidationError(
                "Choose one incident or a date range, not both (clear the other)."
            )
        if not key and not (start and end):
            raise forms.ValidationError(
                "Enter an incident key, or both dates of the range to export."
            )
        if start and end:
            if start > end:
                self.add_error("date_to", "The end date is before the start date.")
            elif (end - start).days + 1 > MAX_RANGE_DAYS:
                self.add_error(
                    "date_to",
                    f"A range covers at most {MAX_RANGE_DAYS} days; this one covers "
                    f"{(end - start).days + 1}. Export it in parts.",
                )
        return data


@dataclass(frozen=True)
class TrailRow:
    when: dt.datetime
    source: str
    who: str
    action: str
    subject: str
    details: str
    origin: str
    reference: str

    def cells(self, zone: ZoneInfo) -> list[str]:
        when = self.when.astimezone(zone).isoformat(timespec="seconds")
        return [
            when,
            self.source,
            self.who,
            self.action,
            self.subject,
            self.details,
            self.origin,
            self.reference,
        ]


@dataclass(frozen=True)
class Export:
    organization: Organization
    title: str
    period: str
    rows: list[TrailRow]
    csv_text: str
    content_hash: str
    filename_stem: str


def _who(user: User | None, email: str | None) -> str:
    if user is not None:
        return user.email
    return email or "system"


def _empty(value) -> bool:
    """A value a create or delete diff lists for every field, including reverse relations
    (auditlog spells an empty one `app.Model.None`)."""
    text = "" if value is None else str(value)
    return text in ("", "None", "[]", "{}") or text.endswith(".None")


def _change_details(entry: AuditEntry, *, reveal: bool, sensitive_custom_fields: bool) -> str:
    changes = entry.changes or {}
    if isinstance(changes, str):
        return mask_text(changes, reveal=reveal)
    parts = []
    for field, values in changes.items():
        if field == "custom_fields" and sensitive_custom_fields and not reveal:
            parts.append(f"{field}: {HIDDEN}")
            continue
        if isinstance(values, dict) and values.get("type") == "m2m":
            objects = ", ".join(str(o) for o in values.get("objects", []))
            text = f"{field}: {values.get('operation', '')} {objects}"
        elif isinstance(values, list | tuple) and len(values) == 2:
            old, new = values
            if entry.action == AuditEntry.Action.CREATE:
                if _empty(new):
                    continue
                text = f"{field}: {new}"
            elif entry.action == AuditEntry.Action.DELETE:
                if _empty(old):
                    continue
                text = f"{field}: {old}"
            else:
                text = f"{field}: {old} → {new}"
        else:
            text = f"{field}: {values}"
        parts.append(mask_text(text, reveal=reveal))
    exported = (entry.additional_data or {}).get("export")
    if exported:
        parts.append(
            f"exported {exported.get('title')} ({exported.get('period')}) as "
            f"{str(exported.get('format', '')).upper()}: {exported.get('rows')} rows, "
            f"content hash {exported.get('content_hash')}"
        )
    verification = (entry.additional_data or {}).get("verification")
    if verification:
        outcome = "intact" if verification.get("ok") else "BROKEN"
        parts.append(f"chain {outcome}, {verification.get('count')} entries verified")
    if not parts and entry.changes_text:
        parts.append(mask_text(entry.changes_text, reveal=reveal))
    return "; ".join(parts)


def trail_rows(
    *,
    organization: Organization,
    user: User,
    membership: Membership,
    incident: Incident | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> list[TrailRow]:
    """The merged who/what/when, oldest first: one incident's, or everything in [start, end)
    minus what concerns restricted incidents the reader may not see. Call inside the
    organisation's scope."""
    from taxonomy.models import CustomFieldDefinition

    reveal = may_see_sensitive(membership.role)
    sensitive_custom_fields = CustomFieldDefinition.objects.filter(
        organization=organization, is_sensitive=True
    ).exists()
    entries = AuditEntry.objects.filter(organization=organization)
    events = TimelineEvent.objects.filter(organization=organization)
    if incident is not None:
        entries = entries.filter(about_incidents([incident.pk]))
        events = events.filter(incident=incident)
    else:
        entries = entries.filter(timestamp__gte=start, timestamp__lt=end)
        visible = incident_list(organization=organization, user=user, membership=membership)
        hidden = hidden_incident_ids(organization=organization, user=user, membership=membership)
        if hidden:
            entries = entries.exclude(about_incidents(hidden))
        events = events.filter(
            created_at__gte=start, created_at__lt=end, incident__in=visible.values("pk")
        )
    rows = []
    for entry in entries.select_related("actor", "content_type").order_by("pk"):
        origin = entry.origin or ""
        if entry.remote_addr:
            origin = f"{origin} {mask_text(str(entry.remote_addr), reveal=reveal)}".strip()
        rows.append(
            TrailRow(
                when=entry.timestamp,
                source="audit trail",
                who=_who(entry.actor, entry.actor_email),
                action=entry.get_action_display(),
                subject=mask_text(
                    f"{entry.content_type.name.capitalize()}: {entry.object_repr}", reveal=reveal
                ),
                details=_change_details(
                    entry, reveal=reveal, sensitive_custom_fields=sensitive_custom_fields
                ),
                origin=origin,
                reference=f"audit #{entry.pk} {entry.entry_hash[:16]}",
            )
        )
    for event in events.select_related("actor", "incident").order_by("created_at", "pk"):
        rows.append(
            TrailRow(
                when=event.created_at,
                source="timeline",
                who=_who(event.actor, None),
                action=event.get_kind_display(),
                subject=event.incident.key,
                details=mask_text(event.message, reveal=reveal),
                origin="",
                reference=f"timeline #{event.pk}",
            )
        )
    rows.sort(key=lambda row: (row.when, row.source, row.reference))
    return rows


def build_export(form: AuditExportForm) -> Export:
    """The export a valid form asks for (inside the organisation's scope)."""
    organization = form.organization
    zone = ZoneInfo(organization.timezone)
    data = form.cleaned_data
    if form.incident_obj is not None:
        incident = form.incident_obj
        rows = trail_rows(
            organization=organization,
            user=form.user,
            membership=form.membership,
            incident=incident,
        )
        title = f"Audit trail of {incident.key}"
        period = f"{incident.key} (no entries yet)"
        if rows:
            first, last = rows[0].when.astimezone(zone), rows[-1].when.astimezone(zone)
            period = f"{incident.key}: {first:%Y-%m-%d %H:%M} – {last:%Y-%m-%d %H:%M %Z}"
        stem = f"{organization.slug}-audit-{incident.key}"
    else:
        start = dt.datetime.combine(data["date_from"], dt.time.min, tzinfo=zone)
        end = dt.datetime.combine(data["date_to"] + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
        rows = trail_rows(
            organization=organization,
            user=form.user,
            membership=form.membership,
            start=start,
            end=end,
        )
        title = "Audit trail"
        period = f"{data['date_from']:%Y-%m-%d} to {data['date_to']:%Y-%m-%d} ({zone.key})"
        stem = f"{organization.slug}-audit-{data['date_from']:%Y%m%d}-{data['date_to']:%Y%m%d}"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([csv_safe(cell) for cell in row.cells(zone)])
    csv_text = buffer.getvalue()
    return Export(
        organization=organization,
        title=title,
        period=period,
        rows=rows,
        csv_text=csv_text,
        content_hash=hashlib.sha256(csv_text.encode()).hexdigest(),
        filename_stem=stem,
    )


def record_export(export: Export, *, actor: User, file_format: str) -> AuditEntry:
    """Write the export itself into the audit trail: who took which selection, in which
    format, how many rows, and the content hash of what they took."""
    organization = export.organization
    return AuditEntry.objects.create(
        organization=organization,
        content_type=ContentType.objects.get_for_model(Organization),
        object_pk=str(organization.pk),
        object_id=organization.pk,
        object_repr=str(organization),
        action=AuditEntry.Action.ACCESS,
        changes_text=f"exported the audit trail ({export.period}) as {file_format.upper()}",
        actor=actor,
        actor_email=actor.email,
        additional_data={
            "export": {
                "title": export.title,
                "period": export.period,
                "format": file_format,
                "rows": len(export.rows),
                "content_hash": export.content_hash,
            }
        },
    )


def export_pdf(export: Export, *, generated_by: User) -> bytes:
    """The export as a PDF: organisation header, period, generated by/at, the merged rows,
    the content hash and page numbers in the footer."""
    zone = ZoneInfo(export.organization.timezone)
    html = render_to_string(
        "compliance/audit_export_pdf.html",
        {
            "export": export,
            "org": export.organization,
            "rows": [row.cells(zone) for row in export.rows],
            "generated_by": generated_by.email,
            "generated_at": timezone.now().astimezone(zone),
        },
    )
    return render_pdf(html)
