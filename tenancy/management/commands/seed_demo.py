"""python manage.py seed_demo — idempotent demo data for a local Vigil."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from tenancy.audit import audit_context
from tenancy.demo import DEMO_PASSWORD, SEEDERS, USERS, seed_people
from tenancy.scoping import org_scope


class Command(BaseCommand):
    help = "Create the demo organisations (acme, globex), users, teams and sample data."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even though DEBUG is off (never in production).",
        )

    def handle(self, *args, force: bool = False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo creates users with a published password; DEBUG is off, so it "
                "refuses. Pass --force if this really is a throw-away installation."
            )
        with audit_context(origin="command:seed_demo"), transaction.atomic():
            orgs = seed_people()
            for org in orgs.values():
                with org_scope(org):
                    for seeder in SEEDERS:
                        seeder.run(org)
        self.stdout.write(self.style.SUCCESS("Demo data is in place."))
        self.stdout.write(f"Sign in with any of these, password {DEMO_PASSWORD}:")
        for email, _, roles in USERS:
            described = ", ".join(f"{role} in {slug}" for slug, role in roles.items())
            self.stdout.write(f"  {email:<24} {described}")
        from accounts.demo import DEMO_TOTP_SECRET  # the app above tenancy that owns sign-in

        self.stdout.write(
            "Roles that require two-factor (VIGIL_2FA_REQUIRED_ROLES) then ask for a code: add "
            f"the secret {DEMO_TOTP_SECRET} to an authenticator app, or run "
            "`python manage.py demo_totp_code`."
        )
