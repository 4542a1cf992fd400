"""Reads every API view shares: the incident a key names, as the browser resolves it (404 when
the reader may not see it, restricted incidents included), with `reveal` — whether this
reader sees masked fields unmasked (compliance.unmask; see docs/masking.md)."""

from django.http import Http404
from rest_framework.exceptions import NotFound

from compliance import unmask
from incidents import selectors
from incidents.models import Incident


def visible_incident(request, key: str) -> Incident:
    django_request = request._request
    try:
        incident = selectors.incident_get(
            organization=django_request.org,
            user=django_request.user,
            membership=django_request.membership,
            key=key,
        )
    except Http404 as error:
        raise NotFound(f"No incident {key}.") from error
    incident.reveal = unmask.request_reveal(django_request, incident)
    return incident
