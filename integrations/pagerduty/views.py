"""The organisation's PagerDuty pages under /o/<org_slug>/integrations/pagerduty/: list (with
the hook URL each webhook subscription posts to and the latest events), create, edit, delete.
Every page needs manage_integrations. Secrets are never shown, only how they are stored."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from integrations.pagerduty import services
from integrations.pagerduty.forms import PagerDutyServiceForm
from integrations.pagerduty.models import PagerDutyEvent, PagerDutyService
from integrations.pagerduty.secrets import describe
from tenancy.access import org_view
from tenancy.roles import Capability

manage_integrations = org_view(Capability.MANAGE_INTEGRATIONS)


def _list_url(request) -> str:
    return reverse("integrations:pagerduty_list", kwargs={"org_slug": request.org.slug})


def hook_url(service: PagerDutyService) -> str:
    return (
        f"{settings.SITE_URL}{reverse('pagerduty_hook', kwargs={'public_id': service.public_id})}"
    )


@manage_integrations
def service_list(request, org_slug):
    services_ = list(PagerDutyService.objects.all())
    for service in services_:
        service.hook_url = hook_url(service)
        service.routing_key_stored = describe(service.routing_key)
        service.webhook_secret_stored = describe(service.webhook_secret)
    events = PagerDutyEvent.objects.select_related("service", "incident")[:20]
    return render(
        request,
        "integrations/pagerduty_list.html",
        {"services": services_, "events": events},
    )


def _page(request, service: PagerDutyService | None):
    editing = service is not None
    initial = {"name": service.name, "is_enabled": service.is_enabled} if editing else None
    form = PagerDutyServiceForm(
        request.POST if request.method == "POST" else None, initial=initial, editing=editing
    )
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.pagerduty_service_save(
                organization=request.org,
                actor=request.membership,
                service=service,
                **form.cleaned_data,
            )
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, f"PagerDuty service “{saved.name}” saved.")
            return redirect(_list_url(request))
    heading = f"PagerDuty service {service.name}" if editing else "New PagerDuty service"
    context = {"form": form, "service": service, "heading": heading}
    if editing:
        context["hook_url"] = hook_url(service)
    return render(request, "integrations/pagerduty_form.html", context)


@manage_integrations
def service_create(request, org_slug):
    return _page(request, None)


@manage_integrations
def service_update(request, org_slug, pk):
    return _page(request, get_object_or_404(PagerDutyService, pk=pk))


@require_POST
@manage_integrations
def service_delete(request, org_slug, pk):
    service = get_object_or_404(PagerDutyService, pk=pk)
    try:
        services.pagerduty_service_delete(
            organization=request.org, actor=request.membership, service=service
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"PagerDuty service “{service.name}” deleted.")
    return redirect(_list_url(request))
