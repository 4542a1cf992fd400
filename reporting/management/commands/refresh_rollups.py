"""Build or rebuild the daily KPI roll-ups now (Celery beat does it every minute):

    manage.py refresh_rollups [--org SLUG] [--limit DAYS]

Builds the days that changed since they were built and the days never built, most recent
first, a month per transaction; prints how many days per organisation and how long it took."""

import time

from django.core.management.base import BaseCommand, CommandError

from reporting import rollups
from tenancy.models import Organization


class Command(BaseCommand):
    help = "Build the daily KPI roll-ups of days that changed or were never built."

    def add_arguments(self, parser):
        parser.add_argument("--org", help="only this organisation (its slug)")
        parser.add_argument(
            "--limit", type=int, default=100_000, help="at most this many days per organisation"
        )

    def handle(self, *args, org=None, limit=100_000, **options):
        if limit < 1:
            raise CommandError("--limit must be at least 1.")
        organizations = Organization.objects.order_by("pk")
        if org:
            organizations = organizations.filter(slug=org)
            if not organizations.exists():
                raise CommandError(f"No organisation with the slug {org!r}.")
        for organization in organizations:
            started = time.perf_counter()
            days = rollups.refresh(organization, limit=limit)
            self.stdout.write(
                f"{organization.slug}: {days} day{'' if days == 1 else 's'} built in "
                f"{time.perf_counter() - started:.1f} s"
            )
