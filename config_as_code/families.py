"""Every family of configuration, in the order they depend on each other: its fields (schema),
how the database rows are read into that shape (export), and which fields name other objects.

Objects are named by natural keys — names, slugs, levels, e-mails — never database ids.
Teams are exported without members; alert sources (which hold secrets) are never exported,
only named by the correlation rules that filter on them."""

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
from incidents.models import (
    BusinessCalendar,
    Holiday,
    SlaPolicy,
    StatusCadence,
    StatusUpdateTemplate,
)
from integrations.models import CorrelationRule, MaintenanceWindow
from integrations.pagerduty.models import PagerDutyService
from postmortems.models import PostMortemPolicy
from postmortems.policy import LIMITS as POSTMORTEM_LIMITS
from taxonomy.models import (
    REQUIRABLE_STATES,
    Category,
    ClassificationRule,
    CustomFieldDefinition,
    EscalationPath,
    EscalationStep,
    OrgSettings,
    Service,
    SeverityLevel,
)
from tenancy.models import Team
from tenancy.roles import Role

from .schema import (
    Family,
    Field,
    Invalid,
    boolean,
    choice,
    date,
    field_key,
    integer,
    json_mapping,
    labels,
    moment,
    moment_out,
    number_out,
    optional,
    percent,
    slug,
    string_list,
    text,
    time_of_day,
    time_out,
    timezone_name,
    working_days,
)


def _name_key(item):
    return item["name"].casefold()


def _name(item):
    return item["name"]


def _ref_name(max_length=100):
    return optional(text(max_length, blank=False))


STEP_TARGETS = ("team", "role", "user", "pagerduty")


