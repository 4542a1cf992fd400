"""Every write to an organisation's taxonomy: settings, categories, services, severity levels,
escalation paths and their steps, classification rules and custom field definitions.

Each function takes the organisation and the acting membership explicitly, refuses an actor
without `manage_taxonomy` in that organisation, runs in one transaction inside the
organisation's scope (so uniqueness checks see this organisation's rows and no other's), and
raises a ValidationError with per-field messages a form can show. The audit trail records every
change (the models are registered with auditlog)."""

from collections.abc import Iterable
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction

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
from taxonomy.registry import step_target_choices
from tenancy.models import Membership, Organization, Team, User
from tenancy.roles import Capability
from tenancy.writes import org_write, own, require_capability

# — guards and helpers ————————————————————————————————————————————————————————————————


_REFUSAL = "Your role may not manage the taxonomy."
_taxonomy_write = org_write(Capability.MANAGE_TAXONOMY, _REFUSAL)
_own = own


def _require(actor: Membership | None, organization: Organization) -> None:
    require_capability(actor, organization, Capability.MANAGE_TAXONOMY, _REFUSAL)


def _required_text(value: str, field: str, message: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError({field: message})
    return value


def _refuse_duplicate(queryset, *, exclude, field: str, message: str) -> None:
    if exclude is not None:
        queryset = queryset.exclude(pk=exclude.pk)
    if queryset.exists():
        raise ValidationError({field: message})


def _save(instance: models.Model) -> models.Model:
    """Validate the row (field validators, the model's clean() with its same-organisation
    checks, constraints) and save it. A constraint that a concurrent write broke after our
    checks becomes a ValidationError, not a 500."""
    instance.full_clean()
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError:
        raise ValidationError(
            "Someone else saved a conflicting change at the same time: reload and try again."
        ) from None
    return instance


# Labels for reverse relations whose model name alone would mislead.
_USAGE_LABELS = {("taxonomy.category", "parent"): ("sub-category", "sub-categories")}


def usage_of(instance: models.Model, *, owned: Iterable[type[models.Model]] = ()) -> list[str]:
    """What still points at `instance`, as words: ["3 incidents", "1 classification rule"].

    Walks every reverse relation, hidden ones included (most of ours use related_name="+"),
    so rows of apps that depend on taxonomy are found without taxonomy importing them. Rows
    of `owned` models go with `instance` and do not count. Reads through base managers,
    filtered by the row itself: only rows that reference it are counted."""
    owned = set(owned)
    conditions: dict[type[models.Model], list[tuple[str, tuple[str, str] | None]]] = {}
    for relation in instance._meta.get_fields(include_hidden=True):
        if not (relation.auto_created and relation.is_relation and not relation.concrete):
            continue
        model = relation.related_model
        if model in owned or model._meta.auto_created:  # m2m through rows: counted via the m2m
            continue
        label = _USAGE_LABELS.get((model._meta.label_lower, relation.field.name))
        conditions.setdefault(model, []).append((relation.field.name, label))
    found = []
    for model, fields in conditions.items():
        query = models.Q()
        for name, _ in fields:
            query |= models.Q(**{name: instance.pk})
        count = model._base_manager.filter(query).distinct().count()
        if count:
            singular, plural = next(
                (label for _, label in fields if label),
                (model._meta.verbose_name, model._meta.verbose_name_plural),
            )
            found.append(f"{count} {singular if count == 1 else plural}")
    return found


def _delete_unless_in_use(instance: models.Model, *, owned=(), hint: str) -> None:
    usage = usage_of(instance, owned=owned)
    if usage:
        raise ValidationError(f"“{instance}” is in use ({', '.join(usage)}): {hint}")
    try:
        instance.delete()
    except (models.ProtectedError, models.RestrictedError):
        # Something the walk above cannot see (or a row added since) still points at it.
        raise ValidationError(f"“{instance}” is in use: {hint}") from None


# — settings ——————————————————————————————————————————————————————————————————————————


@_taxonomy_write
def org_settings_update(
    *,
    organization: Organization,
    actor: Membership,
    classification_mode: str,
    ownership_escalation_minutes: int,
) -> OrgSettings:
    """Set how incidents are classified and how long an ownership request may go unanswered."""
    settings = OrgSettings.objects.select_for_update().filter(organization=organization).first()
    if settings is None:
        settings = OrgSettings(organization=organization)
    settings.classification_mode = classification_mode
    settings.ownership_escalation_minutes = ownership_escalation_minutes
    return _save(settings)


# — categories ————————————————————————————————————————————————————————————————————————


@_taxonomy_write
def category_save(
    *,
    organization: Organization,
    actor: Membership,
    name: str,
    description: str = "",
    parent: Category | None = None,
    is_active: bool = True,
    category: Category | None = None,
) -> Category:
    """Create a category, or update `category`. Names are unique per organisation ignoring
    case; categories nest one level (the model's clean() says why a parent is refused)."""
    name = _required_text(name, "name", "A category needs a name.")
    _refuse_duplicate(
        Category.objects.filter(organization=organization, name__iexact=name),
        exclude=category,
        field="name",
        message=f"There is already a category called “{name}”.",
    )
    category = (
        Category(organization=organization) if category is None else _own(category, organization)
    )
    category.name = name
    category.description = description.strip()
    category.parent = parent
    category.is_active = is_active
    return _save(category)


@_taxonomy_write
def category_delete(*, organization: Organization, actor: Membership, category: Category) -> None:
    """Delete a category nothing refers to; one in use must be deactivated instead."""
    category = _own(category, organization)
    _delete_unless_in_use(category, hint="deactivate it instead.")


# — services ——————————————————————————————————————————————————————————————————————————


@_taxonomy_write
def service_save(
    *,
    organization: Organization,
    actor: Membership,
    name: str,
    description: str = "",
    tier: int = 2,
    owning_team: Team | None = None,
    contributing_teams: Iterable[Team] = (),
    health_check_url: str = "",
    is_active: bool = True,
    service: Service | None = None,
) -> Service:
    """Create a service, or update `service`, with its owning and contributing teams."""
    name = _required_text(name, "name", "A service needs a name.")
    _refuse_duplicate(
        Service.objects.filter(organization=organization, name__iexact=name),
        exclude=service,
        field="name",
        message=f"There is already a service called “{name}”.",
    )
    contributing_teams = list(contributing_teams)
    strangers = [t for t in contributing_teams if t.organization_id != organization.pk]
    if strangers:
        raise ValidationError({"contributing_teams": "Choose this organisation's own teams."})
    service = Service(organization=organization) if service is None else _own(service, organization)
    service.name = name
    service.description = description.strip()
    service.tier = tier
    service.owning_team = owning_team
    service.health_check_url = health_check_url.strip()
    service.is_active = is_active
    _save(service)
    service.contributing_teams.set(contributing_teams)
    return service


@_taxonomy_write
def service_delete(*, organization: Organization, actor: Membership, service: Service) -> None:
    """Delete a service nothing refers to; one in use must be deactivated instead."""
    service = _own(service, organization)
    _delete_unless_in_use(service, hint="deactivate it instead.")


# — severity levels ———————————————————————————————————————————————————————————————————


@_taxonomy_write
def severity_update(
    *,
    organization: Organization,
    actor: Membership,
    severity: SeverityLevel,
    name: str,
    description: str = "",
    requires_customer_visible: bool = False,
    min_users_affected_pct: Decimal | None = None,
    min_downtime_minutes: int | None = None,
    on_revenue_at_risk: bool = False,
    on_data_at_risk: bool = False,
    on_regulatory_exposure: bool = False,
) -> SeverityLevel:
    """Rename a severity level and set the objective criteria that propose it. Levels
    themselves (1 … n) are fixed: incidents, SLAs and escalation paths hang off them."""
    name = _required_text(name, "name", "A severity level needs a name.")
    _refuse_duplicate(
        SeverityLevel.objects.filter(organization=organization, name__iexact=name),
        exclude=severity,
        field="name",
        message=f"There is already a severity level called “{name}”.",
    )
    severity = _own(severity, organization)
    severity.name = name
    severity.description = description.strip()
    severity.requires_customer_visible = requires_customer_visible
    severity.min_users_affected_pct = min_users_affected_pct
    severity.min_downtime_minutes = min_downtime_minutes
    severity.on_revenue_at_risk = on_revenue_at_risk
    severity.on_data_at_risk = on_data_at_risk
    severity.on_regulatory_exposure = on_regulatory_exposure
    return _save(severity)


# — escalation paths ——————————————————————————————————————————————————————————————————


@_taxonomy_write
def escalation_path_save(
    *,
    organization: Organization,
    actor: Membership,
    name: str,
    severity: SeverityLevel,
    category: Category | None = None,
    path: EscalationPath | None = None,
) -> EscalationPath:
    """Create an escalation path, or update `path`. A path serves exactly one severity (and
    optionally one category); each (severity, category) pair has at most one path."""
    name = _required_text(name, "name", "An escalation path needs a name.")
    _refuse_duplicate(
        EscalationPath.objects.filter(organization=organization, name__iexact=name),
        exclude=path,
        field="name",
        message=f"There is already an escalation path called “{name}”.",
    )
    if severity is None:
        raise ValidationError({"severity": "Choose the severity this path serves."})
    if severity.organization_id == organization.pk:
        clash = EscalationPath.objects.filter(
            organization=organization, severity=severity, category=category
        )
        if path is not None:
            clash = clash.exclude(pk=path.pk)
        existing = clash.first()
        if existing is not None:
            covered = f"category “{category}”" if category else "incidents of any category"
            raise ValidationError(
                {
                    "category": f"{severity} already has a path for {covered}: “{existing}”. "
                    "Edit that path, or choose another category."
                }
            )
    path = EscalationPath(organization=organization) if path is None else _own(path, organization)
    path.name = name
    path.severity = severity
    path.category = category
    return _save(path)


@_taxonomy_write
def escalation_path_delete(
    *, organization: Organization, actor: Membership, path: EscalationPath
) -> None:
    """Delete a path with its steps."""
    path = _own(path, organization)
    _delete_unless_in_use(
        path, owned=[EscalationStep], hint="it is kept for the record; rename or edit it instead."
    )


def _renumber_steps(path: EscalationPath) -> None:
    """Positions follow the delays, so the page and the escalation sweeper read the steps in
    the order they fire."""
    steps = EscalationStep.objects.filter(path=path).order_by("delay_minutes", "position", "pk")
    for position, step in enumerate(steps, start=1):
        if step.position != position:
            step.position = position
            step.save(update_fields=["position"])


@_taxonomy_write
def escalation_step_add(
    *,
    organization: Organization,
    actor: Membership,
    path: EscalationPath,
    delay_minutes: int,
    target_kind: str,
    team: Team | None = None,
    role: str = "",
    user: User | None = None,
    integration_target: str = "",
) -> EscalationStep:
    """Add a step to `path`: after `delay_minutes`, notify a team, everyone of a role, or one
    member of the organisation — or page a PagerDuty service of the organisation."""
    path = _own(path, organization)
    kind = EscalationStep.TargetKind
    step = EscalationStep(
        organization=organization,
        path=path,
        position=path.steps.count() + 1,
        delay_minutes=delay_minutes,
        target_kind=target_kind,
        # Only the chosen kind's target is kept.
        team=team if target_kind == kind.TEAM else None,
        role=role if target_kind == kind.ROLE else "",
        user=user if target_kind == kind.USER else None,
        integration_target=integration_target if target_kind == kind.PAGERDUTY else "",
    )
    if step.integration_target and step.integration_target not in dict(
        step_target_choices(target_kind, organization)
    ):
        raise ValidationError(
            {"integration_target": "Choose one of this organisation's PagerDuty services."}
        )
    if (
        step.user is not None
        and not Membership.objects.filter(organization=organization, user=step.user).exists()
    ):
        raise ValidationError({"user": f"{step.user} is not a member of {organization}."})
    _save(step)
    _renumber_steps(path)
    step.refresh_from_db()
    return step


@_taxonomy_write
def escalation_step_remove(
    *, organization: Organization, actor: Membership, step: EscalationStep
) -> None:
    step = _own(step, organization)
    path = step.path
    step.delete()
    _renumber_steps(path)


# — classification rules ——————————————————————————————————————————————————————————————


@_taxonomy_write
def classification_rule_save(
    *,
    organization: Organization,
    actor: Membership,
    name: str,
    position: int = 100,
    is_active: bool = True,
    match_text: str = "",
    match_service: Service | None = None,
    match_labels: dict | None = None,
    set_category: Category | None = None,
    set_severity: SeverityLevel | None = None,
    set_service: Service | None = None,
    set_team: Team | None = None,
    rule: ClassificationRule | None = None,
) -> ClassificationRule:
    """Create a static classification rule, or update `rule`. The first active matching rule
    (lowest position) sets what the reporter left open."""
    name = _required_text(name, "name", "A rule needs a name.")
    _refuse_duplicate(
        ClassificationRule.objects.filter(organization=organization, name__iexact=name),
        exclude=rule,
        field="name",
        message=f"There is already a rule called “{name}”.",
    )
    rule = (
        ClassificationRule(organization=organization) if rule is None else _own(rule, organization)
    )
    rule.name = name
    rule.position = position
    rule.is_active = is_active
    rule.match_text = " ".join((match_text or "").split())
    rule.match_service = match_service
    rule.match_labels = {} if match_labels is None else match_labels
    rule.set_category = set_category
    rule.set_severity = set_severity
    rule.set_service = set_service
    rule.set_team = set_team
    return _save(rule)


@_taxonomy_write
def classification_rule_delete(
    *, organization: Organization, actor: Membership, rule: ClassificationRule
) -> None:
    rule = _own(rule, organization)
    _delete_unless_in_use(rule, hint="deactivate it instead.")


# — custom fields —————————————————————————————————————————————————————————————————————


@_taxonomy_write
def custom_field_save(
    *,
    organization: Organization,
    actor: Membership,
    label: str,
    field_type: str,
    key: str | None = None,
    choices: Iterable[str] = (),
    required_from: str = "",
    help_text: str = "",
    is_regulatory: bool = False,
    is_sensitive: bool = False,
    position: int = 100,
    is_active: bool = True,
    field: CustomFieldDefinition | None = None,
) -> CustomFieldDefinition:
    """Define a custom incident field, or update `field`. The key is fixed once created:
    incidents store their values under it. Definitions are deactivated, never deleted, for the
    same reason."""
    label = _required_text(label, "label", "A field needs a label.")
    if field is None:
        key = _required_text(key, "key", "A field needs a key.")
        _refuse_duplicate(
            CustomFieldDefinition.objects.filter(organization=organization, key=key),
            exclude=None,
            field="key",
            message=f"There is already a field with the key “{key}”.",
        )
        field = CustomFieldDefinition(organization=organization, key=key)
    else:
        field = _own(field, organization)
        if key is not None and key != field.key:
            raise ValidationError(
                {"key": "The key cannot change: incidents store their values under it."}
            )
    _refuse_duplicate(
        CustomFieldDefinition.objects.filter(organization=organization, label__iexact=label),
        exclude=field if field.pk else None,
        field="label",
        message=f"There is already a field labelled “{label}”.",
    )
    field.label = label
    field.field_type = field_type
    field.choices = [c.strip() for c in choices if c.strip()]
    field.required_from = required_from
    field.help_text = help_text.strip()
    field.is_regulatory = is_regulatory
    field.is_sensitive = is_sensitive
    field.position = position
    field.is_active = is_active
    return _save(field)
