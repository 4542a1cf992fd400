"""Post-mortem URLs: actions (included by postmortems/urls.py)."""

urlpatterns: list = []
