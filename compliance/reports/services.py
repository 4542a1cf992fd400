"""Writes of compliance.reports: generating a report version, distribution lists, and sending a
report to a list through the notification service."""

import uuid
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Max
from django.template.loader import render_to_string
from django.utils import timezone

from compliance.masking import may_see_sensitive
from compliance.models import (
    Framework,
    IncidentObligation,
    Obligation,
    ObligationStatus,
    ReportFormat,
)
from compliance.pdf import content_hash as file_hash
from compliance.pdf import render_pdf
from compliance.reports.content import build_content, content_hash
from compliance.reports.models import (
    DistributionList,
    DistributionRecipient,
    Report,
    ReportDistribution,
)
from incidents import notify
from incidents.models import Incident
from incidents.selectors import incident_list
from tenancy.audit import retention_gate
from tenancy.models import Membership, Organization, User
from tenancy.roles import Capability, can
from tenancy.scoping import org_scope

# pg_advisory_xact_lock(namespace, incident id): one generation at a time per incident, so
# version numbers are allocated gap-free without locking the incident row itself.
LOCK_NAMESPACE = 0x52505254  # "RPRT"
ATTACHMENT_KIND = "compliance_report"


def _membership(organization: Organization, actor: User) -> Membership | None:
    return Membership.objects.filter(organization=organization, user=actor).first()


def _require(organization: Organization, actor: User, capability: Capability) -> Membership:
    membership = _membership(organization, actor)
    if membership is None or not can(membership.role, capability):
        raise PermissionDenied(f"Your role may not {capability.replace('_', ' ')}.")
    return membership


def _check_visible(organization, actor, membership, incident: Incident) -> None:
    if incident.organization_id != organization.pk:
        raise PermissionDenied("That incident belongs to another organisation.")
    visible = incident_list(organization=organization, user=actor, membership=membership)
    if not visible.filter(pk=incident.pk).exists():
        raise PermissionDenied("You may not see this incident.")


def render_report_html(
    content: dict, *, version: int, content_hash: str, generated_at, generated_by: str
) -> str:
    """The report's HTML: the content dict plus what is printed but not hashed."""
    tz = ZoneInfo(content["organization"]["timezone"])
    fmt = content["format"]
    return render_to_string(
        "compliance_reports/report_pdf.html",
        {
            "c": content,
            "version": version,
            "content_hash": content_hash,
            "format_label": ReportFormat(fmt).label if fmt else "Ad-hoc report",
            "generated_at": timezone.localtime(generated_at, tz).strftime("%Y-%m-%d %H:%M %Z"),
            "generated_by": generated_by,
        },
    )


def report_generate(
    *,
    organization: Organization,
    actor: User,
    incident: Incident,
    obligation: Obligation | None = None,
    report_format: str = "",
    now=None,
) -> Report:
    """Generate and store the next version of the report of `incident` for `obligation` (in
    its format) or, ad hoc, in `report_format`. The PDF is rendered once, stored with its
    hashes and never changed. Masking follows the generating user's role. A tracked
    obligation that was not started becomes drafted."""
    now = now or timezone.now()
    with org_scope(organization), transaction.atomic():
        membership = _require(organization, actor, Capability.EXPORT_COMPLIANCE)
        _check_visible(organization, actor, membership, incident)
        if obligation is not None:
            if obligation.organization_id != organization.pk:
                raise PermissionDenied("That obligation belongs to another organisation.")
            report_format = obligation.report_format
        if not report_format or report_format not in ReportFormat.values:
            raise ValidationError("This obligation has no report format.")
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, incident.pk])
        incident = Incident.objects.select_related("severity").get(pk=incident.pk)
        content = build_content(
            organization=organization,
            incident=incident,
            obligation=obligation,
            report_format=report_format,
            reveal=may_see_sensitive(membership.role),
        )
        digest = content_hash(content)
        last = Report.objects.filter(
            incident=incident, obligation=obligation, format=report_format
        ).aggregate(last=Max("version"))["last"]
        version = (last or 0) + 1
        html = render_report_html(
            content,
            version=version,
            content_hash=digest,
            generated_at=now,
            generated_by=actor.display_name,
        )
        pdf = render_pdf(html)
        report = Report.objects.create(
            organization=organization,
            incident=incident,
            obligation=obligation,
            format=report_format,
            version=version,
            generated_by=actor,
            generated_at=now,
            revealed=not content["masked"],
            content_hash=digest,
            pdf=pdf,
            pdf_sha256=file_hash(pdf),
            pdf_size=len(pdf),
            missing_fields=content["missing"],
        )
        if obligation is not None:
            tracked = (
                IncidentObligation.objects.select_for_update()
                .filter(incident=incident, obligation=obligation)
                .first()
            )
            if tracked is not None and tracked.status == ObligationStatus.NOT_STARTED:
                tracked.status = ObligationStatus.DRAFTED
                tracked.drafted_at = now
                tracked.save(update_fields=["status", "drafted_at"])
        return report


