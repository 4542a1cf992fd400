"""What importing a document would change (the diff), and doing it.

The diff compares the file with an export of the organisation, object by object (matched by
natural key) and field by field. Applying writes every change through the apps' services
where they exist (so their checks and the audit trail apply) in one transaction: any refusal
rolls everything back."""

import datetime
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction
from django.utils.dateparse import parse_datetime

from compliance.models import Framework, Obligation
from incidents import coordination
from incidents.models import (
    BusinessCalendar,
    Holiday,
    SlaPolicy,
    StatusCadence,
    StatusUpdateTemplate,
)
from integrations import services as integration_services
from integrations.models import AlertSource, CorrelationRule, MaintenanceWindow
from integrations.pagerduty.models import PagerDutyService
from postmortems.policy import policy_save
from taxonomy import services as taxonomy_services
from taxonomy.models import (
    Category,
    ClassificationRule,
    CustomFieldDefinition,
    EscalationPath,
    EscalationStep,
    OrgSettings,
    Service,
    SeverityLevel,
)
from tenancy import services as tenancy_services
from tenancy.models import Membership, Organization, Team, User
from tenancy.roles import Capability, can
from tenancy.scoping import org_scope

from .document import POSITIONS, export_document
from .families import FAMILIES, STEP_TARGETS

CREATE, UPDATE, DELETE, KEEP = "create", "update", "delete", "keep"

# Families nothing else in the file points at: their deletions go first, so that a row
# replacing a deleted one (same severity and category, another name) does not clash with it.
LEAVES = {
    "escalation_paths",
    "classification_rules",
    "sla_policies",
    "correlation_rules",
    "maintenance_windows",
    "status_cadences",
    "status_update_templates",
}
# Rows that are never deleted: incidents keep values under a custom field's key (deactivate
# it instead), and the regulatory frameworks are a fixed set (disable one instead).
NEVER_DELETED = {
    "custom_fields": "custom fields are never deleted: set is_active: false",
    "compliance_frameworks": "frameworks are never deleted: set enabled: false",
}
CAPABILITY = {
    "teams": Capability.MANAGE_TEAMS,
    "compliance_frameworks": Capability.MANAGE_COMPLIANCE,
    "compliance_obligations": Capability.MANAGE_COMPLIANCE,
    "correlation_rules": Capability.MANAGE_INTEGRATIONS,
    "maintenance_windows": Capability.MANAGE_INTEGRATIONS,
}


class ApplyError(Exception):
    """A write was refused; nothing was written."""


@dataclass
class Change:
    family: str
    op: str
    label: str
    current: dict | None = None
    desired: dict | None = None
    fields: list[tuple[str, Any, Any]] = field(default_factory=list)
    note: str = ""
    path: str = ""  # where the object is in the file (creates and updates)


@dataclass
class Plan:
    changes: list[Change]

    @property
    def writes(self) -> list[Change]:
        return [c for c in self.changes if c.op in (CREATE, UPDATE, DELETE)]


def build_plan(organization: Organization, document: dict, *, delete: bool = False) -> Plan:
    """Every change the document asks of the organisation, in family order."""
    current = export_document(organization)
    positions = document.get(POSITIONS, {})
    changes: list[Change] = []
    for family in FAMILIES:
        if family.name not in document:
            continue  # a family the file leaves out is left alone
        wanted, have = document[family.name], current.get(family.name)
        if family.single:
            if wanted is None:
                continue
            label = family.label(wanted)
            if have is None:
                changes.append(Change(family.name, CREATE, label, None, wanted, path=family.name))
            elif diff := _fields(have, wanted):
                changes.append(
                    Change(family.name, UPDATE, label, have, wanted, diff, path=family.name)
                )
            continue
        existing = {family.key(item): item for item in have or []}
        for item in wanted:
            old = existing.pop(family.key(item), None)
            index = positions.get(family.name, {}).get(family.key(item))
            path = family.name if index is None else f"{family.name}[{index}]"
            if old is None:
                changes.append(
                    Change(family.name, CREATE, family.label(item), None, item, path=path)
                )
            elif diff := _fields(old, item):
                changes.append(
                    Change(family.name, UPDATE, family.label(old), old, item, diff, path=path)
                )
        for old in existing.values():
            if not delete:
                note = "absent from the file; --delete removes it"
                changes.append(Change(family.name, KEEP, family.label(old), old, note=note))
            elif family.name in NEVER_DELETED:
                note = NEVER_DELETED[family.name]
                changes.append(Change(family.name, KEEP, family.label(old), old, note=note))
            else:
                usage = _usage(organization, family.name, old)
                note = f"used now by {', '.join(usage)}" if usage else ""
                changes.append(Change(family.name, DELETE, family.label(old), old, note=note))
    return Plan(changes)


