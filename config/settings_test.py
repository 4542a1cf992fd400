"""Settings for the test suite: config.settings with DEBUG on unless the environment says
otherwise, because DEBUG defaults to off and, off, needs a SECRET_KEY. pytest-django switches
DEBUG off again while the tests run; processes the tests start (workers, manage.py) inherit
DJANGO_SETTINGS_MODULE and so the same default."""

import os

os.environ.setdefault("DEBUG", "1")

from config.settings import *  # noqa: E402, F403
