"""The organisation admin's taxonomy pages: settings, categories, services, severity levels,
escalation paths with their steps, classification rules (with a dry run) and custom fields.

Thin: parse a form, call taxonomy.services, choose a page. Every view needs manage_taxonomy;
rows are looked up through the scoped managers, so another organisation's pk is a 404."""

from collections import defaultdict

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from taxonomy import services
from taxonomy.classification import classify_static
from taxonomy.forms import (
    CategoryForm,
    ClassificationRuleForm,
    CustomFieldForm,
    EscalationPathForm,
    EscalationStepForm,
    OrgSettingsForm,
    ServiceForm,
    SeverityLevelForm,
    TryRuleForm,
)
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
from tenancy.access import org_view
from tenancy.roles import Capability

manage_taxonomy = org_view(Capability.MANAGE_TAXONOMY)


def _add_errors(form, error: ValidationError) -> None:
    """Put a service's ValidationError on the form: per field where the form has that
    (editable) field, otherwise at the top."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            editable = field in form.fields and not form.fields[field].disabled
            form.add_error(field if editable else None, errors)
    else:
        form.add_error(None, error)


def _bound(request):
    return request.POST if request.method == "POST" else None


def _form_page(request, *, form, save, template: str, context: dict, saved_message, next_url):
    """GET shows the form. POST validates it and hands the cleaned data to `save`; success
    flashes `saved_message(row)` and redirects to `next_url(row)`, errors re-render the form
    with the input kept (status 200)."""
    if request.method == "POST" and form.is_valid():
        try:
            saved = save(form.cleaned_data)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, saved_message(saved))
            return redirect(next_url(saved))
    return render(request, template, {"form": form, **context})


def _delete(request, *, delete, done_message: str, list_url: str, row_url: str):
    """Run `delete`; a refusal (row in use) is flashed and leads back to the row's page."""
    try:
        delete()
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect(row_url)
    messages.success(request, done_message)
    return redirect(list_url)


def _url(name: str, request, **kwargs) -> str:
    return reverse(f"taxonomy:{name}", kwargs={"org_slug": request.org.slug, **kwargs})


def _writer(request) -> dict:
    return {"organization": request.org, "actor": request.membership}


# — overview and settings ——————————————————————————————————————————————————————————————


@manage_taxonomy
def index(request, org_slug):
    settings = OrgSettings.objects.filter(organization=request.org).first()
    form = OrgSettingsForm(
        _bound(request), instance=settings or OrgSettings(), organization=request.org
    )
    counts = {
        "categories": Category.objects.filter(organization=request.org).count(),
        "services": Service.objects.filter(organization=request.org).count(),
        "severities": SeverityLevel.objects.filter(organization=request.org).count(),
        "paths": EscalationPath.objects.filter(organization=request.org).count(),
        "rules": ClassificationRule.objects.filter(organization=request.org).count(),
        "fields": CustomFieldDefinition.objects.filter(organization=request.org).count(),
    }
    uncovered = SeverityLevel.objects.filter(organization=request.org).exclude(
        pk__in=EscalationPath.objects.filter(
            organization=request.org, category__isnull=True
        ).values("severity_id")
    )
    return _form_page(
        request,
        form=form,
        save=lambda data: services.org_settings_update(**_writer(request), **data),
        template="taxonomy/index.html",
        context={"counts": counts, "uncovered": list(uncovered)},
        saved_message=lambda _: "Classification settings saved.",
        next_url=lambda _: _url("index", request),
    )


# — categories ————————————————————————————————————————————————————————————————————————


@manage_taxonomy
def category_list(request, org_slug):
    categories = list(Category.objects.filter(organization=request.org).order_by("name"))
    children = defaultdict(list)
    for category in categories:
        if category.parent_id:
            children[category.parent_id].append(category)
    rows = []
    for category in categories:
        if not category.parent_id:
            rows.append(category)
            rows.extend(children[category.pk])
    return render(request, "taxonomy/category_list.html", {"categories": rows})


