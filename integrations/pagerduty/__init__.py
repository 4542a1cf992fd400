"""PagerDuty as a paging channel: escalation steps that page a PagerDuty service through the
Events API v2 (`trigger` with dedup_key = the incident key, `resolve` when the incident ends),
and acknowledgements made in PagerDuty coming back through its v3 webhook.

models.py (the service integration, the event deliveries), secrets.py (sealed secrets),
events.py (outbound), webhooks.py (inbound), services.py (configuration writes), forms.py,
views.py and urls.py (the organisation's PagerDuty pages)."""
