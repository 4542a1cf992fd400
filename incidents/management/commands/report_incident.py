"""python manage.py report_incident --org acme --title "…" [--severity SEV-2] …

The command-line way to declare an incident; it goes through the same service as the form."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from incidents import services
from incidents.models import Incident
from taxonomy.models import Category, Service, SeverityLevel
from tenancy.audit import audit_context
from tenancy.models import Organization, Team, User
from tenancy.scoping import org_scope


class Command(BaseCommand):
    help = "Declare an incident from the command line (same rules as the web form)."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="Organisation slug, e.g. acme.")
        parser.add_argument("--title", required=True)
        parser.add_argument("--description", default="")
        parser.add_argument(
            "--severity",
            help="Severity name, e.g. SEV-2 (default: the rules or the weakest level).",
        )
        parser.add_argument("--category", help="Category name.")
        parser.add_argument("--service", help="Primary service name.")
        parser.add_argument("--team", help="Owning team name (default: the service's owner).")
        parser.add_argument("--commander", help="Commander's e-mail address.")
        parser.add_argument(
            "--reporter",
            help="Reporter's e-mail address (must be a member "
            "who may create incidents; default: Vigil itself).",
        )
        parser.add_argument("--kind", default="real", choices=Incident.Kind.values)
        parser.add_argument("--restricted", action="store_true")

    def _named(self, model, org, name, what):
        if not name:
            return None
        row = model.objects.filter(organization=org, name__iexact=name).first()
        if row is None:
            names = ", ".join(model.objects.filter(organization=org).values_list("name", flat=True))
            raise CommandError(f"No {what} “{name}” in {org.slug}. Known: {names or 'none'}.")
        return row

    def _user(self, email, what):
        if not email:
            return None
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            raise CommandError(f"No user with the e-mail address {email} ({what}).")
        return user

    def handle(self, *args, **options):
        org = Organization.objects.filter(slug=options["org"]).first()
        if org is None:
            raise CommandError(f"No organisation with the slug “{options['org']}”.")
        reporter = self._user(options["reporter"], "reporter")
        with org_scope(org), audit_context(actor=reporter, origin="command:report_incident"):
            try:
                incident = services.incident_create(
                    organization=org,
                    actor=reporter,
                    title=options["title"],
                    description=options["description"],
                    severity=self._named(SeverityLevel, org, options["severity"], "severity"),
                    category=self._named(Category, org, options["category"], "category"),
                    primary_service=self._named(Service, org, options["service"], "service"),
                    owning_team=self._named(Team, org, options["team"], "team"),
                    commander=self._user(options["commander"], "commander"),
                    source=Incident.Source.CLI,
                    kind=options["kind"],
                    is_restricted=options["restricted"],
                )
            except ValidationError as error:
                raise CommandError("; ".join(error.messages)) from None
            except PermissionDenied as error:
                raise CommandError(str(error)) from None
            self.stdout.write(f"{incident.key} declared: {incident.title} ({incident.severity})")
