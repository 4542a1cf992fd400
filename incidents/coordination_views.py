"""Pages and buttons for coordinating an incident: roles, status updates, handoffs, the
decision log and open questions, plus the organisation's status-update templates and cadence.
Thin: parse, call incidents.coordination, render or go back to the incident."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from incidents import coordination
from incidents.coordination_forms import (
    AcknowledgeForm,
    AnswerForm,
    CadenceForm,
    DecisionForm,
    HandoffForm,
    PinForm,
    QuestionForm,
    RoleAssignForm,
    RoleTakeForm,
    StatusTemplateForm,
    StatusUpdateForm,
)
from incidents.models import (
    Handoff,
    IncidentRole,
    OpenQuestion,
    StatusUpdate,
    StatusUpdateTemplate,
    TimelineEvent,
)
from incidents.services import is_manager
from incidents.views import _act, _back, _bound, _form_errors, _get
from tenancy.access import org_view
from tenancy.roles import Capability

UPDATES_PER_PAGE = 25
HANDOFFS_PER_PAGE = 25


# — roles ————————————————————————————————————————————————————————————————————————————


@require_POST
@org_view(Capability.UPDATE_INCIDENTS)
def role_assign(request, org_slug, key):
    incident = _get(request, key)
    form = RoleAssignForm(request.POST, organization=request.org)
    if (data := _bound(request, incident, form, "Choose a role and a person.")) is None:
        return _back(incident)
    label = coordination.ROLE_LABELS[data["role"]].lower()
    return _act(
        request,
        incident,
        lambda: coordination.role_assign(
            incident=incident, actor=request.user, role=data["role"], user=data["user"]
        ),
        f"{data['user']} is now {label}.",
    )


@require_POST
@org_view(Capability.UPDATE_INCIDENTS)
def role_take(request, org_slug, key):
    incident = _get(request, key)
    form = RoleTakeForm(request.POST)
    if (data := _bound(request, incident, form, "Choose a role.")) is None:
        return _back(incident)
    label = coordination.ROLE_LABELS[data["role"]].lower()
    return _act(
        request,
        incident,
        lambda: coordination.role_take(incident=incident, actor=request.user, role=data["role"]),
        f"You are now {label}.",
    )


@require_POST
@org_view(Capability.UPDATE_INCIDENTS)
def role_release(request, org_slug, key, pk):
    incident = _get(request, key)
    assignment = get_object_or_404(IncidentRole, pk=pk, incident=incident)
    return _act(
        request,
        incident,
        lambda: coordination.role_release(
            incident=incident, actor=request.user, assignment=assignment
        ),
        f"{assignment.user} no longer {assignment.get_role_display().lower()}.",
    )


# — status updates ———————————————————————————————————————————————————————————————————


@org_view(Capability.UPDATE_INCIDENTS)
def status_update_create(request, org_slug, key):
    """Write a status update, optionally starting from one of the organisation's templates
    (`?template=<id>` fills the fields from the incident)."""
    incident = _get(request, key)
    templates = StatusUpdateTemplate.objects.filter(organization=request.org, is_active=True)
    deadline = coordination.open_deadline(incident)
    cadence = coordination.cadence_minutes(incident)
    chosen = None
    initial = {}
    if request.method == "GET" and request.GET.get("template"):
        chosen = templates.filter(pk=_int(request.GET.get("template"))).first()
        if chosen is None:
            messages.error(request, "No such template; start from an empty update.")
        else:
            try:
                next_at = None
                if cadence:  # the time the filled text promises is the one the form proposes
                    next_at = timezone.now() + timezone.timedelta(minutes=cadence)
                    next_at = next_at.replace(second=0, microsecond=0)
                initial = coordination.template_render(chosen, incident, next_update_at=next_at)
                initial["next_update_at"] = next_at
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
            initial["template"] = chosen.pk
    form = StatusUpdateForm(request.POST or None, organization=request.org, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            coordination.status_update_post(
                incident=incident,
                actor=request.user,
                current_status=data["current_status"],
                impact=data["impact"],
                workaround=data["workaround"],
                body=data["body"],
                next_update_at=data["next_update_at"],
                template=data["template"],
            )
        except (ValidationError, PermissionDenied) as error:
            if isinstance(error, ValidationError):
                _form_errors(form, error)
            else:
                form.add_error(None, str(error))
        else:
            messages.success(request, "Status update posted and sent to the incident's channels.")
            return _back(incident)
    context = {
        "incident": incident,
        "form": form,
        "templates": templates,
        "chosen": chosen,
        "deadline": deadline,
        "cadence": cadence,
        "now": timezone.now(),
    }
    return render(request, "incidents/coordination/status_update_form.html", context)


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@org_view(Capability.VIEW_INCIDENTS)
def status_update_list(request, org_slug, key):
    """Every status update of the incident, newest first, with whether each came on time."""
    incident = _get(request, key)
    updates = StatusUpdate.objects.filter(incident=incident).select_related("author")
    page = Paginator(updates, UPDATES_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "incident": incident,
        "page": page,
        "deadline": coordination.open_deadline(incident),
        "cadence": coordination.cadence_minutes(incident),
        "now": timezone.now(),
    }
    return render(request, "incidents/coordination/status_update_list.html", context)


# — handoffs ——————————————————————————————————————————————————————————————————————————


@org_view(Capability.UPDATE_INCIDENTS)
def handoff_create(request, org_slug, key):
    incident = _get(request, key)
    form = HandoffForm(request.POST or None, organization=request.org)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            coordination.handoff_create(
                incident=incident,
                actor=request.user,
                incoming=data["incoming"],
                summary=data["summary"],
                workarounds=data["workarounds"],
                pending_actions=form.pending_actions(),
                questions=form.question_list(),
            )
        except (ValidationError, PermissionDenied) as error:
            if isinstance(error, ValidationError):
                _form_errors(form, error)
            else:
                form.add_error(None, str(error))
        else:
            messages.success(
                request, f"Handoff recorded; {data['incoming']} was asked to acknowledge it."
            )
            return _back(incident)
    context = {
        "incident": incident,
        "form": form,
        "is_commander": incident.commander_id == request.user.pk,
    }
    return render(request, "incidents/coordination/handoff_form.html", context)


@org_view(Capability.VIEW_INCIDENTS)
def handoff_list(request, org_slug, key):
    """All handoffs of the incident on one printable page."""
    incident = _get(request, key)
    handoffs = (
        Handoff.objects.filter(incident=incident)
        .select_related("outgoing", "incoming", "created_by")
        .prefetch_related("questions")
    )
    page = Paginator(handoffs, HANDOFFS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"incident": incident, "page": page, "handoffs": page.object_list}
    return render(request, "incidents/coordination/handoff_print.html", context)


@org_view(Capability.VIEW_INCIDENTS)
def handoff_detail(request, org_slug, key, pk):
    """One handoff, printable, with the acknowledge button for the incoming person."""
    incident = _get(request, key)
    handoff = get_object_or_404(
        Handoff.objects.select_related("outgoing", "incoming", "created_by").prefetch_related(
            "questions"
        ),
        pk=pk,
        incident=incident,
    )
    context = {
        "incident": incident,
        "handoffs": [handoff],
        "single": handoff,
        "acknowledge_form": AcknowledgeForm(),
    }
    return render(request, "incidents/coordination/handoff_print.html", context)


@require_POST
@org_view(Capability.UPDATE_INCIDENTS)
def handoff_acknowledge(request, org_slug, key, pk):
    incident = _get(request, key)
    handoff = get_object_or_404(Handoff, pk=pk, incident=incident)
    form = AcknowledgeForm(request.POST)
    if (data := _bound(request, incident, form, "The note is too long.")) is None:
        return _back(incident)
    return _act(
        request,
        incident,
        lambda: coordination.handoff_acknowledge(
            handoff=handoff, actor=request.user, note=data["note"]
        ),
        "Handoff acknowledged: you have taken over.",
    )


@require_POST
@org_view(Capability.UPDATE_INCIDENTS)
def handoff_cancel(request, org_slug, key, pk):
    incident = _get(request, key)
    handoff = get_object_or_404(Handoff, pk=pk, incident=incident)
    return _act(
        request,
        incident,
        lambda: coordination.handoff_cancel(handoff=handoff, actor=request.user),
        "Handoff cancelled.",
    )


# — decisions and questions ——————————————————————————————————————————————————————————


@require_POST
@org_view(Capability.COMMENT_INCIDENTS)
def decision_create(request, org_slug, key):
    incident = _get(request, key)
    form = DecisionForm(request.POST)
    if (
        data := _bound(request, incident, form, "Write the decision (at most 2,000 characters).")
    ) is None:  # noqa: E501
        return _back(incident)
    return _act(
        request,
        incident,
        lambda: coordination.decision_record(
            incident=incident, actor=request.user, text=data["text"], pinned=data["pinned"]
        ),
        "Decision recorded" + (" and pinned." if data["pinned"] else "."),
    )


@require_POST
@org_view(Capability.UPDATE_INCIDENTS)
def decision_pin(request, org_slug, key, pk):
    incident = _get(request, key)
    event = get_object_or_404(TimelineEvent, pk=pk, incident=incident)
    form = PinForm(request.POST)
    if (data := _bound(request, incident, form, "Pin or unpin.")) is None:
        return _back(incident)
    return _act(
        request,
        incident,
        lambda: coordination.decision_pin(
            incident=incident, actor=request.user, event=event, pinned=data["pinned"]
        ),
        "Decision pinned." if data["pinned"] else "Decision unpinned.",
    )


@require_POST
@org_view(Capability.COMMENT_INCIDENTS)
def question_create(request, org_slug, key):
    incident = _get(request, key)
    form = QuestionForm(request.POST)
    if (
        data := _bound(request, incident, form, "Write the question (at most 500 characters).")
    ) is None:  # noqa: E501
        return _back(incident)
    return _act(
        request,
        incident,
        lambda: coordination.question_add(incident=incident, actor=request.user, text=data["text"]),
        "Question added.",
    )


@require_POST
@org_view(Capability.COMMENT_INCIDENTS)
def question_answer(request, org_slug, key, pk):
    incident = _get(request, key)
    question = get_object_or_404(OpenQuestion, pk=pk, incident=incident)
    form = AnswerForm(request.POST)
    if (
        data := _bound(request, incident, form, "Write the answer (at most 2,000 characters).")
    ) is None:  # noqa: E501
        return _back(incident)
    return _act(
        request,
        incident,
        lambda: coordination.question_answer(
            incident=incident, actor=request.user, question=question, answer=data["answer"]
        ),
        "Question answered and closed.",
    )


# — organisation settings: templates and cadence ————————————————————————————————————————


def _settings_page(request, *, cadence_form=None, status=200):
    table = coordination.cadence_table(request.org)
    context = {
        "templates": StatusUpdateTemplate.objects.filter(organization=request.org),
        "table": table,
        "cadence_form": cadence_form or CadenceForm(table=table),
        "may_edit": is_manager(request.org, request.user),
        "placeholders": coordination.PLACEHOLDERS,
    }
    return render(request, "incidents/coordination/status_settings.html", context, status=status)


@org_view(Capability.VIEW_INCIDENTS)
def status_settings(request, org_slug):
    """The organisation's status-update cadence per severity and its templates."""
    return _settings_page(request)


