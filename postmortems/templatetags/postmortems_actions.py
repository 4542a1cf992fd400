from django import template

register = template.Library()


@register.inclusion_tag("postmortems/partials/action_items_panel.html", takes_context=True)
def action_items_panel(context, postmortem):
    """The post-mortem page's action items (list, add, status)."""
    return {"postmortem": postmortem, "request": context.get("request")}
