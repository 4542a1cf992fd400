"""The organisation's ticketing pages under /o/<org>/integrations/ticketing/: list, create,
detail (settings and the call log), edit, enable/disable, rotate the webhook secret, delete.
All need manage_integrations (others: 403; another organisation: 404). A secret appears only
in the answer to the POST that made it; a stored credential is never rendered."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from integrations.ticketing import services
from integrations.ticketing.forms import TicketIntegrationForm
from integrations.ticketing.models import TicketCall, TicketIntegration, TicketLink
from tenancy.access import org_view
from tenancy.roles import Capability

manage = org_view(Capability.MANAGE_INTEGRATIONS)


def _url(request, name: str, **kwargs) -> str:
    return reverse(f"ticketing:{name}", kwargs={"org_slug": request.org.slug, **kwargs})


def _add_errors(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


def _secret_page(request, integration, secret: str, heading: str):
    hook = settings.SITE_URL + reverse("ticketing_hook", args=[integration.public_id])
    context = {
        "integration": integration,
        "secret": secret,
        "heading": heading,
        "hook_url": hook,
        "hook_url_with_secret": f"{hook}?secret={secret}",
    }
    response = render(request, "ticketing/secret.html", context)
    response["Cache-Control"] = "no-store"
    return response


@manage
def integration_list(request, org_slug):
    integrations = TicketIntegration.objects.filter(organization=request.org)
    return render(request, "ticketing/list.html", {"integrations": integrations})


@manage
def integration_create(request, org_slug):
    form = TicketIntegrationForm(
        request.POST if request.method == "POST" else None, organization=request.org
    )
    if request.method == "POST" and form.is_valid():
        try:
            integration, secret = services.integration_create(
                organization=request.org, actor=request.membership, **form.cleaned_data
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            return _secret_page(request, integration, secret, f"{integration.name} is set up")
    return render(request, "ticketing/form.html", {"form": form, "heading": "New tracker"})


@manage
def integration_detail(request, org_slug, pk):
    integration = get_object_or_404(TicketIntegration, pk=pk)
    context = {
        "integration": integration,
        "calls": TicketCall.objects.filter(integration=integration).select_related("incident")[:50],
        "links": TicketLink.objects.filter(integration=integration).select_related("incident")[:20],
        "hook_url": settings.SITE_URL + reverse("ticketing_hook", args=[integration.public_id]),
    }
    return render(request, "ticketing/detail.html", context)


@manage
def integration_update(request, org_slug, pk):
    integration = get_object_or_404(TicketIntegration, pk=pk)
    form = TicketIntegrationForm(
        request.POST if request.method == "POST" else None,
        organization=request.org,
        editing=True,
        initial=TicketIntegrationForm.initial_for(integration),
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.integration_update(
                organization=request.org,
                actor=request.membership,
                integration=integration,
                **form.cleaned_data,
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, f"Saved {integration.name}.")
            return redirect(_url(request, "integration_detail", pk=integration.pk))
    context = {"form": form, "integration": integration, "heading": f"Edit {integration.name}"}
    return render(request, "ticketing/form.html", context)


@manage
@require_POST
def integration_toggle(request, org_slug, pk):
    integration = get_object_or_404(TicketIntegration, pk=pk)
    enabled = request.POST.get("enabled") == "1"
    services.integration_set_enabled(
        organization=request.org,
        actor=request.membership,
        integration=integration,
        enabled=enabled,
    )
    messages.success(request, f"{integration.name} {'enabled' if enabled else 'disabled'}.")
    return redirect(_url(request, "integration_detail", pk=integration.pk))


@manage
@require_POST
def integration_rotate(request, org_slug, pk):
    integration = get_object_or_404(TicketIntegration, pk=pk)
    integration, secret = services.integration_rotate_secret(
        organization=request.org, actor=request.membership, integration=integration
    )
    return _secret_page(request, integration, secret, f"New webhook secret for {integration.name}")


@manage
@require_POST
def integration_delete(request, org_slug, pk):
    integration = get_object_or_404(TicketIntegration, pk=pk)
    name = integration.name
    services.integration_delete(
        organization=request.org, actor=request.membership, integration=integration
    )
    messages.success(request, f"Deleted {name}. Its tickets stay in the tracker.")
    return redirect(_url(request, "integration_list"))
