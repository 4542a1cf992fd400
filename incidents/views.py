"""Incident pages: list (filters, CSV, bulk), declare, detail (transitions, timeline,
verification, ownership, access), edit. Thin: parse, call a selector or a service, render."""

import csv
import re

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_htmx.http import trigger_client_event

from compliance import masking, unmask
from incidents import classification, coordination, selectors, services
from incidents.coordination_forms import RoleAssignForm
from incidents.filters import IncidentFilterSet
from incidents.forms import (
    AccessForm,
    BulkForm,
    CommentForm,
    ConfirmationAnswerForm,
    ConfirmationRequestForm,
    IncidentCreateForm,
    IncidentUpdateForm,
    OwnershipDecisionForm,
    OwnershipRequestForm,
    SeverityChangeForm,
)
from incidents.models import Incident, OwnershipRequest, Verification
from taxonomy.assessment import propose_severity
from taxonomy.models import CustomFieldDefinition, OrgSettings, Service, SeverityLevel
from tenancy.access import org_view
from tenancy.models import User
from tenancy.roles import Capability, can

PAGE_SIZES = (25, 50, 100)
TIMELINE_LIMIT = 200


def _visible(request):
    return selectors.incident_list(
        organization=request.org, user=request.user, membership=request.membership
    )


def _get(request, key) -> Incident:
    """One visible incident, with `reveal` set: whether this reader sees it unmasked (every
    incident template masks with `|mask:incident.reveal`)."""
    incident = selectors.incident_get(
        organization=request.org, user=request.user, membership=request.membership, key=key
    )
    incident.reveal = unmask.request_reveal(request, incident)
    return incident


def _definitions(request, reveal: bool = False):
    """Custom field definitions, each marked `masked` when this reader does not see its value
    (a sensitive field, unless the incident is revealed to them: compliance.unmask)."""
    definitions = list(CustomFieldDefinition.objects.filter(organization=request.org))
    users = None
    for definition in definitions:
        definition.masked = definition.is_sensitive and not reveal
        if definition.field_type == "user":
            if users is None:
                users = {
                    u.pk: u.display_name
                    for u in User.objects.filter(memberships__organization=request.org)
                }
            definition.user_names = users
    return definitions


def _errors_text(error: ValidationError) -> str:
    return " ".join(error.messages)


