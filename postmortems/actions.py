"""Action items: services, the reminder sweep and the remediation completion rate (issue 7's
action-items part)."""


def sweep_action_items(*, now=None, limit: int = 200) -> int:
    """Remind owners before the due date and when overdue, once each. Returns how many."""
    return 0
