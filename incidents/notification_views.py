"""Notification pages: the inbox (and the bell that points to it), personal preferences, and for
org admins the deliveries that failed or wait for a retry, and the chat webhooks. Thin: parse,
call incidents.notify, render."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from incidents import notify
from incidents.models import ChatWebhook, Delivery, Notification
from incidents.notification_forms import ChatWebhookForm, PreferenceForm
from tenancy.access import org_view
from tenancy.roles import Capability, can

PAGE_SIZE = 25
manage_organization = org_view(Capability.MANAGE_ORGANIZATION)


def _url(request, name: str, **kwargs) -> str:
    return reverse(f"notifications:{name}", kwargs={"org_slug": request.org.slug, **kwargs})


def _add_errors(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


def _context(request, **extra) -> dict:
    """What every notifications page shows in its section links."""
    return {"may_manage": can(request.membership.role, Capability.MANAGE_ORGANIZATION), **extra}


def _page(request, queryset):
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


# — inbox ————————————————————————————————————————————————————————————————————————————


@org_view()
def inbox(request, org_slug):
    unread_only = request.GET.get("show") == "unread"
    notifications = notify.notification_list(organization=request.org, user=request.user)
    if unread_only:
        notifications = notifications.filter(read_at__isnull=True)
    unread = notify.unread_count(organization=request.org, user=request.user)
    return render(
        request,
        "incidents/notifications/inbox.html",
        _context(
            request,
            page=_page(request, notifications),
            unread=unread,
            unread_only=unread_only,
            query="show=unread" if unread_only else "",
        ),
    )


@org_view()
def notification_bell(request, org_slug):
    """The bell alone, for the header to refresh itself."""
    return render(
        request,
        "incidents/notifications/_bell.html",
        {
            "org": request.org,
            "unread": notify.unread_count(organization=request.org, user=request.user),
        },
    )


def _back_to_inbox(request):
    target = request.POST.get("next", "")
    inbox_url = _url(request, "inbox")
    if target.startswith(inbox_url) and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(inbox_url)


@org_view()
@require_POST
def notification_mark_read(request, org_slug):
    """Mark the ticked notifications read (`ids`), or all of them (`all`). Only ever the
    signed-in person's own."""
    if request.POST.get("all"):
        changed = notify.mark_read(organization=request.org, user=request.user)
    else:
        ids = [int(value) for value in request.POST.getlist("ids") if value.isdigit()]
        changed = notify.mark_read(organization=request.org, user=request.user, ids=ids)
    if changed:
        messages.success(
            request, f"Marked {changed} notification{'s' if changed != 1 else ''} read."
        )
    return _back_to_inbox(request)


@org_view()
def notification_open(request, org_slug, pk):
    """Follow a notification's link, marking it read on the way."""
    notification = get_object_or_404(
        Notification, organization=request.org, recipient=request.user, pk=pk
    )
    notify.mark_read(organization=request.org, user=request.user, ids=[notification.pk])
    if notification.url and url_has_allowed_host_and_scheme(
        notification.url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(notification.url)
    return redirect(_url(request, "inbox"))


# — preferences ——————————————————————————————————————————————————————————————————————


@org_view()
def preference_update(request, org_slug):
    current = notify.preference_get(organization=request.org, user=request.user)
    initial = {
        "email": current.email,
        "chat": current.chat,
        "quiet_start": current.quiet_start,
        "quiet_end": current.quiet_end,
        "timezone": current.timezone,
    }
    form = PreferenceForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        organization=request.org,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            notify.preference_save(
                organization=request.org,
                user=request.user,
                email=data["email"],
                chat=data["chat"],
                quiet_start=data["quiet_start"],
                quiet_end=data["quiet_end"],
                timezone_name=data["timezone"],
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, "Your notification preferences are saved.")
            return redirect(_url(request, "preference_update"))
    return render(request, "incidents/notifications/preferences.html", _context(request, form=form))


# — deliveries (admins) ———————————————————————————————————————————————————————————————


@manage_organization
def delivery_list(request, org_slug):
    status = request.GET.get("status")
    if status not in (Delivery.Status.FAILED, Delivery.Status.PENDING):
        status = None
    deliveries = notify.delivery_list(organization=request.org, status=status)
    return render(
        request,
        "incidents/notifications/deliveries.html",
        _context(
            request,
            page=_page(request, deliveries),
            status=status,
            query=f"status={status}" if status else "",
        ),
    )


@manage_organization
@require_POST
def delivery_retry(request, org_slug, pk):
    delivery = get_object_or_404(Delivery, organization=request.org, pk=pk)
    try:
        notify.delivery_retry(organization=request.org, actor=request.user, delivery=delivery)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Retrying the delivery to {delivery.get_channel_display()} now.")
    return redirect(_url(request, "delivery_list"))


# — chat webhooks (admins) ————————————————————————————————————————————————————————————


def _save_webhook(request, form, webhook: ChatWebhook | None) -> bool:
    if not form.is_valid():
        return False
    try:
        notify.chat_webhook_save(
            organization=request.org, actor=request.user, webhook=webhook, **form.cleaned_data
        )
    except ValidationError as error:
        _add_errors(form, error)
        return False
    return True


@manage_organization
def chat_webhook_list(request, org_slug):
    """The org's chat webhooks, and the form that adds one."""
    form = ChatWebhookForm(
        request.POST if request.method == "POST" else None, organization=request.org
    )
    if request.method == "POST" and _save_webhook(request, form, None):
        messages.success(request, f"Added the chat webhook “{form.cleaned_data['name']}”.")
        return redirect(_url(request, "chat_webhook_list"))
    webhooks = ChatWebhook.objects.filter(organization=request.org).order_by("-is_active", "name")
    return render(
        request,
        "incidents/notifications/chat_webhooks.html",
        _context(request, webhooks=webhooks, form=form),
    )


@manage_organization
def chat_webhook_update(request, org_slug, pk):
    webhook = get_object_or_404(ChatWebhook, organization=request.org, pk=pk)
    form = ChatWebhookForm(
        request.POST if request.method == "POST" else None,
        initial={
            "name": webhook.name,
            "url": webhook.url,
            "min_severity_level": webhook.min_severity_level,
            "is_active": webhook.is_active,
        },
        organization=request.org,
    )
    if request.method == "POST" and _save_webhook(request, form, webhook):
        messages.success(request, f"Saved the chat webhook “{webhook.name}”.")
        return redirect(_url(request, "chat_webhook_list"))
    return render(
        request,
        "incidents/notifications/chat_webhook_form.html",
        _context(request, webhook=webhook, form=form),
    )


@manage_organization
@require_POST
def chat_webhook_set_active(request, org_slug, pk):
    webhook = get_object_or_404(ChatWebhook, organization=request.org, pk=pk)
    is_active = request.POST.get("is_active") == "1"
    notify.chat_webhook_set_active(
        organization=request.org, actor=request.user, webhook=webhook, is_active=is_active
    )
    state = "active again" if is_active else "deactivated: it gets no more messages"
    messages.success(request, f"“{webhook.name}” is {state}.")
    return redirect(_url(request, "chat_webhook_list"))


@manage_organization
@require_POST
def chat_webhook_test(request, org_slug, pk):
    webhook = get_object_or_404(ChatWebhook, organization=request.org, pk=pk)
    notify.chat_webhook_send_test(organization=request.org, actor=request.user, webhook=webhook)
    messages.success(
        request,
        f"A test message to “{webhook.name}” is on its way. If it does not arrive, it shows up "
        "under Deliveries with the error.",
    )
    return redirect(_url(request, "chat_webhook_list"))