def _form_errors(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


def _back(incident: Incident):
    return redirect(
        "incidents:incident_detail", org_slug=incident.organization.slug, key=incident.key
    )


def _done(request, incident: Incident, message: str | None = None):
    """After a change: htmx gets a refresh of the page, others a redirect."""
    if message:
        messages.success(request, message)
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return trigger_client_event(response, "timeline-changed")
    return _back(incident)


def _refuse(request, incident: Incident, error: Exception):
    text = _errors_text(error) if isinstance(error, ValidationError) else str(error)
    messages.error(request, text)
    return _back(incident)


# — list ———————————————————————————————————————————————————————————————————————————————


def _filtered(request):
    queryset = selectors.with_sla(_visible(request))
    filterset = IncidentFilterSet(request.GET, queryset=queryset, request=request)
    incidents = filterset.qs if filterset.is_valid() else filterset.queryset.none()
    return filterset, incidents


@org_view(Capability.VIEW_INCIDENTS)
def incident_list(request, org_slug):
    filterset, incidents = _filtered(request)
    try:
        size = int(request.GET.get("size", 50))
    except ValueError:
        size = 50
    size = size if size in PAGE_SIZES else 50
    page = Paginator(incidents, size).get_page(request.GET.get("page"))
    revealed = unmask.request_revealed_ids(request, page.object_list)
    for incident in page.object_list:
        incident.reveal = incident.pk in revealed
    query = request.GET.copy()
    query.pop("page", None)
    definitions = [d for d in _definitions(request) if d.is_active]
    fields = filterset.form.visible_fields()
    more_fields = [f for f in fields if f.name not in IncidentFilterSet.MAIN]
    context = {
        "filter": filterset,
        "main_fields": [f for f in fields if f.name in IncidentFilterSet.MAIN],
        "more_fields": more_fields,
        "more_active": sum(1 for f in more_fields if request.GET.get(f.name)),
        "page": page,
        "query": query.urlencode(),
        "page_sizes": PAGE_SIZES,
        "size": size,
        "bulk_form": BulkForm(organization=request.org),
        "list_fields": [d for d in definitions if d.field_type in ("choice", "boolean")][:2],
        "may_update": can(request.membership.role, Capability.UPDATE_INCIDENTS),
        "may_create": can(request.membership.role, Capability.CREATE_INCIDENTS),
        "open_count": None,
    }
    template = "incidents/incident_list.html"
    if request.htmx and request.htmx.target == "incident-rows":
        template += "#rows"
    return render(request, template, context)


CSV_COLUMNS = [
    "key",
    "title",
    "status",
    "severity",
    "category",
    "primary service",
    "owning team",
    "commander",
    "reporter",
    "kind",
    "restricted",
    "detected at",
    "reported at",
    "acknowledged at",
    "mitigated at",
    "resolved at",
    "closed at",
    "root cause",
]


def _csv_safe(value) -> str:
    """Stop spreadsheet formula injection: a cell starting with = + - @, a tab or a carriage
    return is prefixed with an apostrophe, so spreadsheets show it as text."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@org_view(Capability.VIEW_INCIDENTS)
def incident_export(request, org_slug):
    """The filtered list as CSV: the same scoping, visibility and masking as the page (an
    incident is unmasked only for a reader who revealed it: compliance.unmask)."""
    filterset, incidents = _filtered(request)
    definitions = [d for d in _definitions(request) if d.is_active]
    revealed = unmask.request_revealed_ids(request, None)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = (
        f'attachment; filename="{request.org.slug}-incidents-{stamp}.csv"'
    )
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS + [d.label for d in definitions])

    def when(value):
        return timezone.localtime(value).isoformat(timespec="seconds") if value else ""

    for incident in incidents.select_related("reporter").iterator(chunk_size=1000):
        reveal = incident.pk in revealed
        custom = [
            masking.mask_value(
                (incident.custom_fields or {}).get(d.key, ""),
                sensitive=d.is_sensitive,
                reveal=reveal,
            )
            for d in definitions
        ]
        row = [
            incident.key,
            masking.mask_text(incident.title, reveal=reveal),
            incident.get_status_display(),
            incident.severity.name,
            incident.category or "",
            incident.primary_service or "",
            incident.owning_team or "",
            incident.commander.email if incident.commander else "",
            incident.reporter.email if incident.reporter else "",
            incident.get_kind_display(),
            "yes" if incident.is_restricted else "no",
            when(incident.detected_at),
            when(incident.reported_at),
            when(incident.acknowledged_at),
            when(incident.mitigated_at),
            when(incident.resolved_at),
            when(incident.closed_at),
            incident.get_root_cause_category_display(),
        ]
        writer.writerow([_csv_safe(v) for v in row + custom])
    return response


@require_POST
@org_view(Capability.UPDATE_INCIDENTS)
def incident_bulk(request, org_slug):
    """Apply one change to the selected incidents, each through its service and rules; report
    per incident what was done and what was refused, and why."""
    form = BulkForm(request.POST, organization=request.org)
    keys = [k for k in request.POST.getlist("keys") if k][:200]
    if not keys:
        messages.error(request, "Select at least one incident first.")
        return redirect("incidents:incident_list", org_slug=org_slug)
    if not form.is_valid():
        messages.error(request, "; ".join(f"{f}: {' '.join(e)}" for f, e in form.errors.items()))
        return redirect("incidents:incident_list", org_slug=org_slug)
    data = form.cleaned_data
    primary = None
    if data["action"] == "mark_duplicate":
        try:
            primary = _get(request, data["primary"].strip())
        except Exception:  # noqa: BLE001 — an unknown key is reported like any refusal
            messages.error(request, f"No incident {data['primary']} to mark them duplicates of.")
            return redirect("incidents:incident_list", org_slug=org_slug)
    results = []
    visible = {i.key: i for i in _visible(request).filter(key__in=keys)}
    for key in keys:
        incident = visible.get(key)
        if incident is None:
            results.append((key, False, "No such incident."))
            continue
        try:
            if data["action"] == "assign_commander":
                services.incident_update(
                    incident=incident, actor=request.user, changes={"commander": data["commander"]}
                )
                outcome = f"Commander is now {data['commander']}."
            elif data["action"] == "change_severity":
                services.incident_change_severity(
                    incident=incident,
                    actor=request.user,
                    severity=data["severity"],
                    reason=data["reason"],
                )
                outcome = f"Severity is now {data['severity']}."
            elif data["action"] == "add_team":
                teams = set(incident.involved_teams.all()) | {data["team"]}
                services.incident_update(
                    incident=incident, actor=request.user, changes={"involved_teams": teams}
                )
                outcome = f"{data['team']} is involved."
            else:
                services.incident_transition(
                    incident=incident,
                    name="mark_duplicate",
                    actor=request.user,
                    duplicate_of=primary,
                    note=data.get("reason", ""),
                )
                outcome = f"Marked duplicate of {primary.key}."
            results.append((key, True, outcome))
        except (ValidationError, PermissionDenied) as error:
            text = _errors_text(error) if isinstance(error, ValidationError) else str(error)
            results.append((key, False, text))
    return render(
        request, "incidents/bulk_result.html", {"results": results, "action": data["action"]}
    )


# — search and pickers —————————————————————————————————————————————————————————————————


@org_view(Capability.VIEW_INCIDENTS)
def incident_search_jump(request, org_slug):
    """The header search box: an exact key jumps to that incident; anything else searches."""
    text = (request.GET.get("q") or "").strip()
    if re.match(selectors.KEY_PATTERN, text):
        incident = _visible(request).filter(key__iexact=text).first()
        if incident is not None:
            return redirect("incidents:incident_detail", org_slug=org_slug, key=incident.key)
    url = reverse("incidents:incident_list", kwargs={"org_slug": org_slug})
    return redirect(f"{url}?q={text}" if text else url)


@org_view(Capability.VIEW_INCIDENTS)
def incident_pick(request, org_slug):
    """Search for the duplicate/merge picker by key, title or service (never list everything)."""
    text = (request.GET.get("primary") or request.GET.get("q") or "").strip()
    exclude = request.GET.get("exclude", "")
    results = []
    if len(text) >= 2:
        queryset = _visible(request).exclude(key=exclude).exclude(status__in=["dismissed"])
        by_service = Service.objects.filter(organization=request.org, name__icontains=text)
        matching = (
            Q(key__iexact=text) | Q(title__icontains=text) | Q(primary_service__in=by_service)
        )
        results = list(queryset.filter(matching).order_by("-reported_at")[:10])
        revealed = unmask.request_revealed_ids(request, results)
        for incident in results:
            incident.reveal = incident.pk in revealed
    return render(request, "incidents/partials/pick_results.html", {"results": results, "q": text})


# — declare ————————————————————————————————————————————————————————————————————————————


def _assist(request, form_data) -> dict:
    title = form_data.get("title", "") or ""
    description = form_data.get("description", "") or ""
    service_id = form_data.get("primary_service") or None
    try:
        service_id = int(service_id) if service_id else None
    except (TypeError, ValueError):
        service_id = None
    similar = (
        selectors.similar_open_incidents(
            organization=request.org,
            user=request.user,
            membership=request.membership,
            title=title,
            service_id=service_id,
        )
        if (title.strip() or service_id)
        else []
    )
    revealed = unmask.request_revealed_ids(request, similar)
    for incident in similar:
        incident.reveal = incident.pk in revealed
    org_settings = OrgSettings.objects.filter(organization=request.org).first()
    suggestions = None
    if org_settings and org_settings.classification_mode == "assisted" and (title or service_id):
        suggestions = classification.suggest(
            organization=request.org, text=f"{title} {description}", service_id=service_id
        )
    return {"similar": similar, "suggestions": suggestions}


@org_view(Capability.CREATE_INCIDENTS)
def incident_create(request, org_slug):
    form = IncidentCreateForm(request.POST or None, organization=request.org)
    proposal = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        detected_at = data.get("detected_at")
        try:
            incident = services.incident_create(
                organization=request.org,
                actor=request.user,
                title=data["title"],
                description=data["description"],
                severity=data["severity"],
                category=data["category"],
                primary_service=data["primary_service"],
                affected_services=data["affected_services"],
                owning_team=data["owning_team"],
                commander=data["commander"],
                kind=data["kind"],
                is_restricted=data["is_restricted"],
                detected_at=detected_at,
                custom_fields={
                    k: v for k, v in form.custom_values().items() if v not in (None, "")
                },
                assessment=form.answers(),
                override_reason=data["override_reason"],
            )
        except ValidationError as error:
            _form_errors(form, error)
        except PermissionDenied as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"{incident.key} declared as {incident.severity}.")
            return redirect("incidents:incident_detail", org_slug=org_slug, key=incident.key)
    if form.is_bound and hasattr(form, "cleaned_data"):
        levels = list(SeverityLevel.objects.filter(organization=request.org))
        proposal = propose_severity(levels, form.answers())
    context = {"form": form, "proposal": proposal, **_assist(request, request.POST)}
    return render(request, "incidents/incident_create.html", context)


@org_view(Capability.CREATE_INCIDENTS)
def incident_create_assist(request, org_slug):
    """Live help beside the declare form: the proposed severity, similar open incidents and
    (in assisted mode) suggestions learned from closed ones."""
    form = IncidentCreateForm(request.GET, organization=request.org)
    form.is_valid()
    levels = list(SeverityLevel.objects.filter(organization=request.org))
    cleaned = getattr(form, "cleaned_data", {})
    proposal = propose_severity(levels, form.answers()) if cleaned is not None else None
    context = {"proposal": proposal, **_assist(request, request.GET)}
    return render(request, "incidents/incident_create.html#assist", context)


# — detail —————————————————————————————————————————————————————————————————————————————


def _detail_context(request, incident: Incident) -> dict:
    role = request.membership.role
    definitions = [
        d
        for d in _definitions(request, reveal=incident.reveal)
        if d.is_active or d.key in incident.custom_fields
    ]
    pending_ownership = (
        incident.ownership_requests.filter(status="pending")
        .select_related("to_team", "from_team", "requested_by")
        .first()
    )
    access_users = []
    if incident.is_restricted:
        from incidents.models import IncidentUserObjectPermission

        access_users = [
            p.user
            for p in IncidentUserObjectPermission.objects.filter(
                content_object=incident, permission__codename="view_incident"
            ).select_related("user")
        ]
    may_manage_access = role == "admin" or incident.commander_id == request.user.pk
    timers = list(incident.sla_timers.all())
    latest_period = max((t.period_number for t in timers), default=1)
    return {
        "incident": incident,
        "reveal": incident.reveal,
        "sla_timers": [t for t in timers if t.period_number == latest_period],
        "earlier_timers": [t for t in timers if t.period_number < latest_period],
        "now": timezone.now(),
        "transitions": services.available_transitions(incident, request.user),
        "events": incident.events.select_related("actor")[:TIMELINE_LIMIT],
        "periods": list(incident.impact_periods.all()),
        "verifications": list(incident.verifications.select_related("confirmer", "requested_by")),
        "definitions": definitions,
        "affected_services": list(incident.affected_services.all()),
        "involved_teams": list(incident.involved_teams.all()),
        "duplicates": list(incident.duplicates.only("key", "title")),
        "pending_ownership": pending_ownership,
        "access_users": access_users,
        "may_update": can(role, Capability.UPDATE_INCIDENTS),
        "may_comment": can(role, Capability.COMMENT_INCIDENTS),
        "may_manage_access": may_manage_access,
        "comment_form": CommentForm(),
        "severity_form": SeverityChangeForm(
            organization=request.org,
            initial={"severity": incident.severity_id, "version": incident.version},
        ),
        "confirmation_form": ConfirmationRequestForm(organization=request.org),
        "ownership_form": OwnershipRequestForm(organization=request.org),
        "access_form": AccessForm(organization=request.org),
        "has_health_url": bool(services._health_url(incident)),
        "coord": coordination.coordination_summary(incident, user=request.user),
        "role_form": RoleAssignForm(organization=request.org),
        "alert_groups": _alert_groups(incident),
    }


def _alert_groups(incident: Incident) -> list:
    """Related alerts (integrations' AlertGroup has the incident foreign key; reached through
    its reverse accessor so incidents does not import integrations)."""
    related = getattr(incident, "alert_groups", None)
    if related is None:
        return []
    return list(related.select_related("source").order_by("-last_seen")[:21])


@org_view(Capability.VIEW_INCIDENTS)
def incident_detail(request, org_slug, key):
    incident = _get(request, key)
    if incident.key != key:
        return _back(incident)
    return render(request, "incidents/incident_detail.html", _detail_context(request, incident))


@org_view(Capability.VIEW_INCIDENTS)
def incident_timeline(request, org_slug, key):
    incident = _get(request, key)
    events = incident.events.select_related("actor")[:TIMELINE_LIMIT]
    context = {"incident": incident, "events": events, "reveal": incident.reveal}
    return render(request, "incidents/incident_detail.html#timeline", context)


@require_POST
@org_view(Capability.TRANSITION_INCIDENTS)
def incident_transition(request, org_slug, key, name):
    incident = _get(request, key)
    try:
        version = int(request.POST.get("version", ""))
    except ValueError:
        version = None
    primary = None
    primary_key = (request.POST.get("primary") or "").strip()
    if name == "mark_duplicate" and primary_key:
        primary = _visible(request).filter(key__iexact=primary_key).first()
        if primary is None:
            return _refuse(request, incident, ValidationError(f"No incident {primary_key}."))
    try:
        incident = services.incident_transition(
            incident=incident,
            name=name,
            actor=request.user,
            note=request.POST.get("note", ""),
            expected_version=version,
            duplicate_of=primary,
        )
    except (ValidationError, PermissionDenied) as error:
        return _refuse(request, incident, error)
    return _done(
        request, incident, f"{incident.key} is now {incident.get_status_display().lower()}."
    )


@require_POST
@org_view(Capability.COMMENT_INCIDENTS)
def incident_comment(request, org_slug, key):
    incident = _get(request, key)
    form = CommentForm(request.POST)
    if not form.is_valid():
        return _refuse(request, incident, ValidationError("Write something first."))
    services.incident_comment(incident=incident, actor=request.user, text=form.cleaned_data["text"])
    if request.htmx:
        events = incident.events.select_related("actor")[:TIMELINE_LIMIT]
        response = render(
            request,
            "incidents/incident_detail.html#timeline",
            {"incident": incident, "events": events, "reveal": incident.reveal},
        )
        return response
    return _back(incident)


@require_POST
@org_view(Capability.UPDATE_INCIDENTS)
def incident_severity(request, org_slug, key):
    incident = _get(request, key)
    form = SeverityChangeForm(request.POST, organization=request.org)
    if not form.is_valid():
        return _refuse(request, incident, ValidationError("Choose a severity and say why."))
    try:
        services.incident_change_severity(
            incident=incident,
            actor=request.user,
            severity=form.cleaned_data["severity"],
            reason=form.cleaned_data["reason"],
            expected_version=form.cleaned_data["version"],
        )
    except (ValidationError, PermissionDenied) as error:
        return _refuse(request, incident, error)
    return _done(request, incident, f"Severity is now {form.cleaned_data['severity']}.")


@org_view(Capability.UPDATE_INCIDENTS)
def incident_update(request, org_slug, key):
    incident = _get(request, key)
    form = IncidentUpdateForm(request.POST or None, organization=request.org, incident=incident)
    definitions = {d.key: d for d in _definitions(request, reveal=incident.reveal)}
    for bound in form.custom_bound_fields():
        definition = definitions.get(bound.name.removeprefix("cf_"))
        if definition is not None and definition.masked:
            del form.fields[bound.name]  # people who may not see it may not change it
    form.custom_definitions = [d for d in form.custom_definitions if f"cf_{d.key}" in form.fields]
    locked = _lock_masked_text(form, incident)
    if request.method == "POST" and form.is_valid():
        changes = form.changes()
        changes.update({name: getattr(incident, name) for name in locked if name[:3] != "cf_"})
        masked_values = {
            k: v
            for k, v in incident.custom_fields.items()
            if (k in definitions and definitions[k].masked) or f"cf_{k}" in locked
        }
        # What this reader could not see (or saw masked) keeps its stored value.
        changes["custom_fields"] = {**changes["custom_fields"], **masked_values}
        try:
            services.incident_update(
                incident=incident,
                actor=request.user,
                changes=changes,
                expected_version=form.cleaned_data["version"],
            )
        except (ValidationError, PermissionDenied) as error:
            if isinstance(error, ValidationError):
                _form_errors(form, error)
            else:
                form.add_error(None, str(error))
        else:
            messages.success(request, f"{incident.key} updated.")
            return _back(incident)
    return render(request, "incidents/incident_update.html", {"form": form, "incident": incident})


MASKABLE_TEXT = ("title", "description", "impact_summary", "resolution_summary")


def _lock_masked_text(form, incident: Incident) -> list[str]:
    """Text fields (and text custom fields, `cf_<key>`) holding personal data this reader
    sees masked are shown masked and locked; they keep their stored values."""
    stored = {name: getattr(incident, name) or "" for name in MASKABLE_TEXT}
    stored.update({f"cf_{k}": v for k, v in (incident.custom_fields or {}).items()})
    return masking.lock_masked_fields(form, stored, reveal=incident.reveal)


# — verification, ownership, access ——————————————————————————————————————————————————


def _act(request, incident: Incident, call, success: str):
    """Run one service call for a button on the detail page: a refusal goes back with the
    reason, a success refreshes the page (or the htmx fragment)."""
    try:
        call()
    except (ValidationError, PermissionDenied) as error:
        return _refuse(request, incident, error)
    return _done(request, incident, success)


def _bound(request, incident: Incident, form, problem: str):
    """The form's data, or None after telling the user what to fix."""
    if form.is_valid():
        return form.cleaned_data
    messages.error(request, problem)
    return None


@require_POST
@org_view(Capability.UPDATE_INCIDENTS)
def verification_request(request, org_slug, key):
    incident = _get(request, key)
    form = ConfirmationRequestForm(request.POST, organization=request.org)
    if (data := _bound(request, incident, form, "Choose who confirms the fix.")) is None:
        return _back(incident)
    return _act(
        request,
        incident,
        lambda: services.verification_request_confirmation(
            incident=incident, actor=request.user, confirmer=data["confirmer"], note=data["note"]
        ),
        f"{data['confirmer']} was asked to confirm.",
    )


@require_POST
@org_view(Capability.VIEW_INCIDENTS)
def verification_answer(request, org_slug, key, pk):
    incident = _get(request, key)
    verification = get_object_or_404(Verification, pk=pk, incident=incident)
    form = ConfirmationAnswerForm(request.POST)
    if (data := _bound(request, incident, form, "Say whether it works.")) is None:
        return _back(incident)
    return _act(
        request,
        incident,
        lambda: services.verification_confirm(
            verification=verification,
            actor=request.user,
            passed=data["passed"],
            note=data["note"],
        ),
        "Thank you: your answer is on the timeline.",
    )


@require_POST
@org_view(Capability.UPDATE_INCIDENTS)
def verification_health_check(request, org_slug, key):
    incident = _get(request, key)
    return _act(
        request,
        incident,
        lambda: services.verification_start_health_check(incident=incident, actor=request.user),
        "Health check started; its result appears on the timeline.",
    )


@require_POST
@org_view(Capability.UPDATE_INCIDENTS)
def ownership_request(request, org_slug, key):
    incident = _get(request, key)
    form = OwnershipRequestForm(request.POST, organization=request.org)
    if (data := _bound(request, incident, form, "Choose the team.")) is None:
        return _back(incident)
    return _act(
        request,
        incident,
        lambda: services.ownership_request_create(
            incident=incident,
            actor=request.user,
            kind=data["kind"],
            to_team=data["to_team"],
            reason=data["reason"],
        ),
        "Ownership request sent.",
    )


@require_POST
@org_view(Capability.UPDATE_INCIDENTS)
def ownership_decide(request, org_slug, key, pk):
    incident = _get(request, key)
    ownership = get_object_or_404(OwnershipRequest, pk=pk, incident=incident)
    form = OwnershipDecisionForm(request.POST)
    if (data := _bound(request, incident, form, "Accept or decline.")) is None:
        return _back(incident)
    return _act(
        request,
        incident,
        lambda: services.ownership_request_decide(
            request=ownership, actor=request.user, accept=data["accept"], note=data["note"]
        ),
        "Answer recorded.",
    )


@require_POST
@org_view(Capability.VIEW_INCIDENTS)
def incident_access(request, org_slug, key):
    incident = _get(request, key)
    form = AccessForm(request.POST, organization=request.org)
    if (data := _bound(request, incident, form, "Choose a person.")) is None:
        return _back(incident)
    action, user = data["action"], data.get("user")

    def change():
        if action == "grant":
            services.incident_grant_access(incident=incident, actor=request.user, user=user)
        elif action == "revoke":
            services.incident_revoke_access(incident=incident, actor=request.user, user=user)
        else:
            services.incident_set_restricted(
                incident=incident, actor=request.user, is_restricted=action == "restrict"
            )

    return _act(request, incident, change, "Access updated.")


@require_POST
@org_view(Capability.UPDATE_INCIDENTS)
def sla_pause(request, org_slug, key, pk):
    incident = _get(request, key)
    reason = request.POST.get("reason", "")
    return _act(
        request,
        incident,
        lambda: services.sla_pause(
            incident=incident, actor=request.user, timer_id=pk, reason=reason
        ),
        "Clock paused.",
    )


@require_POST
@org_view(Capability.UPDATE_INCIDENTS)
def sla_resume(request, org_slug, key, pk):
    incident = _get(request, key)
    return _act(
        request,
        incident,
        lambda: services.sla_resume(incident=incident, actor=request.user, timer_id=pk),
        "Clock running again.",
    )


@org_view(Capability.MANAGE_TAXONOMY)
def classification_quality(request, org_slug):
    """The data-quality indicators that inform the choice of static or assisted classification."""
    context = {
        "quality": classification.data_quality(organization=request.org),
        "org_settings": OrgSettings.objects.filter(organization=request.org).first(),
    }
    return render(request, "incidents/classification_quality.html", context)
