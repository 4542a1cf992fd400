"""Knowledge-base pages: search over published post-mortems, tags, and the Markdown and PDF
exports of one post-mortem. Thin: parse, call a selector, render."""

from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import render

from compliance import masking, unmask
from compliance.masking import mask_text
from incidents.selectors import incident_get
from postmortems import export, search
from postmortems.models import PostMortem, Tag
from postmortems.similar import postmortem_url
from tenancy.access import org_view
from tenancy.roles import Capability

PAGE_SIZE = 20


def _visible(request):
    return search.visible_postmortems(
        organization=request.org, user=request.user, membership=request.membership
    )


@org_view(Capability.VIEW_INCIDENTS)
def kb_search(request, org_slug):
    """`/postmortems/search/?q=…`: published post-mortems, best match first, with highlighted
    snippets; filters by service, category, severity, incident date and tag."""
    filterset = search.PostMortemSearchFilterSet(
        request.GET or None, queryset=_visible(request), request=request
    )
    valid = filterset.is_bound and filterset.is_valid()
    text = filterset.form.cleaned_data.get("q", "") if valid else ""
    asked = text
    text = masking.searchable(text, role=request.membership.role)  # no search oracle for PII
    if filterset.is_bound and not valid or (asked.strip() and not text):
        results = PostMortem.objects.none()
    else:
        results = search.postmortem_search(filterset.qs if valid else _visible(request), text)
    results = results.select_related(
        "incident", "incident__severity", "incident__category", "incident__primary_service"
    ).prefetch_related("tags")
    page = Paginator(results, PAGE_SIZE).get_page(request.GET.get("page"))
    revealed = unmask.request_revealed_ids(request, [pm.incident for pm in page.object_list])
    for postmortem in page.object_list:
        reveal = postmortem.incident_id in revealed
        postmortem.incident.reveal = reveal
        postmortem.url = postmortem_url(org_slug, postmortem.incident.key)
        postmortem.title_html = (
            search.highlight_title(postmortem.title, postmortem.title_headline, reveal=reveal)
            if text
            else mask_text(postmortem.title, reveal=reveal)
        )
        postmortem.snippet_html = (
            search.highlight(postmortem.snippet, reveal=reveal) if text else ""
        )
        postmortem.summary = mask_text(postmortem.summary, reveal=reveal)
    params = request.GET.copy()
    params.pop("page", None)
    filtered = valid and any(
        filterset.form.cleaned_data.get(name) not in (None, "") for name in filterset.form.fields
    )
    return render(
        request,
        "postmortems/kb/search.html",
        {
            "filter": filterset,
            "page": page,
            "q": text,
            "query": params.urlencode(),
            "filtered": filtered or (filterset.is_bound and not valid),
        },
    )


@org_view(Capability.VIEW_INCIDENTS)
def kb_tags(request, org_slug):
    """`/postmortems/tags/`: every tag with how many published post-mortems (that this reader
    may see) carry it; each links to the search filtered by it."""
    visible = _visible(request).values("pk")
    tags = Tag.objects.filter(organization=request.org).annotate(
        published=Count("postmortems", filter=Q(postmortems__in=visible), distinct=True)
    )
    tags = sorted(tags, key=lambda t: (-t.published, t.name.lower()))
    return render(request, "postmortems/kb/tags.html", {"tags": tags})


def _postmortem(request, key: str) -> PostMortem:
    """The post-mortem of incident `key`, if the reader may see the incident (else 404)."""
    incident = incident_get(
        organization=request.org, user=request.user, membership=request.membership, key=key
    )
    postmortem = PostMortem.objects.filter(incident=incident).select_related("owner").first()
    if postmortem is None:
        raise Http404("This incident has no post-mortem.")
    return postmortem


def _attachment(content, content_type: str, name: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@org_view(Capability.VIEW_INCIDENTS)
def export_markdown(request, org_slug, key):
    """The post-mortem as a Markdown file."""
    postmortem = _postmortem(request, key)
    reveal = unmask.request_reveal(request, postmortem.incident)
    data = export.gather(postmortem, organization=request.org, reveal=reveal)
    return _attachment(
        export.render_markdown(data).encode(),
        "text/markdown; charset=utf-8",
        export.filename(data, "md"),
    )


@org_view(Capability.VIEW_INCIDENTS)
def export_pdf(request, org_slug, key):
    """The post-mortem as a PDF (WeasyPrint; the fishbone inline; DejaVu fonts only)."""
    postmortem = _postmortem(request, key)
    reveal = unmask.request_reveal(request, postmortem.incident)
    data = export.gather(postmortem, organization=request.org, reveal=reveal)
    return _attachment(export.render_pdf(data), "application/pdf", export.filename(data, "pdf"))