# Rows other rows protect: a dry run says what uses them (the apply refuses to delete a row
# still in use, unless what used it goes in the same import).
_IN_USE = {
    "teams": (Team, "name__iexact", "name"),
    "categories": (Category, "name__iexact", "name"),
    "services": (Service, "name__iexact", "name"),
    "severity_levels": (SeverityLevel, "level", "level"),
    "compliance_obligations": (Obligation, "key", "key"),
}


def _usage(organization: Organization, family: str, item: dict) -> list[str]:
    if family not in _IN_USE:
        return []
    model, lookup, key = _IN_USE[family]
    with org_scope(organization):
        row = model.objects.filter(organization=organization, **{lookup: item[key]}).first()
        return [] if row is None else taxonomy_services.usage_of(row)


def _fields(old: dict, new: dict) -> list[tuple[str, Any, Any]]:
    return [(name, old.get(name), value) for name, value in new.items() if old.get(name) != value]


def _show(value) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, default=str)


def render(plan: Plan) -> list[str]:
    """The diff as lines: `+ create`, `~ update` with `field: old → new`, `- delete`, `= kept`."""
    if not plan.changes:
        return ["No changes."]
    lines, family = [], None
    marks = {CREATE: "+", UPDATE: "~", DELETE: "-", KEEP: "="}
    for change in plan.changes:
        if change.family != family:
            family = change.family
            lines.append(f"{family}:")
        verb = "kept" if change.op == KEEP else change.op
        line = f"  {marks[change.op]} {verb} “{change.label}”"
        if change.note:
            line += f" ({change.note})"
        lines.append(line)
        for name, old, new in change.fields:
            lines.append(f"      {name}: {_show(old)} → {_show(new)}")
    counts = {op: sum(1 for c in plan.changes if c.op == op) for op in marks}
    lines.append(
        f"{counts[CREATE]} to create, {counts[UPDATE]} to update, {counts[DELETE]} to delete, "
        f"{counts[KEEP]} kept."
    )
    return lines


# — applying ————————————————————————————————————————————————————————————————————————————


def required_capabilities(plan: Plan) -> set[Capability]:
    return {CAPABILITY.get(c.family, Capability.MANAGE_TAXONOMY) for c in plan.writes}


def apply(organization: Organization, plan: Plan, *, actor: Membership) -> int:
    """Write every change of `plan` in one transaction, or none. Returns the number written.
    Raises ApplyError naming the object and the reason when any write is refused."""
    missing = [c for c in sorted(required_capabilities(plan)) if not can(actor.role, c)]
    if actor.organization_id != organization.pk or missing:
        raise ApplyError(
            f"{actor.user.email} may not import this configuration into {organization.slug} "
            f"(needs {', '.join(missing) or 'membership'})."
        )
    writer = _Writer(organization, actor)
    writes = plan.writes
    first = [c for c in writes if c.op == DELETE and c.family in LEAVES]
    middle = [c for c in writes if c.op != DELETE]
    middle.sort(key=lambda c: (c.family != "categories" or bool(c.desired["parent"]),))
    middle.sort(key=lambda c: _ORDER[c.family])
    last = [c for c in writes if c.op == DELETE and c.family not in LEAVES]
    # Deletions in reverse dependency order; sub-categories before their parents.
    last.sort(
        key=lambda c: (_ORDER[c.family], c.family == "categories" and bool(c.current["parent"])),
        reverse=True,
    )
    with transaction.atomic(), org_scope(organization):
        for change in [*first, *middle, *last]:
            try:
                writer.write(change)
            except ValidationError as error:
                raise ApplyError(f"{_where(change)}: {_messages(error)}") from None
            except PermissionDenied as error:
                raise ApplyError(f"{_where(change)}: {error}") from None
            except (IntegrityError, models.ProtectedError, models.RestrictedError) as error:
                reason = "still in use" if not isinstance(error, IntegrityError) else str(error)
                raise ApplyError(f"{_where(change)}: {reason}") from None
        if any(c.family == "compliance_obligations" for c in middle):
            writer.link_previous_obligations(plan)
    return len(writes)


