"""Reads of compliance.reports, scoped to one organisation and to the incidents the reader may
see (incidents.selectors.incident_list is the visibility rule)."""

from django.db.models import QuerySet

from compliance.reports.models import DistributionList, Report, ReportDistribution
from incidents.selectors import incident_list
from tenancy.models import Membership, Organization, User


def report_list(
    *,
    organization: Organization,
    user: User,
    membership: Membership | None,
    framework=None,
    report_format: str = "",
    incident_key: str = "",
) -> QuerySet[Report]:
    """The organisation's reports on incidents `user` may see, newest first, without the PDF
    bytes."""
    visible = incident_list(organization=organization, user=user, membership=membership)
    reports = (
        Report.objects.filter(organization=organization, incident__in=visible.values("pk"))
        .select_related("incident", "obligation__framework", "generated_by")
        .defer("pdf")
        .order_by("-generated_at", "-pk")
    )
    if framework is not None:
        reports = reports.filter(obligation__framework=framework)
    if report_format:
        reports = reports.filter(format=report_format)
    if incident_key:
        reports = reports.filter(incident__key__iexact=incident_key.strip())
    return reports


def report_versions(*, incident, obligation) -> QuerySet[Report]:
    """Every version of one obligation's report on one incident, newest first, without bytes."""
    return (
        Report.objects.filter(incident=incident, obligation=obligation)
        .select_related("generated_by", "incident")
        .defer("pdf")
        .order_by("-version", "-pk")
    )


def distribution_history(*, reports) -> list[ReportDistribution]:
    """Who sent which version to whom, newest first, each with its deliveries' states."""
    distributions = list(
        ReportDistribution.objects.filter(report__in=reports)
        .select_related("report", "sent_by")
        .order_by("-sent_at", "-pk")
    )
    from incidents.models import Delivery

    ids = [r["delivery"] for d in distributions for r in d.recipients if r.get("delivery")]
    deliveries = {d.pk: d for d in Delivery.objects.filter(pk__in=ids)}
    for distribution in distributions:
        distribution.lines = [
            {**person, "state": deliveries.get(person.get("delivery"))}
            for person in distribution.recipients
        ]
    return distributions


def distribution_list_list(*, organization: Organization) -> QuerySet[DistributionList]:
    return (
        DistributionList.objects.filter(organization=organization)
        .select_related("default_for")
        .prefetch_related("recipients__user")
        .order_by("name", "pk")
    )
