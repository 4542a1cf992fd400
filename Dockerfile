# Vigil: one image for every process. The default command is the web process (gunicorn);
# docker-compose.yml runs the Celery worker and beat from the same image. See docs/operations.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings

# WeasyPrint's runtime libraries (Pango, HarfBuzz subsetting) and the fonts the PDFs use.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 \
        libpangoft2-1.0-0 \
        libharfbuzz-subset0 \
        fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first, so a code change does not reinstall them. The project itself installs no
# packages (`packages = []` in pyproject.toml): the code runs from /app. README.md is the
# project's `readme`, which the build needs.
COPY pyproject.toml README.md ./
RUN pip install .

COPY . .

# Hashed, compressed static files for whitenoise. The key exists only for this build step:
# settings refuse to start with DEBUG off and no SECRET_KEY, and nothing here is signed with it.
RUN DEBUG=0 SECRET_KEY=build-time-dummy-not-used-at-run-time \
    python manage.py collectstatic --no-input --verbosity 0

RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home vigil
USER vigil

EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "2", "--timeout", "60", "--access-logfile", "-"]