_ORDER = {family.name: index for index, family in enumerate(FAMILIES)}


def _where(change: Change) -> str:
    return f"{change.path or change.family} “{change.label}” ({change.op})"


def _messages(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return "; ".join(
            f"{name}: {' '.join(messages)}" if name != "__all__" else " ".join(messages)
            for name, messages in error.message_dict.items()
        )
    return " ".join(error.messages)


class _Writer:
    """One method per family; `desired` is the file's item, `current` the export's."""

    def __init__(self, organization: Organization, actor: Membership):
        self.org = organization
        self.actor = actor
        self.kw = {"organization": organization, "actor": actor}

    def write(self, change: Change) -> None:
        getattr(self, f"_{change.family}")(change)

    # lookups by natural key (rows created earlier in this transaction included)
    def team(self, name):
        return None if name is None else Team.objects.get(organization=self.org, name__iexact=name)

    def category(self, name):
        if name is None:
            return None
        return Category.objects.get(organization=self.org, name__iexact=name)

    def service(self, name):
        if name is None:
            return None
        return Service.objects.get(organization=self.org, name__iexact=name)

    def severity(self, level):
        return (
            None if level is None else SeverityLevel.objects.get(organization=self.org, level=level)
        )

    def pagerduty(self, name):
        """The organisation's own PagerDuty service of that name (never another's)."""
        return PagerDutyService.objects.get(organization=self.org, name__iexact=name)

    def _by_name(self, model, name):
        return model.objects.filter(organization=self.org, name__iexact=name).order_by("pk").first()

    # families
    def _settings(self, change):
        d = change.desired
        taxonomy_services.org_settings_update(
            **self.kw,
            classification_mode=d["classification_mode"],
            ownership_escalation_minutes=d["ownership_escalation_minutes"],
        )
        # No service sets this switch (the settings page saves it with the form).
        row = OrgSettings.objects.get(organization=self.org)
        if row.alerts_resolve_mitigates != d["alerts_resolve_mitigates"]:
            row.alerts_resolve_mitigates = d["alerts_resolve_mitigates"]
            row.full_clean()
            row.save()

    def _status_cadences(self, change):
        severity = self.severity((change.desired or change.current)["severity"])
        if change.op == DELETE:
            # Back to the default: open incidents' deadlines follow it (cadence_save), then the
            # row goes, as if it had never been set.
            default = coordination.STATUS_CADENCE_DEFAULTS.get(severity.level)
            coordination.cadence_save(
                organization=self.org, actor=self.actor.user, minutes={severity.pk: default}
            )
            StatusCadence.objects.filter(organization=self.org, severity=severity).delete()
            return
        coordination.cadence_save(
            organization=self.org,
            actor=self.actor.user,
            minutes={severity.pk: change.desired["minutes"]},
        )

    def _status_update_templates(self, change):
        if change.op == DELETE:
            # No delete service: templates are deactivated in the UI; a deletion leaves the
            # status updates made from one with no template link (SET_NULL).
            self._by_name(StatusUpdateTemplate, change.current["name"]).delete()
            return
        d = change.desired
        coordination.template_save(
            organization=self.org,
            actor=self.actor.user,
            template=self._by_name(StatusUpdateTemplate, change.current["name"])
            if change.current
            else None,
            **d,
        )

    def _postmortem_policy(self, change):
        policy_save(organization=self.org, actor=self.actor.user, values=dict(change.desired))

    def _teams(self, change):
        if change.op == DELETE:
            tenancy_services.team_delete(**self.kw, team=self.team(change.current["name"]))
            return
        team = self.team(change.current["name"]) if change.current else None
        members = list(team.members.all()) if team else []
        tenancy_services.team_save(
            **self.kw,
            name=change.desired["name"],
            description=change.desired["description"],
            members=members,
            team=team,
        )

    def _categories(self, change):
        if change.op == DELETE:
            category = self.category(change.current["name"])
            taxonomy_services.category_delete(**self.kw, category=category)
            return
        d = change.desired
        taxonomy_services.category_save(
            **self.kw,
            name=d["name"],
            description=d["description"],
            parent=self.category(d["parent"]),
            is_active=d["is_active"],
            category=self.category(change.current["name"]) if change.current else None,
        )

    def _services(self, change):
        if change.op == DELETE:
            service = self.service(change.current["name"])
            taxonomy_services.service_delete(**self.kw, service=service)
            return
        d = change.desired
        taxonomy_services.service_save(
            **self.kw,
            name=d["name"],
            description=d["description"],
            tier=d["tier"],
            owning_team=self.team(d["owning_team"]),
            contributing_teams=[self.team(n) for n in d["contributing_teams"]],
            health_check_url=d["health_check_url"],
            is_active=d["is_active"],
            service=self.service(change.current["name"]) if change.current else None,
        )

    def _severity_levels(self, change):
        # Levels have no create/delete service (the UI fixes them); the same checks are made
        # here: full_clean() and "not in use".
        if change.op == DELETE:
            severity = self.severity(change.current["level"])
            usage = taxonomy_services.usage_of(severity)
            if usage:
                raise ValidationError(f"it is in use ({', '.join(usage)})")
            severity.delete()
            return
        d = dict(change.desired)
        pct = d.pop("min_users_affected_pct")
        pct = None if pct is None else Decimal(str(pct)).quantize(Decimal("0.01"))
        if change.op == CREATE:
            severity = SeverityLevel(organization=self.org, level=d["level"], name=d["name"])
            severity.full_clean()
            severity.save()
        else:
            severity = self.severity(change.current["level"])
        d.pop("level")
        taxonomy_services.severity_update(
            **self.kw, severity=severity, min_users_affected_pct=pct, **d
        )

    def _custom_fields(self, change):
        d = dict(change.desired)
        field = None
        if change.current:
            field = CustomFieldDefinition.objects.get(organization=self.org, key=d["key"])
        taxonomy_services.custom_field_save(**self.kw, field=field, **d)

    def _escalation_paths(self, change):
        if change.op == DELETE:
            path = self._by_name(EscalationPath, change.current["name"])
            taxonomy_services.escalation_path_delete(**self.kw, path=path)
            return
        d = change.desired
        path = self._by_name(EscalationPath, change.current["name"]) if change.current else None
        if path is None or any(name != "steps" for name, _, _ in change.fields):
            path = taxonomy_services.escalation_path_save(
                **self.kw,
                name=d["name"],
                severity=self.severity(d["severity"]),
                category=self.category(d["category"]),
                path=path,
            )
        if change.current and change.current["steps"] == d["steps"]:
            return
        for step in EscalationStep.objects.filter(path=path).order_by("-position"):
            taxonomy_services.escalation_step_remove(**self.kw, step=step)
        for step in d["steps"]:
            kind = next(k for k in STEP_TARGETS if k in step)
            target = {
                "team": lambda v: {"team": self.team(v)},
                "role": lambda v: {"role": v},
                "user": lambda v: {"user": User.objects.get(email__iexact=v)},
                "pagerduty": lambda v: {"integration_target": self.pagerduty(v).public_id},
            }[kind](step[kind])
            taxonomy_services.escalation_step_add(
                **self.kw,
                path=path,
                delay_minutes=step["delay_minutes"],
                target_kind=kind,
                **target,
            )

    def _classification_rules(self, change):
        if change.op == DELETE:
            rule = self._by_name(ClassificationRule, change.current["name"])
            taxonomy_services.classification_rule_delete(**self.kw, rule=rule)
            return
        d = change.desired
        taxonomy_services.classification_rule_save(
            **self.kw,
            name=d["name"],
            position=d["position"],
            is_active=d["is_active"],
            match_text=d["match_text"],
            match_service=self.service(d["match_service"]),
            match_labels=d["match_labels"],
            set_category=self.category(d["set_category"]),
            set_severity=self.severity(d["set_severity"]),
            set_service=self.service(d["set_service"]),
            set_team=self.team(d["set_team"]),
            rule=self._by_name(ClassificationRule, change.current["name"])
            if change.current
            else None,
        )

    def _business_calendar(self, change):
        # No service: the SLA settings page saves the form directly; so do we, validated.
        d = change.desired
        calendar = BusinessCalendar.objects.filter(organization=self.org).first()
        if calendar is None:
            calendar = BusinessCalendar(organization=self.org)
        calendar.name = d["name"]
        calendar.timezone = d["timezone"]
        calendar.working_days = d["working_days"]
        calendar.day_start = datetime.time.fromisoformat(d["day_start"])
        calendar.day_end = datetime.time.fromisoformat(d["day_end"])
        if calendar.day_end <= calendar.day_start:
            raise ValidationError({"day_end": "The working day must end after it starts."})
        calendar.full_clean()
        calendar.save()
        wanted = {h["date"]: h["name"] for h in d["holidays"]}
        for holiday in Holiday.objects.filter(organization=self.org, calendar=calendar):
            name = wanted.pop(holiday.date.isoformat(), None)
            if name is None:
                holiday.delete()
            elif name != holiday.name:
                holiday.name = name
                holiday.full_clean()
                holiday.save()
        for day, name in sorted(wanted.items()):
            holiday = Holiday(
                organization=self.org,
                calendar=calendar,
                date=datetime.date.fromisoformat(day),
                name=name,
            )
            holiday.full_clean()
            holiday.save()

    def _sla_policy(self, item):
        return SlaPolicy.objects.get(
            organization=self.org,
            severity__level=item["severity"],
            category=self.category(item["category"]),
        )

    def _sla_policies(self, change):
        if change.op == DELETE:
            self._sla_policy(change.current).delete()
            return
        d = change.desired
        policy = (
            self._sla_policy(change.current) if change.current else SlaPolicy(organization=self.org)
        )
        policy.severity = self.severity(d["severity"])
        policy.category = self.category(d["category"])
        for name in ("acknowledge_minutes", "mitigate_minutes", "resolve_minutes", "clock"):
            setattr(policy, name, d[name])
        policy.warn_at_percent = d["warn_at_percent"]
        policy.full_clean()
        policy.save()

    def _correlation_rules(self, change):
        if change.op == DELETE:
            rule = self._by_name(CorrelationRule, change.current["name"])
            integration_services.rule_delete(**self.kw, rule=rule)
            return
        d = dict(change.desired)
        source = d.pop("source")
        integration_services.rule_save(
            **self.kw,
            rule=self._by_name(CorrelationRule, change.current["name"]) if change.current else None,
            source=None if source is None else self._by_name(AlertSource, source),
            set_severity=self.severity(d.pop("set_severity")),
            set_category=self.category(d.pop("set_category")),
            set_service=self.service(d.pop("set_service")),
            set_team=self.team(d.pop("set_team")),
            **d,
        )

    def _maintenance_windows(self, change):
        if change.op == DELETE:
            window = self._by_name(MaintenanceWindow, change.current["name"])
            integration_services.window_delete(**self.kw, window=window)
            return
        d = change.desired
        integration_services.window_save(
            **self.kw,
            name=d["name"],
            starts_at=parse_datetime(d["starts_at"]),
            ends_at=parse_datetime(d["ends_at"]),
            recurrence=d["recurrence"],
            service=self.service(d["service"]),
            match_labels=d["match_labels"],
            is_active=d["is_active"],
            window=self._by_name(MaintenanceWindow, change.current["name"])
            if change.current
            else None,
        )

    def _compliance_frameworks(self, change):
        # No service: the frameworks page saves the row directly; so do we, validated.
        d = change.desired
        framework = Framework.objects.filter(organization=self.org, key=d["key"]).first()
        framework = framework or Framework(organization=self.org, key=d["key"])
        for name in ("name", "description", "enabled", "retention_minimums"):
            setattr(framework, name, d[name])
        framework.full_clean()
        framework.save()

    def _compliance_obligations(self, change):
        if change.op == DELETE:
            Obligation.objects.get(organization=self.org, key=change.current["key"]).delete()
            return
        d = dict(change.desired)
        obligation = Obligation.objects.filter(organization=self.org, key=d["key"]).first()
        obligation = obligation or Obligation(organization=self.org, key=d["key"])
        obligation.framework = Framework.objects.get(organization=self.org, key=d["framework"])
        for name in (
            "name",
            "reference",
            "trigger",
            "clock_start",
            "deadline_unit",
            "deadline_amount",
            "latest_hours_after_awareness",
            "recipients",
            "report_format",
            "field_map",
            "guidance",
            "order",
        ):
            setattr(obligation, name, d[name])
        obligation.full_clean(exclude=["previous"])
        obligation.save()

    def link_previous_obligations(self, plan: Plan) -> None:
        """`previous` names another obligation, perhaps one created after it: set last."""
        for change in plan.writes:
            if change.family != "compliance_obligations" or change.op == DELETE:
                continue
            obligation = Obligation.objects.get(organization=self.org, key=change.desired["key"])
            previous = change.desired["previous"]
            target = (
                None
                if previous is None
                else Obligation.objects.get(organization=self.org, key=previous)
            )
            if obligation.previous_id != (target.pk if target else None):
                obligation.previous = target
                obligation.save(update_fields=["previous"])
