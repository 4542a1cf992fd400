"""The base for every Celery task that works on one organisation's data."""

import contextvars

import celery
from django_scopes import scope

from tenancy.audit import audit_context


class OrgTask(celery.Task):
    """Runs the task inside its organisation's scope, in a fresh context, so a scope can
    neither be missing nor leak into the next task of the same worker process. The first
    positional argument is always the organisation id (an int, never None)."""

    def __call__(self, org_id, *args, **kwargs):
        if not isinstance(org_id, int) or isinstance(org_id, bool):
            raise TypeError(f"{self.name}: org_id must be an int, got {org_id!r}")

        def run():
            with scope(organization=org_id), audit_context(origin=f"task:{self.name}"):
                return super(OrgTask, self).__call__(org_id, *args, **kwargs)

        return contextvars.Context().run(run)
