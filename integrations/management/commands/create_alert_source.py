"""python manage.py create_alert_source --org acme --kind alertmanager --name prod [--secret-in-url]

Prints, as its last two lines, the webhook URL and the secret (shown only this once)."""

import secrets

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from integrations.models import SOURCE_KINDS, AlertSource
from taxonomy.models import Service
from tenancy.audit import audit_context
from tenancy.models import Organization
from tenancy.scoping import org_scope


class Command(BaseCommand):
    help = "Create an alert source and print its webhook URL and secret."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True)
        parser.add_argument("--kind", required=True, choices=[k for k, _ in SOURCE_KINDS])
        parser.add_argument("--name", required=True)
        parser.add_argument("--service", help="Default service for incidents it opens.")
        parser.add_argument(
            "--secret-in-url",
            action="store_true",
            help="Put the secret in the URL, for senders that cannot set headers.",
        )
        parser.add_argument(
            "--hmac",
            action="store_true",
            help="Also require an X-Vigil-Signature (prints the HMAC secret).",
        )

    def handle(self, *args, **options):
        org = Organization.objects.filter(slug=options["org"]).first()
        if org is None:
            raise CommandError(f"No organisation with the slug “{options['org']}”.")
        with org_scope(org), audit_context(origin="command:create_alert_source"):
            if AlertSource.objects.filter(organization=org, name=options["name"]).exists():
                raise CommandError(f"{org.slug} already has a source named “{options['name']}”.")
            service = None
            if options["service"]:
                service = Service.objects.filter(
                    organization=org, name__iexact=options["service"]
                ).first()
                if service is None:
                    raise CommandError(f"No service “{options['service']}” in {org.slug}.")
            secret = secrets.token_urlsafe(32)
            source = AlertSource(
                organization=org,
                name=options["name"],
                kind=options["kind"],
                secret_in_url=options["secret_in_url"],
                default_service=service,
            )
            source.set_secret(secret)
            hmac_secret = secrets.token_hex(32) if options["hmac"] else ""
            source.hmac_secret = hmac_secret
            source.save()
        if options["secret_in_url"]:
            path = reverse("hook_secret_in_url", args=[source.public_id, secret])
        else:
            path = reverse("hook", args=[source.public_id])
        self.stdout.write(
            f"Created {source.get_kind_display()} source “{source.name}” in {org.slug}."
        )
        self.stdout.write(
            "Send with the header 'Authorization: Bearer <secret>'"
            + (" or use the URL as it is." if options["secret_in_url"] else ".")
        )
        if hmac_secret:
            self.stdout.write(f"hmac secret: {hmac_secret}")
        self.stdout.write(f"url: {settings.SITE_URL}{path}")
        self.stdout.write(f"secret: {secret}")
