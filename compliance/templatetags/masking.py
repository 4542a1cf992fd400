"""Masking in templates: `{{ text|mask:incident }}` and the reveal control for privileged
readers. The view sets `incident.reveal` (`compliance.unmask`); an unmarked incident masks."""

from django import template

from compliance import masking, unmask

register = template.Library()


@register.filter
def mask(text, subject=None):
    """`text` with personal data masked unless its `subject` — the incident (or any object)
    the view marked with `reveal = True` for this reader — is revealed. No subject, or one
    the view did not mark, masks: `{{ incident.title|mask:incident }}`, `{{ m.body|mask }}`."""
    reveal = subject is True or getattr(subject, "reveal", False) is True
    return masking.mask_text(text, reveal=reveal)


@register.inclusion_tag("compliance/_reveal.html", takes_context=True)
def reveal_control(context, incident):
    """For members who may view sensitive data: reveal `incident` (audited, for a while) or
    hide it again; nothing for everyone else."""
    request = context.get("request")
    membership = getattr(request, "membership", None)
    allowed = membership is not None and masking.may_see_sensitive(membership.role)
    active = (
        unmask.active_unmask(user=request.user, incident=incident)
        if allowed and incident is not None
        else None
    )
    return {
        "allowed": allowed,
        "active": active,
        "incident": incident,
        "org": context.get("org"),
        "next": request.get_full_path() if request is not None else "",
        "minutes": int(unmask.WINDOW.total_seconds() // 60),
        "csrf_token": context.get("csrf_token"),
    }
