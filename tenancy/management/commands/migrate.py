"""`migrate`, always as the tables' owner (settings.DATABASE_OWNER): the application's own role
may read and write rows but must not own the tables, or row-level security would not bind it."""

from django.core.management.commands import migrate

from tenancy.rls import as_owner


class Command(migrate.Command):
    def handle(self, *args, **options):
        with as_owner(options["database"]):
            return super().handle(*args, **options)