def _category_page(request, category: Category | None):
    heading = f"Category {category.name}" if category else "New category"
    return _form_page(
        request,
        form=CategoryForm(_bound(request), instance=category, organization=request.org),
        save=lambda data: services.category_save(**_writer(request), category=category, **data),
        template="taxonomy/category_form.html",
        context={"category": category, "heading": heading},
        saved_message=lambda saved: f"Category “{saved.name}” saved.",
        next_url=lambda _: _url("category_list", request),
    )


@manage_taxonomy
def category_create(request, org_slug):
    return _category_page(request, None)


@manage_taxonomy
def category_update(request, org_slug, pk):
    return _category_page(request, get_object_or_404(Category, pk=pk))


@require_POST
@manage_taxonomy
def category_delete(request, org_slug, pk):
    category = get_object_or_404(Category, pk=pk)
    return _delete(
        request,
        delete=lambda: services.category_delete(**_writer(request), category=category),
        done_message=f"Category “{category.name}” deleted.",
        list_url=_url("category_list", request),
        row_url=_url("category_update", request, pk=pk),
    )


# — services ——————————————————————————————————————————————————————————————————————————


@manage_taxonomy
def service_list(request, org_slug):
    service_rows = (
        Service.objects.filter(organization=request.org)
        .select_related("owning_team")
        .prefetch_related("contributing_teams")
    )
    return render(request, "taxonomy/service_list.html", {"services": service_rows})


def _service_page(request, service: Service | None):
    heading = f"Service {service.name}" if service else "New service"
    return _form_page(
        request,
        form=ServiceForm(_bound(request), instance=service, organization=request.org),
        save=lambda data: services.service_save(**_writer(request), service=service, **data),
        template="taxonomy/service_form.html",
        context={"service": service, "heading": heading},
        saved_message=lambda saved: f"Service “{saved.name}” saved.",
        next_url=lambda _: _url("service_list", request),
    )


@manage_taxonomy
def service_create(request, org_slug):
    return _service_page(request, None)


@manage_taxonomy
def service_update(request, org_slug, pk):
    return _service_page(request, get_object_or_404(Service, pk=pk))


@require_POST
@manage_taxonomy
def service_delete(request, org_slug, pk):
    service = get_object_or_404(Service, pk=pk)
    return _delete(
        request,
        delete=lambda: services.service_delete(**_writer(request), service=service),
        done_message=f"Service “{service.name}” deleted.",
        list_url=_url("service_list", request),
        row_url=_url("service_update", request, pk=pk),
    )


# — severity levels ———————————————————————————————————————————————————————————————————


def criteria_summary(level: SeverityLevel, *, is_weakest: bool) -> str:
    """The objective criteria of a level in one sentence, as taxonomy.assessment applies them:
    the visibility requirement and at least one threshold; the weakest level is the
    fallback."""
    thresholds = []
    if level.min_users_affected_pct is not None:
        thresholds.append(f"≥ {level.min_users_affected_pct.normalize():f} % of users affected")
    if level.min_downtime_minutes is not None:
        thresholds.append(f"≥ {level.min_downtime_minutes} min downtime")
    for flag, words in (
        (level.on_revenue_at_risk, "revenue at risk"),
        (level.on_data_at_risk, "data at risk"),
        (level.on_regulatory_exposure, "regulatory exposure"),
    ):
        if flag:
            thresholds.append(words)
    if not thresholds:
        if is_weakest:
            return "Proposed when no stronger level applies."
        return "No criteria: never proposed by the assessment (can still be chosen by hand)."
    met = thresholds[0] if len(thresholds) == 1 else "any of: " + "; ".join(thresholds)
    text = f"Customer-visible and {met}" if level.requires_customer_visible else met
    text = text[0].upper() + text[1:] + "."
    if is_weakest:
        text += " Also proposed when no stronger level applies."
    return text


@manage_taxonomy
def severity_list(request, org_slug):
    levels = list(SeverityLevel.objects.filter(organization=request.org).order_by("level"))
    for level in levels:
        level.criteria = criteria_summary(level, is_weakest=level is levels[-1])
    return render(request, "taxonomy/severity_list.html", {"levels": levels})


