"""`{% action_items_panel postmortem %}`: the action items on the post-mortem page."""

from django import template

register = template.Library()


@register.inclusion_tag("postmortems/partials/action_items_panel.html", takes_context=True)
def action_items_panel(context, postmortem):
    """The post-mortem page's action items (list, add, status)."""
    from postmortems.views_actions import panel_context

    return panel_context(context["request"], postmortem)