# — distribution lists ————————————————————————————————————————————————————————————————


def _check_framework(organization: Organization, framework: Framework | None) -> None:
    if framework is not None and framework.organization_id != organization.pk:
        raise ValidationError({"default_for": "That framework belongs to another organisation."})


@transaction.atomic
def distribution_list_save(
    *,
    organization: Organization,
    actor: User,
    distribution_list: DistributionList | None = None,
    name: str,
    description: str = "",
    default_for: Framework | None = None,
) -> DistributionList:
    """Create (distribution_list=None) or rename a list; at most one list is a framework's
    default (choosing this one as default takes the role from the previous default)."""
    with org_scope(organization):
        _require(organization, actor, Capability.MANAGE_COMPLIANCE)
        _check_framework(organization, default_for)
        name = name.strip()
        if not name:
            raise ValidationError({"name": "Give the list a name."})
        if distribution_list is None:
            distribution_list = DistributionList(organization=organization)
        elif distribution_list.organization_id != organization.pk:
            raise PermissionDenied("That list belongs to another organisation.")
        clash = DistributionList.objects.filter(organization=organization, name__iexact=name)
        if distribution_list.pk:
            clash = clash.exclude(pk=distribution_list.pk)
        if clash.exists():
            raise ValidationError({"name": "Another list has this name."})
        if default_for is not None:
            DistributionList.objects.filter(
                organization=organization, default_for=default_for
            ).exclude(pk=distribution_list.pk).update(default_for=None)
        distribution_list.name = name
        distribution_list.description = description.strip()
        distribution_list.default_for = default_for
        distribution_list.save()
        return distribution_list


@transaction.atomic
def distribution_list_delete(
    *, organization: Organization, actor: User, distribution_list: DistributionList
) -> None:
    """Delete a list and its recipients; reports already sent keep their record."""
    with org_scope(organization):
        _require(organization, actor, Capability.MANAGE_COMPLIANCE)
        if distribution_list.organization_id != organization.pk:
            raise PermissionDenied("That list belongs to another organisation.")
        distribution_list.delete()


@transaction.atomic
def recipient_add(
    *,
    organization: Organization,
    actor: User,
    distribution_list: DistributionList,
    user: User | None = None,
    name: str = "",
    email: str = "",
) -> DistributionRecipient:
    """Add a member of the organisation, or an outside address with a name, to a list."""
    with org_scope(organization):
        _require(organization, actor, Capability.MANAGE_COMPLIANCE)
        if distribution_list.organization_id != organization.pk:
            raise PermissionDenied("That list belongs to another organisation.")
        recipients = DistributionRecipient.objects.filter(distribution_list=distribution_list)
        if user is not None:
            if not Membership.objects.filter(organization=organization, user=user).exists():
                raise ValidationError({"user": "Only members of the organisation can be chosen."})
            if recipients.filter(user=user).exists():
                raise ValidationError({"user": f"{user.display_name} is on this list already."})
            return DistributionRecipient.objects.create(
                organization=organization, distribution_list=distribution_list, user=user
            )
        name, email = name.strip(), email.strip().lower()
        errors = {}
        if not email:
            errors["email"] = "Choose a member or give an e-mail address."
        if email and not name:
            errors["name"] = "Give the name of the person at this address."
        if errors:
            raise ValidationError(errors)
        if recipients.filter(email__iexact=email).exists():
            raise ValidationError({"email": f"{email} is on this list already."})
        return DistributionRecipient.objects.create(
            organization=organization, distribution_list=distribution_list, name=name, email=email
        )


@transaction.atomic
def recipient_remove(
    *, organization: Organization, actor: User, recipient: DistributionRecipient
) -> None:
    with org_scope(organization):
        _require(organization, actor, Capability.MANAGE_COMPLIANCE)
        if recipient.organization_id != organization.pk:
            raise PermissionDenied("That recipient belongs to another organisation.")
        recipient.delete()


# — sending ——————————————————————————————————————————————————————————————————————————