@manage_taxonomy
def severity_update(request, org_slug, pk):
    level = get_object_or_404(SeverityLevel, pk=pk)
    return _form_page(
        request,
        form=SeverityLevelForm(_bound(request), instance=level, organization=request.org),
        save=lambda data: services.severity_update(**_writer(request), severity=level, **data),
        template="taxonomy/severity_form.html",
        context={"level": level, "heading": f"Severity level {level.name}"},
        saved_message=lambda saved: f"Severity level “{saved.name}” saved.",
        next_url=lambda _: _url("severity_list", request),
    )


# — escalation paths ——————————————————————————————————————————————————————————————————


@manage_taxonomy
def escalation_path_list(request, org_slug):
    levels = list(SeverityLevel.objects.filter(organization=request.org).order_by("level"))
    paths = (
        EscalationPath.objects.filter(organization=request.org)
        .select_related("severity", "category__parent")
        .prefetch_related(
            Prefetch(
                "steps",
                queryset=EscalationStep.objects.select_related("team", "user").order_by(
                    "position", "pk"
                ),
            )
        )
    )
    by_level = defaultdict(list)
    for path in paths:
        by_level[path.severity_id].append(path)
    for level in levels:
        level.paths = sorted(by_level[level.pk], key=lambda p: (p.category_id is not None, p.name))
        level.has_default = any(p.category_id is None for p in level.paths)
    return render(request, "taxonomy/escalation_path_list.html", {"levels": levels})


@manage_taxonomy
def escalation_path_create(request, org_slug):
    form = EscalationPathForm(_bound(request), organization=request.org)
    if request.method == "GET" and request.GET.get("severity", "").isdigit():
        form.initial["severity"] = int(request.GET["severity"])
    return _form_page(
        request,
        form=form,
        save=lambda data: services.escalation_path_save(**_writer(request), **data),
        template="taxonomy/escalation_path_form.html",
        context={"path": None, "heading": "New escalation path"},
        saved_message=lambda saved: f"Escalation path “{saved.name}” created: now add its steps.",
        next_url=lambda saved: _url("escalation_path_update", request, pk=saved.pk),
    )


def _path_page(request, path: EscalationPath, *, form=None, step_form=None, status=200):
    steps = list(path.steps.select_related("team", "user").order_by("position", "pk"))
    context = {
        "path": path,
        "heading": f"Escalation path {path.name}",
        "form": form or EscalationPathForm(instance=path, organization=request.org),
        "step_form": step_form or EscalationStepForm(organization=request.org),
        "steps": steps,
    }
    return render(request, "taxonomy/escalation_path_detail.html", context, status=status)


@manage_taxonomy
def escalation_path_update(request, org_slug, pk):
    """The path's page: its severity and category, its steps, and forms to change both."""
    path = get_object_or_404(EscalationPath.objects.select_related("severity", "category"), pk=pk)
    if request.method != "POST":
        return _path_page(request, path)
    # The form changes its instance while validating; the page keeps showing the saved path.
    form = EscalationPathForm(
        request.POST,
        instance=EscalationPath.objects.get(pk=path.pk),
        organization=request.org,
    )
    if form.is_valid():
        try:
            saved = services.escalation_path_save(
                **_writer(request), path=path, **form.cleaned_data
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, f"Escalation path “{saved.name}” saved.")
            return redirect(_url("escalation_path_update", request, pk=pk))
    return _path_page(request, path, form=form)


@require_POST
@manage_taxonomy
def escalation_path_delete(request, org_slug, pk):
    path = get_object_or_404(EscalationPath, pk=pk)
    return _delete(
        request,
        delete=lambda: services.escalation_path_delete(**_writer(request), path=path),
        done_message=f"Escalation path “{path.name}” deleted.",
        list_url=_url("escalation_path_list", request),
        row_url=_url("escalation_path_update", request, pk=pk),
    )


