"""The incident lifecycle: states, transitions and the one table of per-stage requirements.
Pure rules — reads only, no writes. Read three ways: as the transitions' conditions, as the
service's pre-check, and on the detail page to say what is missing."""

from dataclasses import dataclass
from enum import StrEnum

from django.core.exceptions import ImproperlyConfigured
from django.db import models

from taxonomy.models import REQUIRABLE_STATES


class Status(models.TextChoices):
    REPORTED = "reported", "Reported"
    INVESTIGATING = "investigating", "Investigating"
    MITIGATED = "mitigated", "Mitigated"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"
    DISMISSED = "dismissed", "Dismissed"
    DUPLICATE = "duplicate", "Duplicate"


OPEN_STATES = (Status.REPORTED, Status.INVESTIGATING, Status.MITIGATED)
ENDED_STATES = (Status.RESOLVED, Status.CLOSED, Status.DISMISSED, Status.DUPLICATE)
# The order in which "mandatory from" custom fields apply.
PROGRESSION = [
    Status.REPORTED,
    Status.INVESTIGATING,
    Status.MITIGATED,
    Status.RESOLVED,
    Status.CLOSED,
]
if [s for s, _ in REQUIRABLE_STATES] != [str(s) for s in PROGRESSION[1:]]:
    raise ImproperlyConfigured("taxonomy.REQUIRABLE_STATES must follow the lifecycle")

# The transitions, in the order the detail page offers them: name → (sources, target, label).
TRANSITIONS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "start_investigation": ((Status.REPORTED,), Status.INVESTIGATING, "Start investigation"),
    "mitigate": ((Status.INVESTIGATING,), Status.MITIGATED, "Mitigate"),
    "resolve": ((Status.INVESTIGATING, Status.MITIGATED), Status.RESOLVED, "Resolve"),
    "close": ((Status.RESOLVED,), Status.CLOSED, "Close"),
    "reopen": ((Status.RESOLVED, Status.CLOSED), Status.INVESTIGATING, "Reopen"),
    "dismiss": ((Status.REPORTED,), Status.DISMISSED, "Dismiss (false positive)"),
    "mark_duplicate": (OPEN_STATES, Status.DUPLICATE, "Mark duplicate"),
}


class Requirement(StrEnum):
    COMMANDER_FOR_MAJOR = "commander_for_major"
    IMPACT_SUMMARY = "impact_summary"
    RESOLUTION_SUMMARY = "resolution_summary"
    ROOT_CAUSE_CATEGORY = "root_cause_category"
    VERIFICATION_PASSED = "verification_passed"


REQUIREMENT_LABELS = {
    Requirement.COMMANDER_FOR_MAJOR: "an incident commander (SEV-1 and SEV-2)",
    Requirement.IMPACT_SUMMARY: "impact summary",
    Requirement.RESOLUTION_SUMMARY: "resolution summary",
    Requirement.ROOT_CAUSE_CATEGORY: "root-cause category",
    Requirement.VERIFICATION_PASSED: "a passed verification (confirmation or health check)",
}

REQUIRED_TO_ENTER: dict[str, tuple[Requirement, ...]] = {
    Status.INVESTIGATING: (Requirement.COMMANDER_FOR_MAJOR,),
    Status.MITIGATED: (Requirement.IMPACT_SUMMARY,),
    Status.RESOLVED: (
        Requirement.RESOLUTION_SUMMARY,
        Requirement.ROOT_CAUSE_CATEGORY,
        Requirement.VERIFICATION_PASSED,
    ),
}


@dataclass(frozen=True)
class Missing:
    """One thing that stops a transition, in words a responder understands."""

    code: str
    label: str

    def __str__(self) -> str:
        return self.label


def _requirement_met(incident, requirement: Requirement) -> bool:
    if requirement == Requirement.COMMANDER_FOR_MAJOR:
        return not (incident.severity and incident.severity.is_major) or bool(incident.commander_id)
    if requirement == Requirement.IMPACT_SUMMARY:
        return bool(incident.impact_summary.strip())
    if requirement == Requirement.RESOLUTION_SUMMARY:
        return bool(incident.resolution_summary.strip())
    if requirement == Requirement.ROOT_CAUSE_CATEGORY:
        return bool(incident.root_cause_category)
    if requirement == Requirement.VERIFICATION_PASSED:
        return incident.has_passed_verification()
    raise ValueError(requirement)


def custom_fields_required_for(definitions, target: str) -> list:
    """Custom field definitions that are mandatory in `target` (their state or a later one)."""
    if target not in PROGRESSION:
        return []
    reached = PROGRESSION.index(target)
    return [
        d
        for d in definitions
        if d.is_active and d.required_from and PROGRESSION.index(d.required_from) <= reached
    ]


def _is_blank(value) -> bool:
    return value is None or value == "" or value == []


def missing_for(incident, target: str, definitions=None) -> list[Missing]:
    """What stops `incident` from entering `target`, in the order the page lists it.

    `definitions` are the organisation's custom field definitions (loaded by the caller so a
    page that asks for several targets reads them once)."""
    missing = [
        Missing(str(req), REQUIREMENT_LABELS[req])
        for req in REQUIRED_TO_ENTER.get(target, ())
        if not _requirement_met(incident, req)
    ]
    if definitions is None:
        definitions = getattr(incident, "_custom_field_definitions", None)
    if definitions is None:
        from taxonomy.models import CustomFieldDefinition

        # Read once per loaded incident: the transition's condition, its permission check and
        # the service's pre-check all ask.
        definitions = list(
            CustomFieldDefinition.objects.filter(organization_id=incident.organization_id)
        )
        incident._custom_field_definitions = definitions
    values = incident.custom_fields or {}
    for definition in custom_fields_required_for(definitions, target):
        if _is_blank(values.get(definition.key)):
            missing.append(
                Missing(f"custom:{definition.key}", f"custom field “{definition.label}”")
            )
    from incidents.registry import requirement_checks

    for check in requirement_checks:
        missing.extend(check(incident=incident, target=target))
    return missing


def describe_missing(missing: list[Missing]) -> str:
    return "Missing: " + ", ".join(m.label for m in missing)
