"""The public status page, its Atom feed and the subscription links: no login.

Every page renders only fields of the status page's own public models (components, published
messages); nothing reaches the templates from incidents, people or subscribers. An
organisation whose page is off, and one that does not exist, both answer 404."""

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.template.defaultfilters import linebreaksbr
from django.urls import reverse
from django.utils import feedgenerator, timezone
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_http_methods

from compliance.masking import mask_text
from incidents.statuspage import selectors, services
from incidents.statuspage.forms import SubscribeForm
from incidents.statuspage.models import ComponentState, StatusPageSettings
from tenancy.models import Organization
from tenancy.scoping import org_scope

PAGE_SIZE = 10
FEED_SIZE = 30
WORST_FIRST = [
    ComponentState.MAJOR_OUTAGE,
    ComponentState.PARTIAL_OUTAGE,
    ComponentState.DEGRADED,
    ComponentState.MAINTENANCE,
    ComponentState.OPERATIONAL,
]
OVERALL = {
    ComponentState.MAJOR_OUTAGE: "Major outage",
    ComponentState.PARTIAL_OUTAGE: "Partial outage",
    ComponentState.DEGRADED: "Degraded performance",
    ComponentState.MAINTENANCE: "Maintenance in progress",
    ComponentState.OPERATIONAL: "All systems operational",
}


def _public_org(org_slug: str) -> tuple[Organization, StatusPageSettings]:
    organization = Organization.objects.filter(slug=org_slug).first()
    if organization is None:
        raise Http404("No such status page.")
    with org_scope(organization):
        page = StatusPageSettings.objects.filter(organization=organization, is_public=True).first()
    if page is None:
        raise Http404("No such status page.")
    return organization, page


def _base(organization, page) -> dict:
    return {
        "page_title": services.page_title(organization, page),
        "introduction": page.introduction,
        "org_slug": organization.slug,
        "tz_name": organization.timezone,
    }


@login_not_required
@require_http_methods(["GET", "HEAD"])
def status_page(request, org_slug):
    organization, page = _public_org(org_slug)
    with org_scope(organization), timezone.override(organization.tzinfo):
        components = list(selectors.component_list(organization=organization))
        states = {component.state for component in components}
        overall = next(
            (state for state in WORST_FIRST if state in states), ComponentState.OPERATIONAL
        )
        paginator = Paginator(selectors.published_messages(organization=organization), PAGE_SIZE)
        messages_page = paginator.get_page(request.GET.get("page"))
        messages_page.object_list = list(messages_page.object_list)
        context = {
            **_base(organization, page),
            "components": components,
            "overall": overall,
            "overall_text": OVERALL[overall],
            "page": messages_page,
            "affected": selectors.affected_by_message(messages_page.object_list),
            "form": SubscribeForm(),
            "feed_path": reverse("status_public:feed", kwargs={"org_slug": org_slug}),
        }
        return render(request, "statuspage/public/page.html", context)


@login_not_required
@require_http_methods(["GET", "HEAD"])
@cache_control(public=True, max_age=60)
def status_feed(request, org_slug):
    """The published messages as an Atom feed (RFC 4287)."""
    organization, page = _public_org(org_slug)
    page_url = services.public_url(organization)
    title = services.page_title(organization, page)
    feed = feedgenerator.Atom1Feed(
        title=title,
        link=page_url,
        description=page.introduction or title,
        feed_url=request.build_absolute_uri(),
        language="en",
        feed_guid=page_url,
    )
    with org_scope(organization):
        messages_ = list(selectors.published_messages(organization=organization)[:FEED_SIZE])
        affected = selectors.affected_by_message(messages_)
        for message in messages_:
            lines = [f"Status: {message.get_status_display()}"]
            lines += [
                f"{item.component.name}: {item.get_state_display()}"
                for item in affected.get(message.pk, [])
            ]
            lines += ["", mask_text(message.body)]
            feed.add_item(
                title=f"{message.get_status_display()}: {mask_text(message.title)}",
                link=f"{page_url}#message-{message.pk}",
                # Atom's summary is typed HTML: the plain text goes in escaped.
                description=linebreaksbr("\n".join(lines), autoescape=True),
                unique_id=f"{page_url}#message-{message.pk}",
                unique_id_is_permalink=False,
                pubdate=message.published_at,
                updateddate=message.published_at,
                categories=[message.status],
            )
    response = HttpResponse(content_type="application/atom+xml; charset=utf-8")
    feed.write(response, "utf-8")
    return response


@login_not_required
@require_http_methods(["POST"])
def subscribe(request, org_slug):
    organization, page = _public_org(org_slug)
    form = SubscribeForm(request.POST)
    context = _base(organization, page)
    if form.is_valid() and form.cleaned_data["website"]:
        # The honeypot was filled in: answer like a success and send nothing.
        return render(request, "statuspage/public/subscribe_done.html", context)
    if form.is_valid():
        try:
            services.subscriber_request(organization=organization, email=form.cleaned_data["email"])
        except ValidationError as error:
            form.add_error("email", error.message_dict.get("email", error.messages))
        except PermissionDenied as error:
            raise Http404("No such status page.") from error
        else:
            return render(request, "statuspage/public/subscribe_done.html", context)
    return render(
        request, "statuspage/public/subscribe_form.html", {**context, "form": form}, status=400
    )


def _token_page(request, organization, page, *, salt, max_age=None, action, template):
    context = _base(organization, page)
    token = request.resolver_match.kwargs["token"]
    try:
        services.subscriber_from_token(organization, token, salt=salt, max_age=max_age)
    except services.TokenProblem as problem:
        return render(
            request,
            "statuspage/public/token_invalid.html",
            {**context, "reason": problem.reason},
            status=410 if problem.expired else 400,
        )
    if request.method == "POST":
        return action(context, token)
    return render(request, template, context)


@login_not_required
@require_http_methods(["GET", "HEAD", "POST"])
def confirm(request, org_slug, token):
    """GET shows a button (mail scanners follow links; they do not press buttons); POST
    confirms. The link works once."""
    organization, page = _public_org(org_slug)

    def act(context, token):
        _, confirmed_now = services.subscriber_confirm(organization=organization, token=token)
        return render(
            request,
            "statuspage/public/confirmed.html",
            {**context, "confirmed_now": confirmed_now},
        )

    return _token_page(
        request,
        organization,
        page,
        salt=services.CONFIRM_SALT,
        max_age=services.CONFIRM_MAX_AGE,
        action=act,
        template="statuspage/public/confirm.html",
    )


@login_not_required
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request, org_slug, token):
    organization, page = _public_org(org_slug)

    def act(context, token):
        services.subscriber_unsubscribe(organization=organization, token=token)
        return render(request, "statuspage/public/unsubscribed.html", context)

    return _token_page(
        request,
        organization,
        page,
        salt=services.UNSUBSCRIBE_SALT,
        action=act,
        template="statuspage/public/unsubscribe.html",
    )
