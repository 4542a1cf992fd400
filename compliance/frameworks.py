"""The frameworks and obligations every organisation starts with (editable afterwards), and the
idempotent seeding that gives them to an organisation on first use."""

from django.db import transaction
from django_scopes import scopes_disabled

from compliance.models import (
    ClockStart,
    DeadlineUnit,
    Framework,
    FrameworkKey,
    Obligation,
    RecordType,
    ReportFormat,
    Trigger,
)

_IDENTITY = ["incident.key", "incident.title", "incident.severity", "incident.status"]
_TIMING = ["incident.detected_at", "facts.aware_at"]

FRAMEWORKS = [
    {
        "key": FrameworkKey.GDPR,
        "name": "GDPR (EU General Data Protection Regulation)",
        "description": "Personal-data breaches: the supervisory authority within 72 hours of "
        "awareness (Art. 33); data subjects without undue delay when the risk is high (Art. 34).",
        "retention_minimums": {},
        "obligations": [
            {
                "key": "gdpr-art33",
                "name": "Notify the supervisory authority",
                "reference": "GDPR Art. 33(1)",
                "trigger": Trigger.PERSONAL_DATA_BREACH,
                "clock_start": ClockStart.AWARE,
                "deadline_unit": DeadlineUnit.HOURS,
                "deadline_amount": 72,
                "recipients": "Lead supervisory authority (data protection authority)",
                "report_format": ReportFormat.GDPR_ART33,
                "field_map": {
                    "Nature of the breach": [*_IDENTITY, "incident.description"],
                    "Categories and approximate number of data subjects": [
                        "facts.subjects_affected",
                        "facts.data_categories",
                    ],
                    "Timing": _TIMING,
                    "Likely consequences": ["incident.impact_summary"],
                    "Measures taken or proposed": ["incident.resolution_summary"],
                    "Contact point": ["incident.commander"],
                },
                "guidance": "Where notification is not made within 72 hours, it shall be "
                "accompanied by reasons for the delay (Art. 33(1)).",
            },
            {
                "key": "gdpr-art34",
                "name": "Communicate the breach to data subjects",
                "reference": "GDPR Art. 34(1)",
                "trigger": Trigger.HIGH_RISK_TO_SUBJECTS,
                "clock_start": ClockStart.AWARE,
                "deadline_unit": DeadlineUnit.NONE,
                "deadline_amount": 0,
                "recipients": "Affected data subjects",
                "report_format": ReportFormat.GDPR_ART34,
                "field_map": {
                    "What happened": ["incident.title", "incident.description"],
                    "Likely consequences": ["incident.impact_summary"],
                    "Measures taken": ["incident.resolution_summary"],
                    "Contact point": ["incident.commander"],
                },
                "guidance": "Without undue delay when the breach is likely to result in a high "
                "risk to the rights and freedoms of natural persons.",
            },
        ],
    },
    {
        "key": FrameworkKey.HIPAA,
        "name": "HIPAA Breach Notification Rule",
        "description": "Breaches of unsecured protected health information: individuals and HHS "
        "within 60 days of discovery; prominent media when more than 500 residents of a state "
        "are affected.",
        "retention_minimums": {RecordType.REPORTS: 6, RecordType.AUDIT_ENTRIES: 6},
        "obligations": [
            {
                "key": "hipaa-individuals",
                "name": "Notify affected individuals",
                "reference": "45 CFR 164.404",
                "trigger": Trigger.PHI_BREACH,
                "clock_start": ClockStart.DETECTED,
                "deadline_unit": DeadlineUnit.CALENDAR_DAYS,
                "deadline_amount": 60,
                "recipients": "Affected individuals (first-class mail or e-mail)",
                "report_format": ReportFormat.HIPAA_BREACH,
                "field_map": {
                    "What happened": [*_IDENTITY, "incident.description", "incident.detected_at"],
                    "Information involved": ["facts.data_categories"],
                    "Individuals affected": [
                        "facts.subjects_affected",
                        "facts.residents_most_in_one_state",
                    ],
                    "What we are doing": ["incident.resolution_summary"],
                    "Contact": ["incident.commander"],
                },
            },
            {
                "key": "hipaa-hhs",
                "name": "Notify the Secretary of HHS",
                "reference": "45 CFR 164.408",
                "trigger": Trigger.PHI_BREACH,
                "clock_start": ClockStart.DETECTED,
                "deadline_unit": DeadlineUnit.CALENDAR_DAYS,
                "deadline_amount": 60,
                "recipients": "U.S. Department of Health and Human Services (OCR breach portal)",
                "report_format": ReportFormat.HIPAA_BREACH,
                "field_map": {
                    "Breach": [*_IDENTITY, "incident.description", "incident.detected_at"],
                    "Individuals affected": ["facts.subjects_affected"],
                    "Safeguards and actions": ["incident.resolution_summary"],
                },
                "guidance": "Within 60 days for breaches affecting 500 or more individuals; "
                "smaller breaches may be logged and reported annually.",
            },
            {
                "key": "hipaa-media",
                "name": "Notify prominent media outlets",
                "reference": "45 CFR 164.406",
                "trigger": Trigger.PHI_BREACH_OVER_500,
                "clock_start": ClockStart.DETECTED,
                "deadline_unit": DeadlineUnit.CALENDAR_DAYS,
                "deadline_amount": 60,
                "recipients": "Prominent media outlets serving the affected state",
                "report_format": ReportFormat.HIPAA_BREACH,
                "field_map": {
                    "Breach": ["incident.title", "incident.description"],
                    "Residents affected": ["facts.residents_most_in_one_state"],
                },
            },
        ],
    },
    {
        "key": FrameworkKey.SEC,
        "name": "SEC cybersecurity incident disclosure",
        "description": "Form 8-K Item 1.05 within four business days after determining that a "
        "cybersecurity incident is material.",
        "retention_minimums": {},
        "obligations": [
            {
                "key": "sec-8k-105",
                "name": "File Form 8-K Item 1.05",
                "reference": "Form 8-K Item 1.05",
                "trigger": Trigger.MATERIAL,
                "clock_start": ClockStart.MATERIALITY,
                "deadline_unit": DeadlineUnit.BUSINESS_DAYS,
                "deadline_amount": 4,
                "recipients": "U.S. Securities and Exchange Commission (EDGAR)",
                "report_format": ReportFormat.SEC_8K,
                "field_map": {
                    "Nature, scope and timing": [
                        "incident.title",
                        "incident.description",
                        "incident.detected_at",
                        "facts.materiality_determined_at",
                    ],
                    "Material impact or reasonably likely impact": ["incident.impact_summary"],
                },
            }
        ],
    },
    {
        "key": FrameworkKey.DORA,
        "name": "DORA (EU Digital Operational Resilience Act)",
        "description": "Major ICT-related incidents: initial notification within 4 hours of "
        "classification and 24 hours of awareness, intermediate report within 72 hours, final "
        "report within one month.",
        "retention_minimums": {RecordType.INCIDENTS: 5, RecordType.REPORTS: 5},
        "obligations": [
            {
                "key": "dora-initial",
                "name": "Initial notification",
                "reference": "DORA Art. 19(4)(a)",
                "trigger": Trigger.MAJOR_ICT,
                "clock_start": ClockStart.CLASSIFIED,
                "deadline_unit": DeadlineUnit.HOURS,
                "deadline_amount": 4,
                "latest_hours_after_awareness": 24,
                "recipients": "Competent authority (financial supervisor)",
                "report_format": ReportFormat.DORA_INITIAL,
                "field_map": {
                    "Incident": [*_IDENTITY, "incident.description"],
                    "Timing": [*_TIMING, "facts.classified_at"],
                    "Affected services": ["incident.primary_service", "incident.affected_services"],
                },
            },
            {
                "key": "dora-intermediate",
                "name": "Intermediate report",
                "reference": "DORA Art. 19(4)(b)",
                "trigger": Trigger.MAJOR_ICT,
                "clock_start": ClockStart.CLASSIFIED,
                "deadline_unit": DeadlineUnit.HOURS,
                "deadline_amount": 72,
                "recipients": "Competent authority (financial supervisor)",
                "report_format": ReportFormat.DORA_INTERMEDIATE,
                "field_map": {
                    "Incident": [*_IDENTITY, "incident.description"],
                    "Impact": ["incident.impact_summary", "facts.subjects_affected"],
                    "Status": ["incident.status", "incident.mitigated_at"],
                },
            },
            {
                "key": "dora-final",
                "name": "Final report",
                "reference": "DORA Art. 19(4)(c)",
                "trigger": Trigger.MAJOR_ICT,
                "clock_start": ClockStart.PREVIOUS_SUBMITTED,
                "previous": "dora-intermediate",
                "deadline_unit": DeadlineUnit.MONTHS,
                "deadline_amount": 1,
                "recipients": "Competent authority (financial supervisor)",
                "report_format": ReportFormat.DORA_FINAL,
                "field_map": {
                    "Incident": [*_IDENTITY, "incident.description"],
                    "Root cause": ["incident.root_cause_category", "incident.resolution_summary"],
                    "Impact": ["incident.impact_summary"],
                    "Timing": [*_TIMING, "incident.resolved_at"],
                },
            },
        ],
    },
    {
        "key": FrameworkKey.NIS2,
        "name": "NIS2 (EU Network and Information Security Directive)",
        "description": "Significant incidents: early warning within 24 hours, notification "
        "within 72 hours, final report within one month of the notification.",
        "retention_minimums": {},
        "obligations": [
            {
                "key": "nis2-early-warning",
                "name": "Early warning",
                "reference": "NIS2 Art. 23(4)(a)",
                "trigger": Trigger.SIGNIFICANT,
                "clock_start": ClockStart.AWARE,
                "deadline_unit": DeadlineUnit.HOURS,
                "deadline_amount": 24,
                "recipients": "CSIRT or competent authority",
                "report_format": ReportFormat.NIS2_EARLY_WARNING,
                "field_map": {"Incident": _IDENTITY, "Timing": _TIMING},
            },
            {
                "key": "nis2-notification",
                "name": "Incident notification",
                "reference": "NIS2 Art. 23(4)(b)",
                "trigger": Trigger.SIGNIFICANT,
                "clock_start": ClockStart.AWARE,
                "deadline_unit": DeadlineUnit.HOURS,
                "deadline_amount": 72,
                "recipients": "CSIRT or competent authority",
                "report_format": ReportFormat.NIS2_NOTIFICATION,
                "field_map": {
                    "Incident": [*_IDENTITY, "incident.description"],
                    "Severity and impact": ["incident.severity", "incident.impact_summary"],
                },
            },
            {
                "key": "nis2-final",
                "name": "Final report",
                "reference": "NIS2 Art. 23(4)(d)",
                "trigger": Trigger.SIGNIFICANT,
                "clock_start": ClockStart.PREVIOUS_SUBMITTED,
                "previous": "nis2-notification",
                "deadline_unit": DeadlineUnit.MONTHS,
                "deadline_amount": 1,
                "recipients": "CSIRT or competent authority",
                "report_format": ReportFormat.NIS2_FINAL,
                "field_map": {
                    "Incident": [*_IDENTITY, "incident.description"],
                    "Root cause": ["incident.root_cause_category", "incident.resolution_summary"],
                },
            },
        ],
    },
    {
        "key": FrameworkKey.SOX,
        "name": "SOX (Sarbanes-Oxley IT general controls)",
        "description": "Incidents touching in-scope financial systems: an internal evidence "
        "pack for IT general controls. No external deadline.",
        "retention_minimums": {
            RecordType.AUDIT_ENTRIES: 7,
            RecordType.REPORTS: 7,
            RecordType.INCIDENTS: 7,
        },
        "obligations": [
            {
                "key": "sox-evidence",
                "name": "Incident evidence pack for ITGC",
                "reference": "SOX §404 (ITGC)",
                "trigger": Trigger.FINANCIAL_SYSTEM,
                "clock_start": ClockStart.RESOLVED,
                "deadline_unit": DeadlineUnit.NONE,
                "deadline_amount": 0,
                "recipients": "Internal audit\nExternal auditor (on request)",
                "report_format": ReportFormat.SOX_EVIDENCE,
                "field_map": {
                    "Incident": [*_IDENTITY, "incident.description"],
                    "Systems": ["incident.primary_service", "incident.affected_services"],
                    "Resolution": ["incident.resolution_summary", "incident.root_cause_category"],
                },
            }
        ],
    },
]


def ensure_frameworks(organization_id: int) -> None:
    """Give the organisation the default frameworks and obligations it does not have yet
    (idempotent; existing, possibly edited rows are left alone)."""
    with scopes_disabled():
        if Framework.objects.filter(organization_id=organization_id).count() >= len(FRAMEWORKS):
            return
        with transaction.atomic():
            for spec in FRAMEWORKS:
                framework, _ = Framework.objects.get_or_create(
                    organization_id=organization_id,
                    key=spec["key"],
                    defaults={
                        "name": spec["name"],
                        "description": spec["description"],
                        "retention_minimums": spec["retention_minimums"],
                    },
                )
                for order, item in enumerate(spec["obligations"]):
                    values = {k: v for k, v in item.items() if k not in ("key", "previous")}
                    if "previous" in item:
                        values["previous"] = Obligation.objects.filter(
                            organization_id=organization_id, key=item["previous"]
                        ).first()
                    Obligation.objects.get_or_create(
                        organization_id=organization_id,
                        key=item["key"],
                        defaults={**values, "framework": framework, "order": order},
                    )