@require_POST
@org_view(Capability.VIEW_INCIDENTS)
def cadence_save(request, org_slug):
    if not is_manager(request.org, request.user):
        raise PermissionDenied("Only managers and admins may change the cadence.")
    form = CadenceForm(request.POST, table=coordination.cadence_table(request.org))
    if form.is_valid():
        try:
            coordination.cadence_save(
                organization=request.org, actor=request.user, minutes=form.minutes()
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Cadence saved; open incidents' next updates follow it.")
            return redirect("incidents:status_settings", org_slug=org_slug)
    return _settings_page(request, cadence_form=form)


@org_view(Capability.VIEW_INCIDENTS)
def template_edit(request, org_slug, pk=None):
    if not is_manager(request.org, request.user):
        raise PermissionDenied("Only managers and admins may edit status-update templates.")
    template = get_object_or_404(StatusUpdateTemplate, pk=pk) if pk else None
    initial = (
        {f: getattr(template, f) for f in ("name", *coordination.TEMPLATE_FIELDS, "is_active")}
        if template
        else {"is_active": True}
    )
    form = StatusTemplateForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            saved = coordination.template_save(
                organization=request.org, actor=request.user, template=template, **form.cleaned_data
            )
        except (ValidationError, PermissionDenied) as error:
            if isinstance(error, ValidationError):
                _form_errors(form, error)
            else:
                form.add_error(None, str(error))
        else:
            messages.success(request, f"Template “{saved.name}” saved.")
            return redirect("incidents:status_settings", org_slug=org_slug)
    context = {"form": form, "template": template, "placeholders": coordination.PLACEHOLDERS}
    return render(request, "incidents/coordination/status_template_form.html", context)
