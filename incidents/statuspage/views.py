"""Internal pages of external communications, under /o/<org>/status-page/: messages (draft,
edit, approve, publish), components, templates, spokespersons and settings. Thin: parse,
call a selector or a service, render."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from incidents import selectors as incident_selectors
from incidents.statuspage import selectors, services
from incidents.statuspage.forms import (
    NOT_AFFECTED,
    ComponentForm,
    MessageForm,
    SettingsForm,
    SpokespersonForm,
    TemplateForm,
)
from incidents.statuspage.models import (
    Component,
    ExternalMessage,
    MessageState,
    MessageTemplate,
    Spokesperson,
)
from tenancy.access import org_view
from tenancy.roles import Capability, can

PAGE_SIZE = 25


def _error_text(error: ValidationError | PermissionDenied) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error) or "You may not do that."


def _apply_errors(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


def _may(request, capability: Capability) -> bool:
    return can(request.membership.role, capability)


def _context(request, section: str, **extra) -> dict:
    return {
        "section": section,
        "page_settings": services.settings_get(request.org),
        "may_manage": _may(request, Capability.MANAGE_ORGANIZATION),
        "may_draft": _may(request, Capability.UPDATE_INCIDENTS),
        "is_spokesperson": services.is_spokesperson(request.org, request.user),
        **extra,
    }


def _message(request, pk) -> ExternalMessage:
    message = (
        selectors.message_list(
            organization=request.org, user=request.user, membership=request.membership
        )
        .filter(pk=pk)
        .first()
    )
    if message is None:
        raise Http404("No such message.")
    return message


# — messages ——————————————————————————————————————————————————————————————————————————


@org_view(Capability.VIEW_INCIDENTS)
def message_list(request, org_slug):
    """Every external message the reader may see, newest first, filtered by state."""
    state = request.GET.get("state", "")
    if state not in MessageState.values:
        state = ""
    queryset = selectors.message_list(
        organization=request.org, user=request.user, membership=request.membership
    )
    counts = {value: 0 for value in MessageState.values}
    for row in queryset.order_by().values_list("state", flat=True):
        counts[row] += 1
    if state:
        queryset = queryset.filter(state=state)
    page = Paginator(queryset.order_by("-created_at", "-pk"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    page.object_list = list(page.object_list)
    context = _context(
        request,
        "messages",
        page=page,
        state=state,
        states=[(value, label, counts[value]) for value, label in MessageState.choices],
        total=sum(counts.values()),
        query=urlencode({"state": state}) if state else "",
        affected=selectors.affected_by_message(page.object_list),
    )
    return render(request, "statuspage/message_list.html", context)


def _components(request) -> list[Component]:
    return list(selectors.component_list(organization=request.org))


def _incident_from_key(request, form) -> tuple[bool, object]:
    key = (form.cleaned_data.get("incident_key") or "").strip()
    if not key:
        return True, None
    try:
        return True, incident_selectors.incident_get(
            organization=request.org,
            user=request.user,
            membership=request.membership,
            key=key,
        )
    except Http404:
        form.add_error("incident_key", "No incident with this key that you can see.")
        return False, None


@org_view(Capability.UPDATE_INCIDENTS)
def message_create(request, org_slug):
    """Draft a message: from a template (?template=<id>) or free text, optionally for an
    incident (?incident=<KEY>)."""
    components = _components(request)
    templates = list(MessageTemplate.objects.filter(organization=request.org, is_active=True))
    template = None
    template_id = request.POST.get("template") or request.GET.get("template")
    if template_id:
        template = next((t for t in templates if str(t.pk) == str(template_id)), None)
    initial = {"incident_key": request.GET.get("incident", "")[:24]}
    if template is not None:
        initial.update(title=template.title, body=template.body, status=template.status)
    form = MessageForm(request.POST or None, initial=initial, components=components)
    if request.method == "POST" and form.is_valid():
        ok, incident = _incident_from_key(request, form)
        if ok:
            try:
                message = services.message_create(
                    organization=request.org,
                    actor=request.user,
                    title=form.cleaned_data["title"],
                    body=form.cleaned_data["body"],
                    status=form.cleaned_data["status"],
                    next_update_at=form.cleaned_data["next_update_at"],
                    incident=incident,
                    template=template,
                    affected=form.affected(),
                )
            except ValidationError as error:
                _apply_errors(form, error)
            else:
                messages.success(request, "Draft saved. A spokesperson approves it next.")
                return redirect("statuspage:message_detail", org_slug=org_slug, pk=message.pk)
    context = _context(
        request,
        "messages",
        form=form,
        templates=templates,
        template=template,
        components=components,
        message=None,
    )
    return render(request, "statuspage/message_form.html", context)


@org_view(Capability.VIEW_INCIDENTS)
def message_detail(request, org_slug, pk):
    message = _message(request, pk)
    affected = selectors.affected_by_message([message]).get(message.pk, [])
    may_see_incident = message.incident_id is not None  # the selector already checked it
    context = _context(
        request,
        "messages",
        message=message,
        affected=affected,
        may_see_incident=may_see_incident,
        approval_refusal=services.approval_refusal(request.org, request.user, message),
        publish_refusal=services.publish_refusal(request.org, request.user, message),
        may_delete=message.state != MessageState.PUBLISHED
        and _may(request, Capability.UPDATE_INCIDENTS)
        and (
            message.drafted_by_id == request.user.pk
            or services.is_spokesperson(request.org, request.user)
        ),
    )
    return render(request, "statuspage/message_detail.html", context)


@org_view(Capability.UPDATE_INCIDENTS)
def message_update(request, org_slug, pk):
    message = _message(request, pk)
    if message.state == MessageState.PUBLISHED:
        messages.error(request, "A published message cannot be changed. Draft a follow-up.")
        return redirect("statuspage:message_detail", org_slug=org_slug, pk=pk)
    components = _components(request)
    affected = {
        item.component_id: item.state
        for item in selectors.affected_by_message([message]).get(message.pk, [])
    }
    initial = {
        "incident_key": message.incident.key if message.incident else "",
        "status": message.status,
        "title": message.title,
        "body": message.body,
        "next_update_at": message.next_update_at,
        **{f"component_{c.pk}": affected.get(c.pk, NOT_AFFECTED) for c in components},
    }
    form = MessageForm(request.POST or None, initial=initial, components=components)
    if request.method == "POST" and form.is_valid():
        ok, incident = _incident_from_key(request, form)
        if ok:
            try:
                services.message_update(
                    organization=request.org,
                    actor=request.user,
                    message=message,
                    title=form.cleaned_data["title"],
                    body=form.cleaned_data["body"],
                    status=form.cleaned_data["status"],
                    next_update_at=form.cleaned_data["next_update_at"],
                    incident=incident,
                    affected=form.affected(),
                )
            except ValidationError as error:
                _apply_errors(form, error)
            else:
                if message.state == MessageState.APPROVED:
                    messages.warning(
                        request, "Saved. The change withdrew the approval: approve it again."
                    )
                else:
                    messages.success(request, "Draft saved.")
                return redirect("statuspage:message_detail", org_slug=org_slug, pk=pk)
    context = _context(
        request, "messages", form=form, message=message, components=components, templates=[]
    )
    return render(request, "statuspage/message_form.html", context)


def _act(request, org_slug, pk, action, done: str):
    message = _message(request, pk)
    try:
        action(organization=request.org, actor=request.user, message=message)
    except (ValidationError, PermissionDenied) as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(request, done)
    return redirect("statuspage:message_detail", org_slug=org_slug, pk=pk)


@require_POST
@org_view(Capability.VIEW_INCIDENTS)
def message_approve(request, org_slug, pk):
    """Spokespersons only — the service says why anyone else is refused."""
    return _act(request, org_slug, pk, services.message_approve, "Approved. It can be published.")


@require_POST
@org_view(Capability.VIEW_INCIDENTS)
def message_publish(request, org_slug, pk):
    return _act(
        request,
        org_slug,
        pk,
        services.message_publish,
        "Published on the status page; confirmed subscribers are being e-mailed.",
    )


@require_POST
@org_view(Capability.UPDATE_INCIDENTS)
def message_delete(request, org_slug, pk):
    message = _message(request, pk)
    try:
        services.message_delete(organization=request.org, actor=request.user, message=message)
    except (ValidationError, PermissionDenied) as error:
        messages.error(request, _error_text(error))
        return redirect("statuspage:message_detail", org_slug=org_slug, pk=pk)
    messages.success(request, "Message discarded.")
    return redirect("statuspage:message_list", org_slug=org_slug)


# — components ————————————————————————————————————————————————————————————————————————


@org_view(Capability.VIEW_INCIDENTS)
def component_list(request, org_slug):
    form = (
        ComponentForm(organization=request.org)
        if _may(request, Capability.MANAGE_ORGANIZATION)
        else None
    )
    context = _context(request, "components", components=_components(request), form=form)
    return render(request, "statuspage/component_list.html", context)


@org_view(Capability.MANAGE_ORGANIZATION)
def component_edit(request, org_slug, pk=None):
    component = get_object_or_404(Component, pk=pk) if pk else None
    initial = (
        {
            "name": component.name,
            "description": component.description,
            "order": component.order,
            "service": component.service_id,
            "state": component.state,
        }
        if component
        else None
    )
    form = ComponentForm(request.POST or None, initial=initial, organization=request.org)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.component_save(
                organization=request.org,
                actor=request.user,
                component=component,
                **form.cleaned_data,
            )
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, f"Component “{saved.name}” saved.")
            return redirect("statuspage:component_list", org_slug=org_slug)
    if component is None and request.method == "POST":
        context = _context(request, "components", components=_components(request), form=form)
        return render(request, "statuspage/component_list.html", context)
    context = _context(request, "components", form=form, component=component)
    return render(request, "statuspage/component_form.html", context)


@require_POST
@org_view(Capability.MANAGE_ORGANIZATION)
def component_delete(request, org_slug, pk):
    component = get_object_or_404(Component, pk=pk)
    try:
        services.component_delete(organization=request.org, actor=request.user, component=component)
    except ValidationError as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(request, f"Component “{component.name}” removed.")
    return redirect("statuspage:component_list", org_slug=org_slug)


# — templates —————————————————————————————————————————————————————————————————————————


@org_view(Capability.VIEW_INCIDENTS)
def template_list(request, org_slug):
    templates = MessageTemplate.objects.filter(organization=request.org)
    return render(
        request,
        "statuspage/template_list.html",
        _context(request, "templates", templates=templates),
    )


@org_view(Capability.MANAGE_ORGANIZATION)
def template_edit(request, org_slug, pk=None):
    template = get_object_or_404(MessageTemplate, pk=pk) if pk else None
    initial = (
        {
            "name": template.name,
            "status": template.status,
            "title": template.title,
            "body": template.body,
            "is_active": template.is_active,
        }
        if template
        else {"is_active": True}
    )
    form = TemplateForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.template_save(
                organization=request.org,
                actor=request.user,
                template=template,
                **form.cleaned_data,
            )
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, f"Template “{saved.name}” saved.")
            return redirect("statuspage:template_list", org_slug=org_slug)
    context = _context(request, "templates", form=form, template=template)
    return render(request, "statuspage/template_form.html", context)


@require_POST
@org_view(Capability.MANAGE_ORGANIZATION)
def template_delete(request, org_slug, pk):
    template = get_object_or_404(MessageTemplate, pk=pk)
    services.template_delete(organization=request.org, actor=request.user, template=template)
    messages.success(request, f"Template “{template.name}” removed.")
    return redirect("statuspage:template_list", org_slug=org_slug)


# — spokespersons and settings ————————————————————————————————————————————————————————


@org_view(Capability.VIEW_INCIDENTS)
def spokesperson_list(request, org_slug):
    spokespeople = list(
        Spokesperson.objects.filter(organization=request.org).select_related("user", "added_by")
    )
    may_manage = _may(request, Capability.MANAGE_ORGANIZATION)
    form = None
    if may_manage:
        form = SpokespersonForm(
            request.POST or None,
            organization=request.org,
            exclude_ids=[s.user_id for s in spokespeople],
        )
        if request.method == "POST" and form.is_valid():
            try:
                added = services.spokesperson_add(
                    organization=request.org, actor=request.user, user=form.cleaned_data["user"]
                )
            except ValidationError as error:
                _apply_errors(form, error)
            else:
                messages.success(request, f"{added.user.display_name} is now a spokesperson.")
                return redirect("statuspage:spokesperson_list", org_slug=org_slug)
    elif request.method == "POST":
        raise PermissionDenied("Your role may not manage organization.")
    context = _context(request, "spokespersons", spokespeople=spokespeople, form=form)
    return render(request, "statuspage/spokesperson_list.html", context)


@require_POST
@org_view(Capability.MANAGE_ORGANIZATION)
def spokesperson_remove(request, org_slug, pk):
    spokesperson = get_object_or_404(Spokesperson.objects.select_related("user"), pk=pk)
    services.spokesperson_remove(
        organization=request.org, actor=request.user, spokesperson=spokesperson
    )
    messages.success(request, f"{spokesperson.user.display_name} is no longer a spokesperson.")
    return redirect("statuspage:spokesperson_list", org_slug=org_slug)


@org_view(Capability.MANAGE_ORGANIZATION)
def settings_edit(request, org_slug):
    page = services.settings_get(request.org)
    form = SettingsForm(request.POST or None, instance=page)
    if request.method == "POST" and form.is_valid():
        try:
            services.settings_save(
                organization=request.org, actor=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, "Status page settings saved.")
            return redirect("statuspage:settings", org_slug=org_slug)
    context = _context(
        request,
        "settings",
        form=form,
        counts=services.subscriber_counts(request.org),
        public_path=reverse("status_public:page", kwargs={"org_slug": org_slug}),
    )
    return render(request, "statuspage/settings.html", context)
