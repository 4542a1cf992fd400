"""python manage.py export_org <slug> [--output FILE] — every record of one organisation as
JSON (tenancy/export.py), written as it is read; standard output without --output."""

import sys
import time

from django.core.management.base import BaseCommand, CommandError
from django_scopes import scopes_disabled

from tenancy import export
from tenancy.audit import audit_context
from tenancy.models import Organization


class Command(BaseCommand):
    help = "Export all of one organisation's records as JSON (secrets redacted)."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="The organisation's slug.")
        parser.add_argument("--output", "-o", help="File to write (default: standard output).")

    def handle(self, *args, slug: str, output: str | None = None, **options):
        with scopes_disabled():
            organization = Organization.objects.filter(slug=slug).first()
        if organization is None:
            raise CommandError(f"No organisation with the slug {slug!r}.")
        began = time.monotonic()
        with audit_context(origin="command:export_org"):
            export.record(organization, actor=None, origin="command")
        if output in (None, "-"):
            written = export.write(organization, sys.stdout)
            return
        with open(output, "w", encoding="utf-8") as out:
            written = export.write(organization, out)
        self.stderr.write(
            f"Exported {organization.slug} to {output}: {written:,} characters in "
            f"{time.monotonic() - began:.1f} s."
        )
