"""The Celery application. Tasks live in each app's tasks.py and are discovered here."""

import os

from celery import Celery
from celery.signals import setup_logging

from config.logging import connect_celery_signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("vigil")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def use_django_logging(**kwargs):
    """Workers log with Django's LOGGING (the JSON lines of docs/logging.md), not Celery's own
    format; every task's lines carry its name and id."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


connect_celery_signals()
