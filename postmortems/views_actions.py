"""Action-item pages: the org-wide list (filters, CSV), "my action items", the remediation
completion rate, one item (view and edit), and the add / status endpoints behind the panel on
the post-mortem page. Thin: parse, call a selector or a service, render."""

import csv

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Case, F, Value, When
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from compliance import masking, unmask
from postmortems import actions
from postmortems.filters_actions import ActionItemFilterSet
from postmortems.forms_actions import ActionItemForm, StatusForm
from postmortems.models import ActionItem, PostMortem
from tenancy.access import org_view
from tenancy.roles import Capability, can

PAGE_SIZE = 50
MINE_PAGE_SIZE = 25
UNDATED_SHOWN = 50
PANEL_TEMPLATE = "postmortems/partials/action_items_panel.html"


def _errors_text(error: ValidationError) -> str:
    return " ".join(error.messages)


def _form_errors(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for name, errors in error.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, error)


def _may_update(request) -> bool:
    return can(request.membership.role, Capability.UPDATE_INCIDENTS)


def _next(request, fallback: str) -> str:
    """Where to go after a change: a path inside this organisation, never elsewhere."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if (
        target
        and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})
        and target.startswith(f"/o/{request.org.slug}/")
    ):
        return target
    return fallback


def _list_url(request) -> str:
    return reverse("postmortems:action_item_list", kwargs={"org_slug": request.org.slug})


def _visible(request, today=None):
    return actions.action_item_list(
        organization=request.org,
        user=request.user,
        membership=request.membership,
        today=today,
    )


def _item(request, pk: int) -> ActionItem:
    item = _visible(request).select_related("postmortem").filter(pk=pk).first()
    if item is None:
        raise Http404("No such action item.")
    return item


def _postmortem(request, pk: int) -> PostMortem:
    postmortem = actions.postmortem_get(organization=request.org, user=request.user, pk=pk)
    if postmortem is None:
        raise Http404("No such post-mortem.")
    return postmortem


# — the panel on the post-mortem page ————————————————————————————————————————————————


def panel_context(request, postmortem: PostMortem, *, form=None, error: str = "") -> dict:
    """What the action-items panel shows: the items, an add form, status buttons."""
    today = actions.local_today(request.org)
    items = list(
        actions.action_item_list(
            organization=request.org,
            user=request.user,
            membership=request.membership,
            today=today,
        )
        .filter(postmortem=postmortem)
        .annotate(
            is_finished=Case(
                When(status__in=actions.FINISHED, then=Value(True)), default=Value(False)
            )
        )
        .order_by("is_finished", F("due_date").asc(nulls_last=True), "pk")
    )
    may_update = _may_update(request)
    incident = postmortem.incident
    incident.reveal = unmask.request_reveal(request, incident)
    return {
        "postmortem": postmortem,
        "incident": incident,
        "items": items,
        "may_update": may_update,
        "form": form
        if form is not None
        else (ActionItemForm(organization=request.org) if may_update else None),
        "error": error,
        "statuses": ActionItem.Status.choices,
        "today": today,
        "next": request.get_full_path(),
        "request": request,
        "org": request.org,
        "user": request.user,
    }


def _panel_response(request, postmortem: PostMortem, **kwargs) -> HttpResponse:
    context = panel_context(request, postmortem, **kwargs)
    context["next"] = _next(request, context["next"])
    return HttpResponse(render_to_string(PANEL_TEMPLATE, context, request=request))


@org_view(Capability.UPDATE_INCIDENTS)
def action_item_create(request, org_slug, postmortem_pk):
    """Add an action item to a post-mortem: a plain form page, or the panel's add form."""
    postmortem = _postmortem(request, postmortem_pk)
    form = ActionItemForm(request.POST or None, organization=request.org)
    if request.method == "POST" and form.is_valid():
        try:
            item = actions.action_item_create(
                postmortem=postmortem, actor=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            _form_errors(form, error)
        else:
            if request.htmx:
                return _panel_response(request, postmortem)
            messages.success(request, f"Action item “{masking.mask_text(item.title)}” added.")
            return redirect(_next(request, actions.item_path(item)))
    if request.htmx:
        return _panel_response(request, postmortem, form=form)
    return render(
        request,
        "postmortems/actions/item_form.html",
        {"form": form, "postmortem": postmortem, "next": _next(request, "")},
    )


@require_POST
@org_view(Capability.VIEW_INCIDENTS)
def action_item_status(request, org_slug, pk):
    """Move an item to another status (the quick buttons). The service decides who may."""
    item = _item(request, pk)
    form = StatusForm(request.POST)
    error = ""
    if not form.is_valid():
        error = "Choose open, in progress, done or won't do."
    else:
        try:
            item = actions.action_item_set_status(
                item=item, actor=request.user, status=form.cleaned_data["status"]
            )
        except ValidationError as problem:
            error = _errors_text(problem)
    if request.htmx and request.POST.get("panel"):
        return _panel_response(request, item.postmortem, error=error)
    if error:
        messages.error(request, error)
    else:
        title = masking.mask_text(item.title)
        messages.success(request, f"“{title}” is now {item.get_status_display().lower()}.")
    return redirect(_next(request, actions.item_path(item)))


# — one item ———————————————————————————————————————————————————————————————————————————


@org_view(Capability.VIEW_INCIDENTS)
def action_item_detail(request, org_slug, pk):
    """One item: its facts, its status buttons and (for people who may) the edit form."""
    item = _item(request, pk)
    may_update = _may_update(request)
    incident = item.postmortem.incident
    incident.reveal = unmask.request_reveal(request, incident)
    form = None
    locked = []
    if may_update:
        form = ActionItemForm(
            request.POST or None,
            organization=request.org,
            initial=ActionItemForm.initial_for(item),
        )
        stored = {"title": item.title, "description": item.description}
        locked = masking.lock_masked_fields(form, stored, reveal=incident.reveal)
    if request.method == "POST":
        if form is None:
            raise PermissionDenied("Your role may not change action items.")
        if form.is_valid():
            changes = {**form.cleaned_data, **{name: getattr(item, name) for name in locked}}
            try:
                item = actions.action_item_update(item=item, actor=request.user, changes=changes)
            except ValidationError as error:
                _form_errors(form, error)
            else:
                messages.success(request, "Saved.")
                return redirect(actions.item_path(item))
    return render(
        request,
        "postmortems/actions/item_detail.html",
        {
            "item": item,
            "incident": incident,
            "form": form,
            "may_update": may_update,
            "may_set_status": may_update or item.owner_id == request.user.pk,
            "statuses": ActionItem.Status.choices,
        },
    )


# — lists ——————————————————————————————————————————————————————————————————————————————


def _filtered(request):
    filterset = ActionItemFilterSet(request.GET, queryset=_visible(request), request=request)
    items = filterset.qs if filterset.is_valid() else filterset.queryset.none()
    return filterset, items.order_by(*ActionItem._meta.ordering)


@org_view(Capability.VIEW_INCIDENTS)
def action_item_list(request, org_slug):
    """Every visible action item of the organisation, filtered, a page at a time."""
    filterset, items = _filtered(request)
    page = Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    fields = filterset.form.visible_fields()
    more_fields = [f for f in fields if f.name not in ActionItemFilterSet.MAIN]
    return render(
        request,
        "postmortems/actions/item_list.html",
        {
            "filter": filterset,
            "main_fields": [f for f in fields if f.name in ActionItemFilterSet.MAIN],
            "more_fields": more_fields,
            "more_active": sum(1 for f in more_fields if request.GET.get(f.name)),
            "page": page,
            "query": query.urlencode(),
            "filtered": any(v for k, v in request.GET.items() if k != "page"),
        },
    )


CSV_COLUMNS = [
    "id",
    "incident",
    "post-mortem",
    "title",
    "status",
    "overdue",
    "owner",
    "team",
    "due date",
    "priority",
    "kind",
    "ticket key",
    "ticket url",
    "created at",
    "completed at",
]


def _csv_safe(value) -> str:
    """Stop spreadsheet formula injection: a cell starting with = + - @ is quoted."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@org_view(Capability.VIEW_INCIDENTS)
def action_item_export(request, org_slug):
    """The filtered list as CSV: the same scoping, visibility and filters as the page."""
    _filterset, items = _filtered(request)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = (
        f'attachment; filename="{request.org.slug}-action-items-{stamp}.csv"'
    )
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)

    def when(value):
        return timezone.localtime(value).isoformat(timespec="seconds") if value else ""

    for item in items.select_related("postmortem__incident").iterator(chunk_size=1000):
        row = [
            item.pk,
            item.postmortem.incident.key,
            item.postmortem.title,
            item.title,
            item.get_status_display(),
            "yes" if item.is_overdue else "no",
            item.owner.email if item.owner else "",
            item.team or "",
            item.due_date.isoformat() if item.due_date else "",
            item.get_priority_display(),
            item.get_kind_display(),
            item.ticket_key,
            item.ticket_url,
            when(item.created_at),
            when(item.completed_at),
        ]
        writer.writerow([_csv_safe(v) for v in row])
    return response


@org_view(Capability.VIEW_INCIDENTS)
def action_item_mine(request, org_slug):
    """The signed-in person's items: open ones first, overdue highlighted."""
    items = actions.my_action_items(
        organization=request.org, user=request.user, membership=request.membership
    )
    page = Paginator(items, MINE_PAGE_SIZE).get_page(request.GET.get("page"))
    open_count = items.filter(status__in=actions.OPEN).count()
    overdue_count = items.filter(is_overdue=True).count()
    return render(
        request,
        "postmortems/actions/mine.html",
        {
            "page": page,
            "query": "",
            "open_count": open_count,
            "overdue_count": overdue_count,
            "statuses": ActionItem.Status.choices,
        },
    )


@org_view(Capability.VIEW_INCIDENTS)
def completion_rate(request, org_slug):
    """Remediation completion rate per team and period (month or quarter)."""
    today = actions.local_today(request.org)
    granularity = request.GET.get("by") or "month"
    error = ""
    try:
        period = actions.Period.parse(granularity, request.GET.get("period"), today)
    except ValidationError as problem:
        error = _errors_text(problem)
        granularity = granularity if granularity in actions.GRANULARITIES else "month"
        period = actions.Period.containing(granularity, today)
    items = _visible(request, today)
    report = actions.completion_report(
        items, organization=request.org, period=period, trend=6, today=today
    )
    undated = list(
        items.filter(due_date__isnull=True, status__in=actions.OPEN).order_by("team__name", "pk")[
            :UNDATED_SHOWN
        ]
    )
    rows = [
        {"row": row, "tally": row.tally(period), "trend": [row.tally(p) for p in report["periods"]]}
        for row in report["rows"]
    ]
    total = report["total"]
    return render(
        request,
        "postmortems/actions/completion.html",
        {
            **report,
            "rows": rows,
            "total_tally": total.tally(period),
            "total_trend": [total.tally(p) for p in report["periods"]],
            "total": total,
            "granularity": granularity,
            "granularities": actions.GRANULARITIES,
            "previous": period.shift(-1),
            "next_period": period.shift(1),
            "is_current": period.start <= today < period.end,
            "today": today,
            "undated": undated,
            "error": error,
            "list_url": _list_url(request),
        },
    )