def _steps(value):
    """Escalation steps: [{delay_minutes: 0, team: DBA}, {delay_minutes: 15, role: manager},
    {delay_minutes: 30, pagerduty: Payments}] (a PagerDuty service by its name)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise Invalid("must be a list of steps")
    steps = []
    for index, raw in enumerate(value):
        where = f"[{index}]"
        if not isinstance(raw, dict):
            raise Invalid(f"{where}: must be a mapping")
        unknown = set(raw) - {"delay_minutes", *STEP_TARGETS}
        if unknown:
            raise Invalid(f"{where}.{sorted(unknown)[0]}: unknown key")
        targets = [k for k in STEP_TARGETS if raw.get(k) is not None]
        if len(targets) != 1:
            raise Invalid(f"{where}: give exactly one of team, role, user or pagerduty")
        kind = targets[0]
        try:
            delay = integer(0, 60 * 24 * 30)(raw.get("delay_minutes", 0))
            if kind == "role":
                target = choice(Role.values)(raw["role"])
            else:
                target = text(254 if kind == "user" else 100, blank=False)(raw[kind])
        except Invalid as error:
            raise Invalid(f"{where}: {error}") from None
        steps.append({"delay_minutes": delay, kind: target})
    # The service keeps steps in the order they fire (by delay); so does the file.
    return sorted(steps, key=lambda s: s["delay_minutes"])


def _obligation_trigger(value):
    value = text(80, blank=False)(value)
    if value not in Trigger.values and not value.startswith("custom:"):
        raise Invalid(f"must be one of {', '.join(Trigger.values)} or custom:<field key>")
    return value


def _retention(value):
    value = json_mapping(integer(0, 100))(value)
    unknown = set(value) - set(RecordType.values)
    if unknown:
        raise Invalid(f"{sorted(unknown)[0]}: must be one of {', '.join(RecordType.values)}")
    return dict(sorted(value.items()))


SETTINGS = Family(
    name="settings",
    fields={
        "classification_mode": Field(
            choice(OrgSettings.ClassificationMode.values), default="static"
        ),
        "alerts_resolve_mitigates": Field(boolean, default=False),
        "ownership_escalation_minutes": Field(integer(1, 7 * 24 * 60), default=30),
    },
    key=lambda i: "settings",
    label=lambda i: "settings",
    sort=lambda i: 0,
    single=True,
)

TEAMS = Family(
    name="teams",
    fields={
        "name": Field(text(100, blank=False), required=True),
        "description": Field(text(10_000), default=""),
    },
    key=_name_key,
    label=_name,
    sort=_name_key,
)

CATEGORIES = Family(
    name="categories",
    fields={
        "name": Field(text(80, blank=False), required=True),
        "parent": Field(_ref_name(80), ref="categories"),
        "description": Field(text(300), default=""),
        "is_active": Field(boolean, default=True),
    },
    key=_name_key,
    label=_name,
    sort=_name_key,
)

SERVICES = Family(
    name="services",
    fields={
        "name": Field(text(100, blank=False), required=True),
        "description": Field(text(300), default=""),
        "tier": Field(choice([1, 2, 3]), default=2),
        "owning_team": Field(_ref_name(), ref="teams"),
        "contributing_teams": Field(
            string_list(unique=True, max_length=100), default=list, ref="teams"
        ),
        "health_check_url": Field(text(200), default=""),
        "is_active": Field(boolean, default=True),
    },
    key=_name_key,
    label=_name,
    sort=_name_key,
)

SEVERITY_LEVELS = Family(
    name="severity_levels",
    fields={
        "level": Field(integer(1, 9), required=True),
        "name": Field(text(30, blank=False), required=True),
        "description": Field(text(300), default=""),
        "requires_customer_visible": Field(boolean, default=False),
        "min_users_affected_pct": Field(optional(percent)),
        "min_downtime_minutes": Field(optional(integer(0))),
        "on_revenue_at_risk": Field(boolean, default=False),
        "on_data_at_risk": Field(boolean, default=False),
        "on_regulatory_exposure": Field(boolean, default=False),
    },
    key=lambda i: i["level"],
    label=lambda i: f"level {i['level']} ({i['name']})",
    sort=lambda i: i["level"],
)

STATUS_CADENCES = Family(
    name="status_cadences",
    fields={
        "severity": Field(integer(1, 9), required=True, ref="severity_levels"),
        # null: no required cadence for this severity
        "minutes": Field(optional(integer(1, 7 * 24 * 60)), required=True),
    },
    key=lambda i: i["severity"],
    label=lambda i: f"severity {i['severity']}",
    sort=lambda i: i["severity"],
)

STATUS_UPDATE_TEMPLATES = Family(
    name="status_update_templates",
    fields={
        "name": Field(text(80, blank=False), required=True),
        "current_status": Field(text(5000, blank=False), required=True),
        "impact": Field(text(5000), default=""),
        "workaround": Field(text(5000), default=""),
        "body": Field(text(5000), default=""),
        "is_active": Field(boolean, default=True),
    },
    key=_name_key,
    label=_name,
    sort=_name_key,
)

CUSTOM_FIELDS = Family(
    name="custom_fields",
    fields={
        "key": Field(field_key, required=True),
        "label": Field(text(100, blank=False), required=True),
        "field_type": Field(choice(CustomFieldDefinition.FieldType.values), required=True),
        "choices": Field(string_list(unique=True), default=list),
        "required_from": Field(choice(["", *[s for s, _ in REQUIRABLE_STATES]]), default=""),
        "help_text": Field(text(200), default=""),
        "is_regulatory": Field(boolean, default=False),
        "is_sensitive": Field(boolean, default=False),
        "position": Field(integer(0), default=100),
        "is_active": Field(boolean, default=True),
    },
    key=lambda i: i["key"],
    label=lambda i: i["key"],
    sort=lambda i: i["key"],
)

ESCALATION_PATHS = Family(
    name="escalation_paths",
    fields={
        "name": Field(text(100, blank=False), required=True),
        "severity": Field(integer(1, 9), required=True, ref="severity_levels"),
        "category": Field(_ref_name(80), ref="categories"),
        "steps": Field(_steps, default=list),
    },
    key=_name_key,
    label=_name,
    sort=_name_key,
)

CLASSIFICATION_RULES = Family(
    name="classification_rules",
    fields={
        "name": Field(text(100, blank=False), required=True),
        "position": Field(integer(0), default=100),
        "is_active": Field(boolean, default=True),
        "match_text": Field(text(200), default=""),
        "match_service": Field(_ref_name(), ref="services"),
        "match_labels": Field(labels, default=dict),
        "set_category": Field(_ref_name(80), ref="categories"),
        "set_severity": Field(optional(integer(1, 9)), ref="severity_levels"),
        "set_service": Field(_ref_name(), ref="services"),
        "set_team": Field(_ref_name(), ref="teams"),
    },
    key=_name_key,
    label=_name,
    sort=_name_key,
)

HOLIDAYS = Family(
    name="holidays",
    fields={
        "date": Field(date, required=True),
        "name": Field(text(100, blank=False), required=True),
    },
    key=lambda i: i["date"],
    label=lambda i: i["date"],
    sort=lambda i: i["date"],
)

BUSINESS_CALENDAR = Family(
    name="business_calendar",
    fields={
        "name": Field(text(80, blank=False), default="Office hours"),
        "timezone": Field(timezone_name, default="UTC"),
        "working_days": Field(working_days, default=list),
        "day_start": Field(time_of_day, default="09:00"),
        "day_end": Field(time_of_day, default="17:00"),
    },
    nested={"holidays": HOLIDAYS},
    key=lambda i: "calendar",
    label=lambda i: i["name"],
    sort=lambda i: 0,
    single=True,
)

SLA_POLICIES = Family(
    name="sla_policies",
    fields={
        "severity": Field(integer(1, 9), required=True, ref="severity_levels"),
        "category": Field(_ref_name(80), ref="categories"),
        "acknowledge_minutes": Field(integer(1), required=True),
        "mitigate_minutes": Field(integer(1), required=True),
        "resolve_minutes": Field(integer(1), required=True),
        "clock": Field(choice(SlaPolicy.Clock.values), default=SlaPolicy.Clock.WALL.value),
        "warn_at_percent": Field(integer(1, 99), default=80),
    },
    key=lambda i: (i["severity"], (i["category"] or "").casefold()),
    label=lambda i: f"severity {i['severity']}" + (f" / {i['category']}" if i["category"] else ""),
    sort=lambda i: (i["severity"], (i["category"] or "").casefold()),
)

CORRELATION_RULES = Family(
    name="correlation_rules",
    fields={
        "name": Field(text(100, blank=False), required=True),
        "position": Field(integer(0), default=100),
        "is_active": Field(boolean, default=True),
        "source": Field(_ref_name(), ref="alert_sources"),
        "match_labels": Field(labels, default=dict),
        "match_text": Field(text(200), default=""),
        "action": Field(choice(CorrelationRule.Action.values), default="create"),
        "set_severity": Field(optional(integer(1, 9)), ref="severity_levels"),
        "set_category": Field(_ref_name(80), ref="categories"),
        "set_service": Field(_ref_name(), ref="services"),
        "set_team": Field(_ref_name(), ref="teams"),
        "threshold_count": Field(integer(1), default=1),
        "threshold_window_minutes": Field(integer(0), default=5),
        "min_firing_seconds": Field(integer(0), default=0),
        "group_by": Field(string_list(), default=list),
        "group_window_minutes": Field(integer(0), default=10),
        "flap_max": Field(integer(0), default=0),
        "flap_window_minutes": Field(integer(0), default=60),
    },
    key=_name_key,
    label=_name,
    sort=_name_key,
)

MAINTENANCE_WINDOWS = Family(
    name="maintenance_windows",
    fields={
        "name": Field(text(100, blank=False), required=True),
        "starts_at": Field(moment, required=True),
        "ends_at": Field(moment, required=True),
        "recurrence": Field(choice(MaintenanceWindow.Recurrence.values), default="none"),
        "service": Field(_ref_name(), ref="services"),
        "match_labels": Field(labels, default=dict),
        "is_active": Field(boolean, default=True),
    },
    key=_name_key,
    label=_name,
    sort=_name_key,
)

COMPLIANCE_FRAMEWORKS = Family(
    name="compliance_frameworks",
    fields={
        "key": Field(choice(FrameworkKey.values), required=True),
        "name": Field(text(120, blank=False), required=True),
        "description": Field(text(10_000), default=""),
        "enabled": Field(boolean, default=True),
        "retention_minimums": Field(_retention, default=dict),
    },
    key=lambda i: i["key"],
    label=lambda i: i["key"],
    sort=lambda i: i["key"],
)

COMPLIANCE_OBLIGATIONS = Family(
    name="compliance_obligations",
    fields={
        "key": Field(slug(60), required=True),
        "framework": Field(choice(FrameworkKey.values), required=True, ref="compliance_frameworks"),
        "name": Field(text(160, blank=False), required=True),
        "reference": Field(text(120), default=""),
        "trigger": Field(_obligation_trigger, required=True),
        "clock_start": Field(choice(ClockStart.values), required=True),
        "previous": Field(optional(slug(60)), ref="compliance_obligations"),
        "deadline_unit": Field(choice(DeadlineUnit.values), required=True),
        "deadline_amount": Field(integer(0), default=0),
        "latest_hours_after_awareness": Field(optional(integer(0))),
        "recipients": Field(text(10_000, blank=False), required=True),
        "report_format": Field(choice(ReportFormat.values), default=""),
        "field_map": Field(json_mapping(string_list()), default=dict),
        "guidance": Field(text(10_000), default=""),
        "order": Field(integer(0), default=0),
    },
    key=lambda i: i["key"],
    label=lambda i: i["key"],
    sort=lambda i: (i["framework"], i["order"], i["key"]),
)

_POSTMORTEM_DEFAULTS = {
    "max_severity_level": 2,
    "recurrence_count": 3,
    "recurrence_days": 30,
    "review_due_hours": 48,
    "remind_before_hours": 12,
    "escalate_after_hours": 0,
    "approvals_required": 1,
    "action_item_remind_days": 2,
}

POSTMORTEM_POLICY = Family(
    name="postmortem_policy",
    fields={
        **{
            name: Field(integer(*POSTMORTEM_LIMITS[name]), default=default)
            for name, default in _POSTMORTEM_DEFAULTS.items()
        },
        "on_regulatory": Field(boolean, default=True),
    },
    key=lambda i: "postmortem_policy",
    label=lambda i: "post-mortem policy",
    sort=lambda i: 0,
    single=True,
)

# In dependency order: an object only names objects of families above it (obligations name
# earlier obligations of their own family, set in a second pass).
FAMILIES = [
    SETTINGS,
    TEAMS,
    CATEGORIES,
    SERVICES,
    SEVERITY_LEVELS,
    STATUS_CADENCES,
    STATUS_UPDATE_TEMPLATES,
    CUSTOM_FIELDS,
    ESCALATION_PATHS,
    CLASSIFICATION_RULES,
    BUSINESS_CALENDAR,
    SLA_POLICIES,
    CORRELATION_RULES,
    MAINTENANCE_WINDOWS,
    COMPLIANCE_FRAMEWORKS,
    COMPLIANCE_OBLIGATIONS,
    POSTMORTEM_POLICY,
]
BY_NAME = {family.name: family for family in FAMILIES}


# — export: database rows → normalised items ————————————————————————————————————————————


def _n(obj, attr="name"):
    return None if obj is None else getattr(obj, attr)


def export_family(family: Family, organization) -> list[dict] | dict | None:
    """The organisation's rows of one family in the file's shape (call inside its scope)."""
    rows = _EXPORTERS[family.name](organization)
    if family.single:
        return rows
    return sorted(rows, key=family.sort)


def _settings(org):
    row = OrgSettings.objects.filter(organization=org).first()
    if row is None:
        return None
    return {
        "classification_mode": row.classification_mode,
        "alerts_resolve_mitigates": row.alerts_resolve_mitigates,
        "ownership_escalation_minutes": row.ownership_escalation_minutes,
    }


def _status_cadences(org):
    return [
        {"severity": c.severity.level, "minutes": c.minutes}
        for c in StatusCadence.objects.filter(organization=org).select_related("severity")
    ]


def _status_update_templates(org):
    return [
        {
            "name": t.name,
            "current_status": t.current_status,
            "impact": t.impact,
            "workaround": t.workaround,
            "body": t.body,
            "is_active": t.is_active,
        }
        for t in StatusUpdateTemplate.objects.filter(organization=org)
    ]


def _teams(org):
    return [
        {"name": t.name, "description": t.description}
        for t in Team.objects.filter(organization=org)
    ]


def _categories(org):
    return [
        {
            "name": c.name,
            "parent": _n(c.parent),
            "description": c.description,
            "is_active": c.is_active,
        }
        for c in Category.objects.filter(organization=org).select_related("parent")
    ]


def _services(org):
    return [
        {
            "name": s.name,
            "description": s.description,
            "tier": s.tier,
            "owning_team": _n(s.owning_team),
            "contributing_teams": sorted(
                (t.name for t in s.contributing_teams.all()), key=str.casefold
            ),
            "health_check_url": s.health_check_url,
            "is_active": s.is_active,
        }
        for s in Service.objects.filter(organization=org)
        .select_related("owning_team")
        .prefetch_related("contributing_teams")
    ]


def _severity_levels(org):
    return [
        {
            "level": s.level,
            "name": s.name,
            "description": s.description,
            "requires_customer_visible": s.requires_customer_visible,
            "min_users_affected_pct": None
            if s.min_users_affected_pct is None
            else number_out(s.min_users_affected_pct),
            "min_downtime_minutes": s.min_downtime_minutes,
            "on_revenue_at_risk": s.on_revenue_at_risk,
            "on_data_at_risk": s.on_data_at_risk,
            "on_regulatory_exposure": s.on_regulatory_exposure,
        }
        for s in SeverityLevel.objects.filter(organization=org)
    ]


def _custom_fields(org):
    return [
        {
            "key": f.key,
            "label": f.label,
            "field_type": f.field_type,
            "choices": list(f.choices or []),
            "required_from": f.required_from,
            "help_text": f.help_text,
            "is_regulatory": f.is_regulatory,
            "is_sensitive": f.is_sensitive,
            "position": f.position,
            "is_active": f.is_active,
        }
        for f in CustomFieldDefinition.objects.filter(organization=org)
    ]


def _step(step: EscalationStep, pagerduty_names: dict[str, str]) -> dict:
    kind = step.target_kind
    if kind == EscalationStep.TargetKind.TEAM:
        target = step.team.name
    elif kind == EscalationStep.TargetKind.ROLE:
        target = step.role
    elif kind == EscalationStep.TargetKind.USER:
        target = step.user.email
    elif kind == EscalationStep.TargetKind.PAGERDUTY:
        # By name: the public id differs between environments; the secrets stay out.
        target = pagerduty_names.get(step.integration_target, step.integration_target)
    else:
        raise ValueError(f"escalation step {step.pk}: unknown target kind {kind!r}")
    return {"delay_minutes": step.delay_minutes, kind: target}


def _escalation_paths(org):
    paths = EscalationPath.objects.filter(organization=org).select_related("severity", "category")
    pagerduty_names = dict(
        PagerDutyService.objects.filter(organization=org).values_list("public_id", "name")
    )
    steps: dict[int, list] = {}
    for step in (
        EscalationStep.objects.filter(organization=org)
        .select_related("team", "user")
        .order_by("path_id", "position", "pk")
    ):
        steps.setdefault(step.path_id, []).append(_step(step, pagerduty_names))
    return [
        {
            "name": p.name,
            "severity": p.severity.level,
            "category": _n(p.category),
            "steps": sorted(steps.get(p.pk, []), key=lambda s: s["delay_minutes"]),
        }
        for p in paths
    ]


def _classification_rules(org):
    return [
        {
            "name": r.name,
            "position": r.position,
            "is_active": r.is_active,
            "match_text": r.match_text,
            "match_service": _n(r.match_service),
            "match_labels": dict(sorted((r.match_labels or {}).items())),
            "set_category": _n(r.set_category),
            "set_severity": _n(r.set_severity, "level"),
            "set_service": _n(r.set_service),
            "set_team": _n(r.set_team),
        }
        for r in ClassificationRule.objects.filter(organization=org).select_related(
            "match_service", "set_category", "set_severity", "set_service", "set_team"
        )
    ]


def _business_calendar(org):
    calendar = BusinessCalendar.objects.filter(organization=org).first()
    if calendar is None:
        return None
    return {
        "name": calendar.name,
        "timezone": calendar.timezone,
        "working_days": list(calendar.working_days or []),
        "day_start": time_out(calendar.day_start),
        "day_end": time_out(calendar.day_end),
        "holidays": [
            {"date": h.date.isoformat(), "name": h.name}
            for h in Holiday.objects.filter(organization=org, calendar=calendar).order_by("date")
        ],
    }


def _sla_policies(org):
    return [
        {
            "severity": p.severity.level,
            "category": _n(p.category),
            "acknowledge_minutes": p.acknowledge_minutes,
            "mitigate_minutes": p.mitigate_minutes,
            "resolve_minutes": p.resolve_minutes,
            "clock": p.clock,
            "warn_at_percent": p.warn_at_percent,
        }
        for p in SlaPolicy.objects.filter(organization=org).select_related("severity", "category")
    ]


def _correlation_rules(org):
    return [
        {
            "name": r.name,
            "position": r.position,
            "is_active": r.is_active,
            "source": _n(r.source),
            "match_labels": dict(sorted((r.match_labels or {}).items())),
            "match_text": r.match_text,
            "action": r.action,
            "set_severity": _n(r.set_severity, "level"),
            "set_category": _n(r.set_category),
            "set_service": _n(r.set_service),
            "set_team": _n(r.set_team),
            "threshold_count": r.threshold_count,
            "threshold_window_minutes": r.threshold_window_minutes,
            "min_firing_seconds": r.min_firing_seconds,
            "group_by": list(r.group_by or []),
            "group_window_minutes": r.group_window_minutes,
            "flap_max": r.flap_max,
            "flap_window_minutes": r.flap_window_minutes,
        }
        for r in CorrelationRule.objects.filter(organization=org).select_related(
            "source", "set_severity", "set_category", "set_service", "set_team"
        )
    ]


def _maintenance_windows(org):
    return [
        {
            "name": w.name,
            "starts_at": moment_out(w.starts_at),
            "ends_at": moment_out(w.ends_at),
            "recurrence": w.recurrence,
            "service": _n(w.service),
            "match_labels": dict(sorted((w.match_labels or {}).items())),
            "is_active": w.is_active,
        }
        for w in MaintenanceWindow.objects.filter(organization=org).select_related("service")
    ]


def _compliance_frameworks(org):
    return [
        {
            "key": f.key,
            "name": f.name,
            "description": f.description,
            "enabled": f.enabled,
            "retention_minimums": dict(sorted((f.retention_minimums or {}).items())),
        }
        for f in Framework.objects.filter(organization=org)
    ]


def _compliance_obligations(org):
    return [
        {
            "key": o.key,
            "framework": o.framework.key,
            "name": o.name,
            "reference": o.reference,
            "trigger": o.trigger,
            "clock_start": o.clock_start,
            "previous": _n(o.previous, "key"),
            "deadline_unit": o.deadline_unit,
            "deadline_amount": o.deadline_amount,
            "latest_hours_after_awareness": o.latest_hours_after_awareness,
            "recipients": o.recipients,
            "report_format": o.report_format,
            "field_map": {k: list(v) for k, v in (o.field_map or {}).items()},
            "guidance": o.guidance,
            "order": o.order,
        }
        for o in Obligation.objects.filter(organization=org).select_related("framework", "previous")
    ]


def _postmortem_policy(org):
    policy = PostMortemPolicy.objects.filter(organization=org).first()
    if policy is None:
        return None
    return {name: getattr(policy, name) for name in POSTMORTEM_POLICY.fields}


_EXPORTERS = {
    "postmortem_policy": _postmortem_policy,
    "settings": _settings,
    "status_cadences": _status_cadences,
    "status_update_templates": _status_update_templates,
    "teams": _teams,
    "categories": _categories,
    "services": _services,
    "severity_levels": _severity_levels,
    "custom_fields": _custom_fields,
    "escalation_paths": _escalation_paths,
    "classification_rules": _classification_rules,
    "business_calendar": _business_calendar,
    "sla_policies": _sla_policies,
    "correlation_rules": _correlation_rules,
    "maintenance_windows": _maintenance_windows,
    "compliance_frameworks": _compliance_frameworks,
    "compliance_obligations": _compliance_obligations,
}
