"""python manage.py import_config --org staging [--file acme.yaml | < acme.yaml]
                                 [--apply --actor admin@staging.example] [--delete]

Dry run by default: validates the file and prints what would change. --apply writes it all in
one transaction (through the apps' services, audited as the actor) or nothing. Exit codes:
0 done or nothing to do, 1 the file or a write was refused (nothing changed), 2 usage."""

import sys

from django.core.management.base import BaseCommand, CommandError

from config_as_code.document import MalformedFile, load, validate
from config_as_code.plan import ApplyError, apply, build_plan, render
from tenancy.audit import audit_context
from tenancy.models import Membership, Organization
from tenancy.scoping import org_scope

# A configuration is a few hundred objects; a file far larger is a mistake, not a setup.
MAX_FILE_CHARACTERS = 5_000_000


class Command(BaseCommand):
    help = "Compare a configuration file with an organisation, and with --apply, import it."
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="The organisation's slug.")
        parser.add_argument("--file", help="Read this file instead of standard input.")
        parser.add_argument("--apply", action="store_true", help="Write the changes.")
        parser.add_argument(
            "--actor", help="E-mail of the member the changes are made as (needed with --apply)."
        )
        parser.add_argument(
            "--delete",
            action="store_true",
            help="Delete objects of the families in the file that the file does not list.",
        )

    def handle(self, *args, **options):
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"No organisation with the slug “{options['org']}”.", returncode=2)
        actor = None
        if options["apply"]:
            if not options["actor"]:
                raise CommandError("--apply needs --actor <e-mail of a member>.", returncode=2)
            with org_scope(organization):
                actor = (
                    Membership.objects.select_related("user")
                    .filter(user__email__iexact=options["actor"])
                    .first()
                )
            if actor is None:
                raise CommandError(
                    f"{options['actor']} is not a member of {organization.slug}.", returncode=2
                )
        text = self._read(options)
        if len(text) > MAX_FILE_CHARACTERS:
            raise CommandError(
                f"The file is too large ({len(text):,} characters; at most "
                f"{MAX_FILE_CHARACTERS:,}). Nothing changed.",
                returncode=1,
            )
        try:
            data = load(text)
        except MalformedFile as error:
            raise CommandError(f"Malformed YAML: {error}. Nothing changed.", returncode=1) from None
        document, errors = validate(data, organization)
        if errors:
            for error in errors:
                self.stderr.write(error)
            raise CommandError(
                f"The file is invalid ({len(errors)} error(s)). Nothing changed.", returncode=1
            )
        plan = build_plan(organization, document, delete=options["delete"])
        for line in render(plan):
            self.stdout.write(line)
        if not options["apply"]:
            if plan.writes:
                self.stdout.write("Dry run: nothing written. Run again with --apply to write.")
            return
        if not plan.writes:
            return
        try:
            with audit_context(actor=actor.user, origin="command:import_config"):
                count = apply(organization, plan, actor=actor)
        except ApplyError as error:
            raise CommandError(f"{error} Nothing changed.", returncode=1) from None
        self.stdout.write(f"Applied {count} change(s) to {organization.slug}.")

    def _read(self, options) -> str:
        if options["file"]:
            try:
                with open(options["file"], encoding="utf-8") as file:
                    return file.read()
            except OSError as error:
                raise CommandError(
                    f"Cannot read {options['file']}: {error}", returncode=2
                ) from None
            except UnicodeDecodeError:
                raise CommandError(f"{options['file']} is not UTF-8 text.", returncode=1) from None
        stream = options.get("stdin") or sys.stdin
        return stream.read()
