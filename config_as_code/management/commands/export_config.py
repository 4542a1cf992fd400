"""python manage.py export_config --org acme > acme.yaml

Writes the organisation's configuration (taxonomy, teams without members, severity criteria,
escalation paths, SLA policies and the business calendar, custom fields, correlation rules,
maintenance windows, compliance frameworks and obligations) as YAML, by natural keys, in a
stable order. No secrets: alert sources are named, never exported."""

from django.core.management.base import BaseCommand, CommandError

from config_as_code.document import dump, export_document
from tenancy.models import Organization


class Command(BaseCommand):
    help = "Write an organisation's configuration as YAML (see docs/config-as-code.md)."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="The organisation's slug.")
        parser.add_argument("--output", help="Write to this file instead of standard output.")

    def handle(self, *args, **options):
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"No organisation with the slug “{options['org']}”.", returncode=2)
        text = dump(export_document(organization))
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8") as file:
                file.write(text)
        else:
            self.stdout.write(text, ending="")
