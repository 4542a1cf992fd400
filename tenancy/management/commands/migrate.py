"""`migrate`, always as the tables' owner (settings.DATABASE_OWNER): the application's own role
may read and write rows but must not own the tables, or row-level security would not bind it."""

from django.conf import settings
from django.core.management.commands import migrate
from django.db import connections


class Command(migrate.Command):
    def handle(self, *args, **options):
        connection = connections[options["database"]]
        saved = {key: connection.settings_dict.get(key) for key in settings.DATABASE_OWNER}
        connection.close()
        connection.settings_dict.update(settings.DATABASE_OWNER)
        try:
            return super().handle(*args, **options)
        finally:
            connection.close()
            connection.settings_dict.update(saved)
