"""PDF rendering for compliance documents (regulatory reports, audit-trail exports, access
reviews). WeasyPrint gets a URL fetcher that serves only Vigil's own static files, read from
disk: content can never make a PDF fetch a remote URL or another file."""

import hashlib
import mimetypes
from pathlib import Path

from django.conf import settings

STATIC_PREFIX = "vigil-static:"


class RefusedURL(ValueError):
    pass


def _static_roots() -> list[Path]:
    roots = [Path(p).resolve() for p in getattr(settings, "STATICFILES_DIRS", [])]
    if getattr(settings, "STATIC_ROOT", None):
        roots.append(Path(settings.STATIC_ROOT).resolve())
    return roots


def _static_file(url: str) -> Path | None:
    if not url.startswith(STATIC_PREFIX):
        return None
    relative = url[len(STATIC_PREFIX) :].lstrip("/")
    for root in _static_roots():
        candidate = (root / relative).resolve()
        if candidate.is_file() and candidate.is_relative_to(root):
            return candidate
    return None


def static_only_fetcher(url: str, *args, **kwargs) -> dict:
    """Serve `vigil-static:<path>` from Vigil's static directories; refuse everything else
    (http, https, file, data URLs pointing elsewhere, path traversal). The function form, for
    WeasyPrint versions before the `URLFetcher` class."""
    path = _static_file(url)
    if path is None:
        raise RefusedURL(f"A compliance PDF fetches nothing but Vigil's static files ({url!r}).")
    mime, _ = mimetypes.guess_type(path.name)
    return {
        "string": path.read_bytes(),
        "mime_type": mime or "application/octet-stream",
        "redirected_url": url,
    }


def _fetcher():
    """The fetcher in the shape the installed WeasyPrint wants: recent versions (70 here) take a
    `URLFetcher`, whose refusals WeasyPrint logs and skips (a plain function that raises would
    stop the render); older ones take the function. Nothing but static files is ever opened."""
    try:
        from weasyprint.urls import URLFetcher, URLFetcherResponse
    except ImportError:  # older WeasyPrint
        return static_only_fetcher

    class StaticOnly(URLFetcher):
        def fetch(self, url, headers=None):
            found = static_only_fetcher(url)  # raises RefusedURL for anything but static files
            return URLFetcherResponse(
                found["redirected_url"],
                body=found["string"],
                headers={"Content-Type": found["mime_type"]},
            )

    return StaticOnly()


def render_pdf(html: str) -> bytes:
    """The PDF of `html` (a complete document with inline CSS)."""
    from weasyprint import HTML

    return HTML(string=html, base_url=STATIC_PREFIX, url_fetcher=_fetcher()).write_pdf()


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