@require_POST
@manage_taxonomy
def escalation_step_add(request, org_slug, pk):
    path = get_object_or_404(EscalationPath.objects.select_related("severity", "category"), pk=pk)
    form = EscalationStepForm(request.POST, organization=request.org)
    form.instance.path = path
    if form.is_valid():
        try:
            step = services.escalation_step_add(**_writer(request), path=path, **form.cleaned_data)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, f"Step added: {step}.")
            return redirect(_url("escalation_path_update", request, pk=pk))
    return _path_page(request, path, step_form=form)


@require_POST
@manage_taxonomy
def escalation_step_remove(request, org_slug, pk, step_pk):
    step = get_object_or_404(
        EscalationStep.objects.select_related("team", "user"), pk=step_pk, path_id=pk
    )
    services.escalation_step_remove(**_writer(request), step=step)
    messages.success(request, f"Step removed: {step}.")
    return redirect(_url("escalation_path_update", request, pk=pk))


# — classification rules ——————————————————————————————————————————————————————————————


def _rules(request):
    return ClassificationRule.objects.filter(organization=request.org).select_related(
        "match_service",
        "set_category__parent",
        "set_severity",
        "set_service",
        "set_team",
    )


@manage_taxonomy
def rule_list(request, org_slug):
    """The rules in the order they are tried, and a dry run: what would they set for an
    incident like this one? (Nothing is written.)"""
    rules = list(_rules(request))
    try_form = TryRuleForm(
        request.GET if "title" in request.GET else None, organization=request.org
    )
    tried = match = None
    if try_form.is_bound and try_form.is_valid():
        data = try_form.cleaned_data
        tried = True
        match = classify_static(
            rules,
            text=f"{data['title']}\n{data['description']}",
            service_id=data["service"].pk if data["service"] else None,
            labels=data["labels"],
        )
    context = {"rules": rules, "try_form": try_form, "tried": tried, "match": match}
    return render(request, "taxonomy/rule_list.html", context)


def _rule_page(request, rule: ClassificationRule | None):
    heading = f"Rule {rule.name}" if rule else "New classification rule"
    return _form_page(
        request,
        form=ClassificationRuleForm(_bound(request), instance=rule, organization=request.org),
        save=lambda data: services.classification_rule_save(**_writer(request), rule=rule, **data),
        template="taxonomy/rule_form.html",
        context={"rule": rule, "heading": heading},
        saved_message=lambda saved: f"Rule “{saved.name}” saved.",
        next_url=lambda _: _url("rule_list", request),
    )


@manage_taxonomy
def rule_create(request, org_slug):
    return _rule_page(request, None)


@manage_taxonomy
def rule_update(request, org_slug, pk):
    return _rule_page(request, get_object_or_404(ClassificationRule, pk=pk))


@require_POST
@manage_taxonomy
def rule_delete(request, org_slug, pk):
    rule = get_object_or_404(ClassificationRule, pk=pk)
    return _delete(
        request,
        delete=lambda: services.classification_rule_delete(**_writer(request), rule=rule),
        done_message=f"Rule “{rule.name}” deleted.",
        list_url=_url("rule_list", request),
        row_url=_url("rule_update", request, pk=pk),
    )


# — custom fields —————————————————————————————————————————————————————————————————————


@manage_taxonomy
def custom_field_list(request, org_slug):
    fields = CustomFieldDefinition.objects.filter(organization=request.org)
    return render(request, "taxonomy/custom_field_list.html", {"fields": fields})


def _custom_field_page(request, field: CustomFieldDefinition | None):
    heading = f"Custom field {field.label}" if field else "New custom field"
    return _form_page(
        request,
        form=CustomFieldForm(_bound(request), instance=field, organization=request.org),
        save=lambda data: services.custom_field_save(**_writer(request), field=field, **data),
        template="taxonomy/custom_field_form.html",
        context={"field": field, "heading": heading},
        saved_message=lambda saved: f"Custom field “{saved.label}” saved.",
        next_url=lambda _: _url("custom_field_list", request),
    )


@manage_taxonomy
def custom_field_create(request, org_slug):
    return _custom_field_page(request, None)


@manage_taxonomy
def custom_field_update(request, org_slug, pk):
    return _custom_field_page(request, get_object_or_404(CustomFieldDefinition, pk=pk))
