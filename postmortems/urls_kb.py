"""Post-mortem URLs: kb (included by postmortems/urls.py)."""

urlpatterns: list = []