def load_attachment(org_id: int, report_id: int) -> tuple[str, bytes, str]:
    """The stored PDF of a report, for incidents.notify to attach when it sends."""
    with org_scope(org_id):
        report = Report.objects.select_related("incident").get(pk=report_id)
        return report.filename, bytes(report.pdf), "application/pdf"


def _message(organization: Organization, report: Report, sender: User) -> tuple[str, str]:
    incident = report.incident
    subject = f"{incident.key} · {report.get_format_display()} · version {report.version}"
    lines = [
        f"{sender.display_name} of {organization.name} sends you the attached report:",
        "",
        f"{report.get_format_display()}",
        f"Incident: {incident.key}",
        f"Version: {report.version}",
        f"Content hash (sha256, printed in the PDF footer): {report.content_hash}",
        f"File hash (sha256 of the attached PDF): {report.pdf_sha256}",
        "",
        "—",
        f"Sent by Vigil for {organization.name}.",
    ]
    return subject[:250], "\n".join(lines)


@transaction.atomic
def report_send(
    *,
    organization: Organization,
    actor: User,
    report: Report,
    distribution_list: DistributionList,
    now=None,
) -> ReportDistribution:
    """E-mail `report`'s PDF to everyone on `distribution_list`, as an attachment, through the
    notification service (one delivery per address, retried by its sweep), and record who
    sent which version to whom. Members who left the organisation, and members who may not
    see the (restricted) incident, are skipped and recorded as such."""
    now = now or timezone.now()
    with org_scope(organization):
        membership = _require(organization, actor, Capability.EXPORT_COMPLIANCE)
        if report.organization_id != organization.pk:
            raise PermissionDenied("That report belongs to another organisation.")
        if distribution_list.organization_id != organization.pk:
            raise PermissionDenied("That list belongs to another organisation.")
        _check_visible(organization, actor, membership, report.incident)
        memberships = {m.user_id: m for m in Membership.objects.filter(organization=organization)}
        people, skipped = [], []
        for recipient in distribution_list.recipients.select_related("user"):
            if recipient.user_id is not None:
                user = recipient.user
                if user.pk not in memberships or not user.is_active or not user.email:
                    skipped.append({"name": user.display_name, "reason": "no longer a member"})
                    continue
                visible = incident_list(
                    organization=organization, user=user, membership=memberships[user.pk]
                )
                if not visible.filter(pk=report.incident_id).exists():
                    # A member who may not see a restricted incident does not get its report.
                    skipped.append({"name": user.display_name, "reason": "no access"})
                    continue
                if report.revealed and not may_see_sensitive(memberships[user.pk].role):
                    # The PDF shows personal data unmasked: only for those who may see it.
                    skipped.append(
                        {"name": user.display_name, "reason": "may not see personal data"}
                    )
                    continue
                people.append({"name": user.display_name, "email": user.email, "member": True})
            else:
                people.append({"name": recipient.name, "email": recipient.email, "member": False})
        if not people:
            raise ValidationError(
                "This list has no one to send to."
                + (
                    " Skipped: " + ", ".join(f"{p['name']} ({p['reason']})" for p in skipped)
                    if skipped
                    else ""
                )
            )
        subject, body = _message(organization, report, actor)
        deliveries = notify.email_with_attachments(
            organization=organization,
            to=[(p["name"], p["email"]) for p in people],
            subject=subject,
            body=body,
            attachments=[{"kind": ATTACHMENT_KIND, "id": report.pk}],
            key=f"report:{report.pk}:send:{uuid.uuid4().hex}",
            now=now,
        )
        for person, delivery in zip(people, deliveries, strict=True):
            person["delivery"] = delivery.pk
        return ReportDistribution.objects.create(
            organization=organization,
            report=report,
            distribution_list=distribution_list,
            list_name=distribution_list.name,
            sent_by=actor,
            sent_at=now,
            recipients=people + [{**person, "skipped": True} for person in skipped],
        )


# — retention ————————————————————————————————————————————————————————————————————————


def retained_rows(organization_id: int):
    """All of one organisation's reports (compliance.records; called inside scopes_disabled)."""
    return Report.objects.filter(organization_id=organization_id)


def purge_reports(rows) -> int:
    """Delete reports past retention — the only way past their immutability trigger — with
    their distribution records. Called inside the retention purge's transaction."""
    with retention_gate():
        ids = list(rows.values_list("pk", flat=True))
        ReportDistribution.objects.filter(report_id__in=ids).delete()
        Report.objects.filter(pk__in=ids).delete()
        return len(ids)
