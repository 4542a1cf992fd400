"""Compliance PDFs fetch nothing from content: no remote URL, no file on disk — only Vigil's own
static files through `vigil-static:`."""

import http.server
import subprocess
import threading

import pytest

from compliance.pdf import content_hash, render_pdf


@pytest.fixture
def recording_server():
    """A local HTTP server that records every request it gets."""
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], hits
    server.shutdown()
    server.server_close()


def text_of(pdf: bytes) -> str:
    return subprocess.run(
        ["/usr/bin/pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()


def test_remote_and_file_urls_in_content_are_never_fetched(recording_server):
    port, hits = recording_server
    html = f"""<html><head><link rel="stylesheet" href="http://127.0.0.1:{port}/evil.css">
    <style>body {{ background: url("http://127.0.0.1:{port}/bg.png"); }}</style></head>
    <body><p>Report body</p>
    <img src="http://127.0.0.1:{port}/pixel.png">
    <img src="file:///etc/passwd"><iframe src="file:///etc/hostname"></iframe>
    <img src="vigil-static:../../../../etc/passwd">
    </body></html>"""
    pdf = render_pdf(html)
    assert pdf.startswith(b"%PDF")
    assert "Report body" in text_of(pdf)
    assert hits == []
    assert b"root:" not in pdf


def test_vigil_static_files_are_served():
    with_logo = render_pdf('<p>Logo</p><img src="vigil-static:img/vigil.svg" width="20">')
    without = render_pdf('<p>Logo</p><img src="vigil-static:img/missing.svg" width="20">')
    assert "Logo" in text_of(with_logo)
    assert len(with_logo) > len(without)  # the logo's drawing is in the file


def test_content_hash_is_sha256_hex():
    assert content_hash(b"") == ("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
