"""The notifications bell in the header, and how deliveries name their target."""

from urllib.parse import urlsplit

from django import template

from incidents import notify

register = template.Library()


@register.inclusion_tag("incidents/notifications/_bell.html", takes_context=True)
def notification_bell(context) -> dict:
    """The bell with the signed-in person's unread count in the current organisation: one
    indexed count query, and nothing at all outside an organisation."""
    request = context.get("request")
    org = getattr(request, "org", None)
    user = getattr(request, "user", None)
    if org is None or user is None or not user.is_authenticated:
        return {"org": None}
    return {"org": org, "unread": notify.unread_count(organization=org, user=user)}


@register.filter
def delivery_target(delivery) -> str:
    """An e-mail address as it is; a webhook URL by its host and the last characters of its
    path only (the path of an incoming-webhook URL is its secret)."""
    if delivery.channel != "chat":
        return delivery.target
    return masked_url(delivery.target)


@register.filter
def masked_url(url: str) -> str:
    parts = urlsplit(url)
    tail = parts.path.rstrip("/")[-4:]
    return f"{parts.scheme}://{parts.netloc}/…{tail}" if parts.netloc else "…"
