"""Helpers for the knowledge-base, similar-incidents and export tests: post-mortems written
straight into the tables (the document services are another part's), published with
`.update(status=...)` because the FSM field is protected."""

from django.utils import timezone
from django.utils.text import slugify
from django_scopes import scopes_disabled

from incidents.lifecycle import Status
from incidents.models import Incident
from postmortems.models import ActionItem, FishboneCause, PostMortem, Tag, WhyStep
from postmortems.search import refresh_search_vector
from tests.incidents.factories import declare


def resolved_incident(organization, actor, title: str, status=Status.RESOLVED, **kwargs):
    """An incident declared through the service, then marked resolved (or `status`)."""
    incident = declare(organization, actor, title=title, **kwargs)
    now = timezone.now()
    with scopes_disabled():
        Incident.objects.filter(pk=incident.pk).update(
            status=status, resolved_at=now, closed_at=now if status == Status.CLOSED else None
        )
        return Incident.objects.get(pk=incident.pk)


def postmortem(
    incident,
    *,
    title: str | None = None,
    status: str = PostMortem.Status.PUBLISHED,
    whys=(),
    causes=(),
    tags=(),
    actions=(),
    **sections,
) -> PostMortem:
    """A post-mortem of `incident` with its whys [(why, because)], fishbone causes
    [(category, text)], tags [name] and action items [dict], in `status`; its search vector
    refreshed like the publishing service does."""
    org_id = incident.organization_id
    with scopes_disabled():
        pm = PostMortem.objects.create(
            organization_id=org_id,
            incident=incident,
            title=title or incident.title,
            **sections,
        )
        for position, (why, because) in enumerate(whys, start=1):
            WhyStep.objects.create(
                organization_id=org_id, postmortem=pm, position=position, why=why, because=because
            )
        for position, (category, text) in enumerate(causes):
            FishboneCause.objects.create(
                organization_id=org_id,
                postmortem=pm,
                category=category,
                text=text,
                position=position,
            )
        for name in tags:
            tag, _ = Tag.objects.get_or_create(
                organization_id=org_id, slug=slugify(name), defaults={"name": name}
            )
            pm.tags.add(tag)
        for item in actions:
            ActionItem.objects.create(organization_id=org_id, postmortem=pm, **item)
        PostMortem.objects.filter(pk=pm.pk).update(
            status=status,
            published_at=timezone.now() if status == PostMortem.Status.PUBLISHED else None,
        )
        refresh_search_vector(pm)
        return PostMortem.objects.get(pk=pm.pk)
