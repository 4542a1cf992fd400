"""Housekeeping for sessions."""

from importlib import import_module

from celery import shared_task
from django.conf import settings


@shared_task
def clear_expired_sessions_task() -> str:
    """Delete expired sessions (and with them their index rows), like `manage.py
    clearsessions`; idempotent, so a repeated or late run does no harm."""
    engine = import_module(settings.SESSION_ENGINE)
    engine.SessionStore.clear_expired()
    return "cleared"
