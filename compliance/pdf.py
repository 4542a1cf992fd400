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


def static_only_fetcher(url: str, *args, **kwargs) -> dict:
    """Serve `vigil-static:<path>` from Vigil's static directories; refuse everything else
    (http, https, file, data URLs pointing elsewhere, path traversal)."""
    if url.startswith(STATIC_PREFIX):
        relative = url[len(STATIC_PREFIX) :].lstrip("/")
        for root in _static_roots():
            candidate = (root / relative).resolve()
            if candidate.is_file() and candidate.is_relative_to(root):
                mime, _ = mimetypes.guess_type(candidate.name)
                return {
                    "string": candidate.read_bytes(),
                    "mime_type": mime or "application/octet-stream",
                    "redirected_url": url,
                }
    raise RefusedURL(f"A compliance PDF fetches nothing but Vigil's static files ({url!r}).")


def _fetcher():
    """`static_only_fetcher` in the shape the installed WeasyPrint wants: since WeasyPrint 67
    a fetcher is a `URLFetcher` whose `fetch()` returns a `URLFetcherResponse` (a plain
    function crashes the rendering on the first URL); older versions take the function."""
    try:
        from weasyprint.urls import URLFetcher, URLFetcherResponse
    except ImportError:  # WeasyPrint < 67
        return static_only_fetcher

    class StaticOnlyFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            found = static_only_fetcher(url)
            return URLFetcherResponse(
                found["redirected_url"],
                found["string"],
                headers={"Content-Type": found["mime_type"]},
            )

    return StaticOnlyFetcher()


def render_pdf(html: str) -> bytes:
    """The PDF of `html` (a complete document with inline CSS)."""
    from weasyprint import HTML

    return HTML(string=html, base_url=STATIC_PREFIX, url_fetcher=_fetcher()).write_pdf()


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
