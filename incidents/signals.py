"""Signals the incident services send after commit, so higher apps (SLA timers, integrations,
notifications) can react without incidents importing them."""

from django.dispatch import Signal

# sender=Incident, organization_id, incident_id, transition, previous, target, actor_id
incident_transitioned = Signal()
# sender=Incident, organization_id, incident_id, actor_id
incident_created = Signal()
# sender=Incident, organization_id, incident_id, fields (list of names), actor_id
incident_changed = Signal()
# Something every channel of the incident must carry (a status update, a pinned decision, a
# handoff): sent after commit by the coordination services; the channel providers listen.
# sender=Incident, organization_id, incident_id, text, kind (str), actor_id
incident_broadcast = Signal()
