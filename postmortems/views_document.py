"""Post-mortem document pages: the policy settings, the document (read and edit), its
timeline, 5 Whys, fishbone, tags, approvers, the review workflow, and the incident page's
"Request a post-mortem". Thin: parse, call a service, redirect or render.

Visibility follows the incident's: `incidents.selectors.incident_get` answers 404 for another
organisation's incident, a restricted one the reader may not see, and a missing one alike."""

import copy

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from compliance import masking, unmask
from compliance.masking import mask_text
from incidents import selectors
from postmortems import blameless, fishbone, policy, scheduling, services
from postmortems.forms_document import (
    ApproversForm,
    CauseForm,
    NoteForm,
    PolicyForm,
    RequestForm,
    SectionsForm,
    TagsForm,
    TimelineRowForm,
    VerdictForm,
    WhyForm,
)
from postmortems.models import FishboneCause, PostMortem
from tenancy.access import org_view
from tenancy.roles import Capability, Role, can


def _incident(request, key):
    return selectors.incident_get(
        organization=request.org, user=request.user, membership=request.membership, key=key
    )


def _postmortem(request, key) -> PostMortem:
    incident = _incident(request, key)
    postmortem = (
        PostMortem.objects.filter(incident=incident)
        .select_related("incident", "incident__severity", "incident__organization", "owner")
        .first()
    )
    if postmortem is None:
        raise Http404("No post-mortem for this incident.")
    return postmortem


def _back(postmortem: PostMortem, anchor: str = ""):
    response = redirect(
        "postmortems:postmortem_detail",
        org_slug=postmortem.organization.slug,
        key=postmortem.incident.key,
    )
    if anchor:
        response["Location"] += f"#{anchor}"
    return response


def _error_text(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error) or "Not allowed."


def _run(request, postmortem: PostMortem, call, success: str = "", anchor: str = ""):
    try:
        call()
    except (ValidationError, PermissionDenied) as error:
        messages.error(request, _error_text(error))
    else:
        if success:
            messages.success(request, success)
    return _back(postmortem, anchor)


def _invalid(request, postmortem: PostMortem, form, anchor: str = ""):
    problems = []
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        problems.append(f"{label}: {' '.join(errors)}" if label else " ".join(errors))
    messages.error(request, " ".join(problems))
    return _back(postmortem, anchor)


# — policy ————————————————————————————————————————————————————————————————————————————


@org_view(Capability.UPDATE_INCIDENTS)
def policy_edit(request, org_slug):
    if request.membership.role not in (Role.MANAGER, Role.ADMIN):
        raise PermissionDenied("Only managers and admins may change the post-mortem policy.")
    current = policy.policy_for(request.org)
    initial = {name: getattr(current, name) for name in PolicyForm.base_fields}
    form = PolicyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            policy.policy_save(
                organization=request.org, actor=request.user, values=form.cleaned_data
            )
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, "Post-mortem policy saved.")
            return redirect("postmortems:policy_edit", org_slug=request.org.slug)
    return render(
        request,
        "postmortems/document/policy.html",
        {"form": form, "policy": current, "saved": current.pk is not None},
    )


# — the incident side ———————————————————————————————————————————————————————————————————


