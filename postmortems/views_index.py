"""The post-mortems index: every post-mortem the reader may see, by status, with its review
deadline and open action items — where "which reviews are late?" is answered."""

from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import render
from django.utils import timezone

from compliance import unmask
from incidents import selectors
from postmortems.models import ActionItem, PostMortem
from tenancy.access import org_view
from tenancy.roles import Capability

PAGE_SIZE = 25
SHOWS = {
    "": "All",
    "open": "Not published yet",
    "overdue": "Review overdue",
    "mine": "Mine",
    **dict(PostMortem.Status.choices),
}


@org_view(Capability.VIEW_INCIDENTS)
def postmortem_list(request, org_slug):
    now = timezone.now()
    show = request.GET.get("show", "")
    if show not in SHOWS:
        show = ""
    visible = selectors.incident_list(
        organization=request.org, user=request.user, membership=request.membership
    )
    rows = (
        PostMortem.objects.filter(organization=request.org, incident__in=visible)
        .select_related("incident", "incident__severity", "owner")
        .annotate(
            open_items=Count(
                "action_items",
                filter=Q(
                    action_items__status__in=[
                        ActionItem.Status.OPEN,
                        ActionItem.Status.IN_PROGRESS,
                    ]
                ),
            )
        )
        .order_by("-created_at", "-pk")
    )
    if show == "open":
        rows = rows.exclude(status=PostMortem.Status.PUBLISHED)
    elif show == "overdue":
        rows = rows.filter(review_held_at__isnull=True, review_due_at__lt=now)
    elif show == "mine":
        rows = rows.filter(owner=request.user)
    elif show:
        rows = rows.filter(status=show)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    revealed = unmask.request_revealed_ids(request, [pm.incident for pm in page.object_list])
    for pm in page.object_list:
        pm.incident.reveal = pm.incident_id in revealed
    return render(
        request,
        "postmortems/index.html",
        {
            "page": page,
            "show": show,
            "shows": SHOWS,
            "show_label": SHOWS[show],
            "now": now,
            "query": f"show={show}" if show else "",
        },
    )
