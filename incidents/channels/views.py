"""Channel pages: an incident's war room (page, polling fragment, post), "retry now" and
"open channels" on the incident panel, and the organisation's channel settings. Thin: parse,
call a selector or a service, render."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import trigger_client_event

from compliance import unmask
from incidents import selectors as incident_selectors
from incidents.channels import selectors, services
from incidents.channels.forms import ChannelSettingsForm, WarRoomMessageForm
from incidents.channels.models import IncidentChannel
from tenancy.access import org_view
from tenancy.roles import Capability, can

POLL_SECONDS = 3


def _incident(request, key):
    """The incident if this person may see it, else 404 (restricted and missing look alike),
    with `reveal`: whether this reader sees its personal data unmasked (compliance.unmask)."""
    incident = incident_selectors.incident_get(
        organization=request.org, user=request.user, membership=request.membership, key=key
    )
    incident.reveal = unmask.request_reveal(request, incident)
    return incident


def _war_room_url(incident) -> str:
    return reverse(
        "incident_channels:war_room",
        kwargs={"org_slug": incident.organization.slug, "key": incident.key},
    )


def _back(incident):
    return redirect(
        "incidents:incident_detail", org_slug=incident.organization.slug, key=incident.key
    )


def _int_param(request, name: str) -> int | None:
    value = request.GET.get(name, "")
    if value == "":
        return None
    if not value.isdigit() or len(value) > 12:
        raise ValueError(name)
    return int(value)


def _errors_text(error: Exception) -> str:
    return " ".join(error.messages) if isinstance(error, ValidationError) else str(error)


# — war room ——————————————————————————————————————————————————————————————————————————


def _war_room_context(request, incident, *, form=None, before=None) -> dict:
    rows, has_earlier = selectors.war_room_latest(incident=incident, before=before)
    last_id = rows[-1].pk if rows else 0
    if before is not None:  # an older page is not live; poll from the newest message
        newest = selectors.war_room_latest(incident=incident, limit=1)[0]
        last_id = newest[-1].pk if newest else 0
    return {
        "incident": incident,
        "war_room_messages": rows,
        "has_earlier": has_earlier,
        "earliest_id": rows[0].pk if rows else None,
        "is_older_page": before is not None,
        "last_id": last_id,
        "poll_seconds": POLL_SECONDS,
        "form": form or WarRoomMessageForm(),
        "may_post": can(request.membership.role, Capability.COMMENT_INCIDENTS),
    }


@org_view(Capability.VIEW_INCIDENTS)
def war_room(request, org_slug, key):
    incident = _incident(request, key)
    if incident.key != key:
        return redirect(_war_room_url(incident))
    try:
        before = _int_param(request, "before")
    except ValueError:
        return HttpResponseBadRequest("“before” must be a message number.")
    return render(
        request,
        "incident_channels/war_room.html",
        _war_room_context(request, incident, before=before),
    )


@org_view(Capability.VIEW_INCIDENTS)
def war_room_messages(request, org_slug, key):
    """The polling fragment: messages after `after`, then the poller again."""
    incident = _incident(request, key)
    try:
        after = _int_param(request, "after") or 0
    except ValueError:
        return HttpResponseBadRequest("“after” must be a message number.")
    rows = selectors.war_room_after(incident=incident, after=after)
    return render(
        request,
        "incident_channels/war_room.html#poll-result",
        {
            "incident": incident,
            "war_room_messages": rows,
            "last_id": rows[-1].pk if rows else after,
            "poll_seconds": POLL_SECONDS,
        },
    )


@require_POST
@org_view(Capability.COMMENT_INCIDENTS)
def war_room_post(request, org_slug, key):
    incident = _incident(request, key)
    form = WarRoomMessageForm(request.POST)
    if form.is_valid():
        try:
            services.war_room_post(
                incident=incident, actor=request.user, text=form.cleaned_data["text"]
            )
        except ValidationError as error:
            form.add_error("text" if hasattr(error, "error_dict") else None, error.messages)
        else:
            if request.htmx:
                response = render(
                    request,
                    "incident_channels/war_room.html#post-form",
                    {"incident": incident, "form": WarRoomMessageForm(), "may_post": True},
                )
                return trigger_client_event(response, "war-room-changed")
            return redirect(_war_room_url(incident) + "#war-room-form")
    if request.htmx:
        return render(
            request,
            "incident_channels/war_room.html#post-form",
            {"incident": incident, "form": form, "may_post": True},
        )
    return render(
        request, "incident_channels/war_room.html", _war_room_context(request, incident, form=form)
    )


# — the incident panel's buttons ————————————————————————————————————————————————————————


@require_POST
@org_view(Capability.UPDATE_INCIDENTS)
def channel_retry(request, org_slug, key, pk):
    incident = _incident(request, key)
    channel = get_object_or_404(IncidentChannel, incident=incident, pk=pk)
    try:
        channel = services.channel_retry(channel=channel, actor=request.user)
    except (ValidationError, PermissionDenied) as error:
        messages.error(request, _errors_text(error))
    else:
        if channel.status == IncidentChannel.Status.READY:
            messages.success(request, f"The {channel.get_provider_display()} channel is ready.")
        else:
            messages.success(
                request, f"Trying the {channel.get_provider_display()} channel again now."
            )
    return _back(incident)


@require_POST
@org_view(Capability.UPDATE_INCIDENTS)
def channels_open(request, org_slug, key):
    incident = _incident(request, key)
    try:
        opened = services.channels_open(incident=incident, actor=request.user)
    except (ValidationError, PermissionDenied) as error:
        messages.error(request, _errors_text(error))
    else:
        if opened:
            names = ", ".join(channel.get_provider_display() for channel in opened)
            messages.success(request, f"Opened: {names}.")
        else:
            messages.info(request, "The channel settings give this incident no further channels.")
    return _back(incident)


# — settings ——————————————————————————————————————————————————————————————————————————

manage = org_view(Capability.MANAGE_INTEGRATIONS)


def _settings_url(request) -> str:
    return reverse("channel_settings:settings", kwargs={"org_slug": request.org.slug})


@manage
def channel_settings(request, org_slug):
    current = services.settings_get(organization=request.org)
    initial = {
        "war_room_level": current.war_room_level,
        "slack_level": current.slack_level,
        "bridge_level": current.bridge_level,
        "slack_base_url": current.slack_base_url,
        "slack_channel_prefix": current.slack_channel_prefix,
        "slack_invitees": current.slack_invitees.replace(",", ", "),
        "bridge_url_pattern": current.bridge_url_pattern,
        "bridge_phone_pattern": current.bridge_phone_pattern,
    }
    form = ChannelSettingsForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        organization=request.org,
        has_token=current.has_slack_token,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.settings_save(
                organization=request.org,
                actor=request.user,
                slack_token=data["slack_token"] or None,
                remove_slack_token=data["remove_slack_token"],
                **{name: data[name] for name in services.SETTINGS_FIELDS},
            )
        except ValidationError as error:
            if hasattr(error, "error_dict"):
                for field, errors in error.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                form.add_error(None, error.messages)
        else:
            messages.success(request, "Channel settings saved.")
            return redirect(_settings_url(request))
    return render(
        request,
        "incident_channels/settings.html",
        {"form": form, "current": current},
    )


@require_POST
@manage
def slack_test(request, org_slug):
    try:
        settings = services.slack_test_connection(organization=request.org, actor=request.user)
    except ValidationError as error:
        messages.error(request, _errors_text(error))
    else:
        messages.success(
            request,
            f"Slack answered: connected to the workspace “{settings.slack_team_name}” "
            f"({settings.slack_team_id}).",
        )
    return redirect(_settings_url(request))
