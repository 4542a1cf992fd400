"""The one place that says what each role may do. Every check goes through `can()`."""

from enum import StrEnum

from django.db import models


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    RESPONDER = "responder", "Responder"
    MANAGER = "manager", "Manager"
    COMPLIANCE = "compliance", "Compliance"
    ADMIN = "admin", "Admin"


class Capability(StrEnum):
    VIEW_INCIDENTS = "view_incidents"
    CREATE_INCIDENTS = "create_incidents"
    UPDATE_INCIDENTS = "update_incidents"
    TRANSITION_INCIDENTS = "transition_incidents"
    COMMENT_INCIDENTS = "comment_incidents"
    VIEW_ALERTS = "view_alerts"
    MANAGE_INTEGRATIONS = "manage_integrations"
    VIEW_DASHBOARDS = "view_dashboards"
    MANAGE_REPORTS = "manage_reports"
    VIEW_SENSITIVE = "view_sensitive"
    VIEW_AUDIT_TRAIL = "view_audit_trail"
    EXPORT_COMPLIANCE = "export_compliance"
    MANAGE_COMPLIANCE = "manage_compliance"
    MANAGE_TAXONOMY = "manage_taxonomy"
    MANAGE_MEMBERS = "manage_members"
    MANAGE_TEAMS = "manage_teams"
    MANAGE_ORGANIZATION = "manage_organization"


_READ = {Capability.VIEW_INCIDENTS, Capability.VIEW_ALERTS}
_RESPOND = _READ | {
    Capability.CREATE_INCIDENTS,
    Capability.UPDATE_INCIDENTS,
    Capability.TRANSITION_INCIDENTS,
    Capability.COMMENT_INCIDENTS,
}

CAPABILITIES: dict[str, frozenset[Capability]] = {
    Role.VIEWER: frozenset(_READ),
    Role.RESPONDER: frozenset(_RESPOND),
    Role.MANAGER: frozenset(_RESPOND | {Capability.VIEW_DASHBOARDS, Capability.MANAGE_REPORTS}),
    Role.COMPLIANCE: frozenset(
        _READ
        | {
            Capability.VIEW_DASHBOARDS,
            Capability.VIEW_SENSITIVE,
            Capability.VIEW_AUDIT_TRAIL,
            Capability.EXPORT_COMPLIANCE,
            Capability.MANAGE_COMPLIANCE,
        }
    ),
    Role.ADMIN: frozenset(Capability),
}


def can(role: str | None, capability: Capability | str) -> bool:
    """Whether a membership role holds a capability. Unknown roles hold nothing."""
    if role is None:
        return False
    return Capability(capability) in CAPABILITIES.get(role, frozenset())


def capabilities_of(role: str | None) -> frozenset[Capability]:
    return CAPABILITIES.get(role, frozenset()) if role else frozenset()
