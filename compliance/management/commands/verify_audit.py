"""`manage.py verify_audit --org <slug>`: recompute an organisation's audit hash chain
(`--global`: the chain of entries without an organisation)."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from compliance.audit_chain import verify, verify_and_record
from tenancy.audit import audit_context
from tenancy.models import Organization


class Command(BaseCommand):
    help = (
        "Recompute an organisation's audit hash chain and name the first broken link. "
        "Exit status 0 when the chain is intact, 1 when it is broken."
    )

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--org", help="the organisation's slug")
        which.add_argument(
            "--global",
            action="store_true",
            dest="global_chain",
            help="the chain of entries without an organisation (changes to users)",
        )

    def handle(self, *args, org: str | None, global_chain: bool, **options):
        if global_chain:
            name, result = "global", verify(None)
        else:
            organization = Organization.objects.filter(slug=org).first()
            if organization is None:
                raise CommandError(f"No organisation with the slug {org!r}.")
            with audit_context(origin="command:verify_audit"):
                result = verify_and_record(organization, origin="command:verify_audit")
            name = organization.slug
        if result.ok:
            self.stdout.write(
                f"{name}: audit chain intact — {result.count} entries verified "
                f"in {result.seconds:.2f} s; head hash {result.head_hash or '(empty chain)'}"
            )
            return
        broken = result.broken
        when = timezone.localtime(broken.timestamp).isoformat(timespec="seconds")
        raise CommandError(
            f"{name}: audit chain BROKEN at entry #{broken.entry_id} ({when}), "
            f"{broken.kind}: {broken.detail}. {result.count} entries checked.",
            returncode=1,
        )
