"""Post-mortem URLs: document (included by postmortems/urls.py)."""

urlpatterns: list = []