@require_POST
@org_view(Capability.UPDATE_INCIDENTS)
def postmortem_request(request, org_slug, key):
    incident = _incident(request, key)
    form = RequestForm(request.POST)
    if not form.is_valid():
        messages.error(
            request, "Say why this incident needs a post-mortem (at most 250 characters)."
        )
    else:
        try:
            policy.postmortem_request(
                incident=incident, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except (ValidationError, PermissionDenied) as error:
            messages.error(request, _error_text(error))
        else:
            messages.success(request, "Post-mortem requested.")
    return redirect("incidents:incident_detail", org_slug=request.org.slug, key=incident.key)


# — the document ——————————————————————————————————————————————————————————————————————


def _detail_context(request, postmortem: PostMortem) -> dict:
    incident = postmortem.incident
    incident.reveal = reveal = unmask.request_reveal(request, incident)
    role = request.membership.role
    people = blameless.people_of(request.org)
    whys = list(postmortem.whys.all())
    causes = list(postmortem.causes.all())
    approvals = list(postmortem.approvals.select_related("approver").order_by("-decided_at"))
    approvers = list(postmortem.approvers.order_by("full_name", "email"))
    current_policy = policy.policy_for(request.org)
    may_edit = can(role, Capability.UPDATE_INCIDENTS) and postmortem.status in (
        services.EDITABLE_STATES
    )
    sections = []
    warnings = blameless.check_postmortem(postmortem, people=people)
    for field in blameless.SECTIONS:
        sections.append(
            {
                "field": field,
                "label": PostMortem._meta.get_field(field).verbose_name.capitalize(),
                "text": getattr(postmortem, field),
                "warnings": warnings.get(field, []),
            }
        )
    timeline = [
        {
            "index": index,
            "at": _at(row.get("at")),
            "text": row.get("text", ""),
            "source": row.get("source", ""),
            # A row whose text is shown masked cannot be edited here (saving would store
            # the labels): reveal the incident first.
            "masked": mask_text(row.get("text", ""), reveal=reveal) != row.get("text", ""),
        }
        for index, row in enumerate(postmortem.timeline or [])
    ]
    verdict_given = any(
        a.approver_id == request.user.pk and a.version == postmortem.version for a in approvals
    )
    by_category = {key: [] for key, _ in FishboneCause.Category.choices}
    for cause in causes:
        by_category[cause.category].append(cause)
    return {
        "postmortem": postmortem,
        "incident": incident,
        "impact": services.impact_of(incident),
        "sections": sections,
        "timeline": timeline,
        "whys": whys,
        "why_warning": services.why_warning(postmortem, people=people),
        "why_blame": warnings.get("whys", []),
        "cause_blame": warnings.get("causes", []),
        "causes_by_category": [
            (key, label, by_category[key]) for key, label in FishboneCause.Category.choices
        ],
        # render_svg escapes every text it writes (cause texts, the effect, the title).
        "fishbone_svg": mark_safe(  # noqa: S308
            fishbone.render_svg(
                [_masked_cause(c, reveal) for c in causes],
                effect=mask_text(incident.title, reveal=reveal),
            )
        ),
        "tags": list(postmortem.tags.all()),
        "approvers": approvers,
        "approvals": approvals,
        "current_approvals": services.eligible_approvals(postmortem),
        "policy": current_policy,
        "transitions": services.available_transitions(postmortem, request.user, role),
        "may_edit": may_edit,
        "may_update": can(role, Capability.UPDATE_INCIDENTS),
        "may_judge": postmortem.status == PostMortem.Status.IN_REVIEW
        and any(a.pk == request.user.pk for a in approvers)
        and request.user.pk != postmortem.owner_id
        and not verdict_given,
        "verdict_given": verdict_given,
        "timeline_form": TimelineRowForm(
            initial={"at": timezone.localtime().replace(second=0, microsecond=0)}
        ),
        "why_form": WhyForm(),
        "cause_form": CauseForm(),
        "tags_form": TagsForm(initial={"tags": [t.pk for t in postmortem.tags.all()]}),
        "approvers_form": ApproversForm(
            organization=request.org,
            owner_id=postmortem.owner_id,
            initial={"approvers": [u.pk for u in approvers]},
        ),
        "verdict_form": VerdictForm(),
        "now": timezone.now(),
        "review_overdue": postmortem.review_held_at is None
        and postmortem.review_due_at is not None
        and postmortem.review_due_at < timezone.now(),
    }


def _masked_cause(cause: FishboneCause, reveal: bool) -> FishboneCause:
    if reveal:
        return cause
    masked = copy.copy(cause)
    masked.text = mask_text(cause.text)
    return masked


def _at(value):
    from django.utils.dateparse import parse_datetime

    try:
        return parse_datetime(value or "")
    except (TypeError, ValueError):
        return None


@org_view(Capability.VIEW_INCIDENTS)
def postmortem_detail(request, org_slug, key):
    postmortem = _postmortem(request, key)
    return render(request, "postmortems/document/detail.html", _detail_context(request, postmortem))


@org_view(Capability.UPDATE_INCIDENTS)
def postmortem_edit(request, org_slug, key):
    postmortem = _postmortem(request, key)
    initial = {field: getattr(postmortem, field) for field in services.SECTION_FIELDS}
    initial["owner"] = postmortem.owner_id
    form = SectionsForm(request.POST or None, initial=initial, organization=request.org)
    incident = postmortem.incident
    incident.reveal = unmask.request_reveal(request, incident)
    stored = {field: getattr(postmortem, field) for field in services.SECTION_FIELDS}
    locked = masking.lock_masked_fields(form, stored, reveal=incident.reveal)
    if postmortem.status not in services.EDITABLE_STATES:
        messages.error(
            request,
            "The post-mortem is in review: request changes first."
            if postmortem.status == PostMortem.Status.IN_REVIEW
            else "The post-mortem is published: start a revision to change it.",
        )
        return _back(postmortem)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.postmortem_update(
                postmortem=postmortem,
                actor=request.user,
                changes={
                    field: stored[field] if field in locked else data.get(field, "")
                    for field in services.SECTION_FIELDS
                },
                owner=data.get("owner"),
            )
        except (ValidationError, PermissionDenied) as error:
            if isinstance(error, ValidationError) and hasattr(error, "error_dict"):
                for field, errors in error.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                form.add_error(None, _error_text(error))
        else:
            messages.success(request, "Post-mortem saved.")
            return _back(postmortem)
    people = blameless.people_of(request.org)
    warnings = {
        field: blameless.check(getattr(postmortem, field), people=people)
        for field in blameless.SECTIONS
    }
    return render(
        request,
        "postmortems/document/edit.html",
        {
            "postmortem": postmortem,
            "incident": incident,
            "form": form,
            "impact": services.impact_of(postmortem.incident),
            "warnings": warnings,
        },
    )


# — timeline ——————————————————————————————————————————————————————————————————————————


@require_POST
@org_view(Capability.UPDATE_INCIDENTS)
def timeline_add(request, org_slug, key):
    postmortem = _postmortem(request, key)
    form = TimelineRowForm(request.POST)
    if not form.is_valid():
        return _invalid(request, postmortem, form, "timeline")
    return _run(
        request,
        postmortem,
        lambda: services.timeline_add(
            postmortem=postmortem,
            actor=request.user,
            at=form.cleaned_data["at"],
            text=form.cleaned_data["text"],
        ),
        "Timeline row added.",
        "timeline",
    )


@require_POST
@org_view(Capability.UPDATE_INCIDENTS)
def timeline_row(request, org_slug, key, index):
    postmortem = _postmortem(request, key)
    if request.POST.get("action") == "remove":
        return _run(
            request,
            postmortem,
            lambda: services.timeline_remove(
                postmortem=postmortem, actor=request.user, index=index
            ),
            "Timeline row removed.",
            "timeline",
        )
    form = TimelineRowForm(request.POST)
    if not form.is_valid():
        return _invalid(request, postmortem, form, "timeline")
    return _run(
        request,
        postmortem,
        lambda: services.timeline_edit(
            postmortem=postmortem,
            actor=request.user,
            index=index,
            at=form.cleaned_data["at"],
            text=form.cleaned_data["text"],
        ),
        "Timeline row saved.",
        "timeline",
    )


@require_POST
@org_view(Capability.UPDATE_INCIDENTS)
def timeline_reimport(request, org_slug, key):
    postmortem = _postmortem(request, key)
    return _run(
        request,
        postmortem,
        lambda: services.timeline_reimport(postmortem=postmortem, actor=request.user),
        "Timeline re-imported from the incident; rows you added are kept.",
        "timeline",
    )


# — 5 Whys and fishbone ———————————————————————————————————————————————————————————————


@require_POST
@org_view(Capability.UPDATE_INCIDENTS)
def why_add(request, org_slug, key):
    postmortem = _postmortem(request, key)
    form = WhyForm(request.POST)
    if not form.is_valid():
        return _invalid(request, postmortem, form, "whys")
    return _run(
        request,
        postmortem,
        lambda: services.why_add(postmortem=postmortem, actor=request.user, **form.cleaned_data),
        "Step added.",
        "whys",
    )


@require_POST
@org_view(Capability.UPDATE_INCIDENTS)
def why_step(request, org_slug, key, pk):
    postmortem = _postmortem(request, key)
    action = request.POST.get("action", "save")
    if action == "remove":
        call = lambda: services.why_remove(postmortem=postmortem, actor=request.user, step_id=pk)  # noqa: E731
    elif action in ("up", "down"):
        call = lambda: services.why_move(  # noqa: E731
            postmortem=postmortem, actor=request.user, step_id=pk, direction=action
        )
    elif action == "save":
        form = WhyForm(request.POST)
        if not form.is_valid():
            return _invalid(request, postmortem, form, "whys")
        call = lambda: services.why_edit(  # noqa: E731
            postmortem=postmortem, actor=request.user, step_id=pk, **form.cleaned_data
        )
    else:
        messages.error(request, "Unknown action.")
        return _back(postmortem, "whys")
    return _run(request, postmortem, call, "", "whys")


@require_POST
@org_view(Capability.UPDATE_INCIDENTS)
def cause_add(request, org_slug, key):
    postmortem = _postmortem(request, key)
    form = CauseForm(request.POST)
    if not form.is_valid():
        return _invalid(request, postmortem, form, "fishbone")
    return _run(
        request,
        postmortem,
        lambda: services.cause_add(postmortem=postmortem, actor=request.user, **form.cleaned_data),
        "Cause added.",
        "fishbone",
    )


@require_POST
@org_view(Capability.UPDATE_INCIDENTS)
def cause_remove(request, org_slug, key, pk):
    postmortem = _postmortem(request, key)
    return _run(
        request,
        postmortem,
        lambda: services.cause_remove(postmortem=postmortem, actor=request.user, cause_id=pk),
        "Cause removed.",
        "fishbone",
    )


# — tags, approvers ———————————————————————————————————————————————————————————————————


@require_POST
@org_view(Capability.UPDATE_INCIDENTS)
def tags_set(request, org_slug, key):
    postmortem = _postmortem(request, key)
    form = TagsForm(request.POST)
    if not form.is_valid():
        return _invalid(request, postmortem, form, "tags")
    return _run(
        request,
        postmortem,
        lambda: services.tags_set(
            postmortem=postmortem,
            actor=request.user,
            tags=form.cleaned_data["tags"],
            new_names=form.cleaned_data["new_tags"],
        ),
        "Tags saved.",
        "tags",
    )


@require_POST
@org_view(Capability.UPDATE_INCIDENTS)
def approvers_set(request, org_slug, key):
    postmortem = _postmortem(request, key)
    form = ApproversForm(request.POST, organization=request.org, owner_id=postmortem.owner_id)
    if not form.is_valid():
        return _invalid(request, postmortem, form, "review")
    return _run(
        request,
        postmortem,
        lambda: services.approvers_set(
            postmortem=postmortem, actor=request.user, users=form.cleaned_data["approvers"]
        ),
        "Approvers saved.",
        "review",
    )


# — the review ————————————————————————————————————————————————————————————————————————


@require_POST
@org_view(Capability.UPDATE_INCIDENTS)
def postmortem_transition(request, org_slug, key, name):
    postmortem = _postmortem(request, key)
    form = NoteForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    label = services.TRANSITIONS.get(name, name)
    return _run(
        request,
        postmortem,
        lambda: services.postmortem_transition(
            postmortem=postmortem, name=name, actor=request.user, note=note
        ),
        f"{label}: done.",
        "review",
    )


@require_POST
@org_view(Capability.VIEW_INCIDENTS)
def postmortem_verdict(request, org_slug, key):
    postmortem = _postmortem(request, key)
    form = VerdictForm(request.POST)
    if not form.is_valid():
        return _invalid(request, postmortem, form, "review")
    approve = form.cleaned_data["approve"]
    return _run(
        request,
        postmortem,
        lambda: services.postmortem_approve(
            postmortem=postmortem,
            actor=request.user,
            approve=approve,
            comment=form.cleaned_data["comment"],
        ),
        "Approved." if approve else "Changes requested; the post-mortem is back in draft.",
        "review",
    )


@require_POST
@org_view(Capability.UPDATE_INCIDENTS)
def review_held(request, org_slug, key):
    postmortem = _postmortem(request, key)
    return _run(
        request,
        postmortem,
        lambda: scheduling.review_held(postmortem=postmortem, actor=request.user),
        "Review meeting marked as held.",
    )
