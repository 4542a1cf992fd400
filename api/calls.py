"""Helpers the resource endpoints share (api/timeline.py, alerts.py, postmortems.py, kpis.py):
calling a domain service and turning its Django errors into the API's JSON errors, masking, and
newest-first cursors."""

import contextlib

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions

from api.pagination import Cursor
from compliance.masking import mask_text


@contextlib.contextmanager
def service_errors():
    """Run a service: its `ValidationError` becomes a 400 naming each field (messages without a
    field under `non_field_errors`), its `PermissionDenied` a 403 with the service's words."""
    try:
        yield
    except DjangoValidationError as error:
        if hasattr(error, "error_dict"):
            detail = {
                ("non_field_errors" if name == "__all__" else name): messages
                for name, messages in error.message_dict.items()
            }
        else:
            detail = {"non_field_errors": error.messages}
        raise exceptions.ValidationError(detail) from error
    except DjangoPermissionDenied as error:
        raise exceptions.PermissionDenied(str(error) or "Your role may not do this.") from error


def masked(text, incident) -> str:
    """`text` as the browser's `|mask:incident` shows it to this reader."""
    return mask_text(text or "", reveal=getattr(incident, "reveal", False) is True)


def cursor(*ordering: str, size: int = 50) -> type[Cursor]:
    """A cursor paginator over `ordering` (the first field positions the cursor; the others
    break ties)."""
    return type("OrderedCursor", (Cursor,), {"ordering": ordering, "page_size": size})
