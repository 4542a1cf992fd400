"""Rich text: Markdown in, only allowlisted HTML out, masking first (tenancy/richtext.py)."""

from html.parser import HTMLParser

import pytest
from django.template import Context, Template

from tenancy.richtext import render_markdown
from tests.incidents.factories import declare

# Each payload tries to get script, an event handler, a dangerous URL or foreign markup through.
XSS_CORPUS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    '<img src=x onerror="alert(1)">',
    "<svg onload=alert(1)><circle r=1 /></svg>",
    "<svg><script>alert(1)</script></svg>",
    "<iframe src=javascript:alert(1)></iframe>",
    "<a href='javascript:alert(1)'>x</a>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](java&#x73;cript:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](vbscript:msgbox(1))",
    "![img](javascript:alert(1))",
    "![img](data:image/svg+xml,<svg onload=alert(1)>)",
    "[![x](https://evil.example/i.png)](javascript:alert(1))",
    "[a [nested](javascript:alert(1)) link](https://ok.example)",
    "[ref][1]\n\n[1]: javascript:alert(1)",
    '<https://ok.example/"onmouseover="alert(1)>',
    '<p style="background:url(javascript:alert(1))">styled</p>',
    "<style>body{display:none}</style>",
    "<form action=https://evil.example><input name=q></form>",
    "<object data=x.swf></object><embed src=x.swf>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&#60;img src=x onerror=alert(1)&#62;",
    "```\n</code></pre><script>alert(1)</script>\n```",
    "`<img src=x onerror=alert(1)>`",
    "<!-- --><script>alert(1)</script>",
    "<div onclick=alert(1)>block</div>",
    "**bold<img src=x onerror=alert(1)>**",
    "<base href=https://evil.example/>",
    "<meta http-equiv=refresh content=0;url=https://evil.example>",
]
# What may appear in the output: these tags, and on <a> only href and rel.
ALLOWED = {"p", "br", "strong", "em", "code", "pre", "ul", "ol", "li", "blockquote", "a"}
ALLOWED |= {"h3", "h4", "h5", "h6", "hr", "table", "thead", "tbody", "tr", "th", "td"}


class Elements(HTMLParser):
    """Every start tag with its attributes, as a browser would parse them."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, attrs))


def assert_harmless(html: str) -> None:
    for tag, attributes in Elements(html).found:
        assert tag in ALLOWED, html
        names = {name for name, _ in attributes}
        assert names <= ({"href", "rel"} if tag == "a" else set()), html
        for name, value in attributes:
            if name == "href":
                assert value.startswith(("http://", "https://", "mailto:")), html


@pytest.mark.parametrize("payload", XSS_CORPUS)
def test_no_payload_survives_rendering(payload):
    """Only allowlisted tags, no attribute but a safe link's href and rel: what is left of a
    payload is text (escaped), which a browser shows and never runs."""
    assert_harmless(render_markdown(payload))


def test_ordinary_markdown_renders():
    text = (
        "# Summary\n\nThe **gateway** timed out; see <https://status.example.org>.\n"
        "Second line\n\n- first\n- second\n\n1. one\n2. two\n\n> quoted\n\n"
        "```\nkubectl rollout undo\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n---\n\n_done_"
    )
    html = render_markdown(text)
    assert "<h3>Summary</h3>" in html
    assert "<strong>gateway</strong>" in html
    assert (
        '<a href="https://status.example.org" rel="noopener noreferrer nofollow">'
        "https://status.example.org</a>" in html
    )
    assert "timed out; see" in html
    assert "<br>" in html
    assert "<ul>\n<li>first</li>" in html
    assert "<ol>\n<li>one</li>" in html
    assert "<blockquote>" in html
    assert "<pre><code>kubectl rollout undo" in html
    assert "<table>" in html
    assert "<td>1</td>" in html
    assert "<hr>" in html
    assert "<em>done</em>" in html


def test_links_keep_only_safe_schemes_and_get_rel():
    html = render_markdown("[a](https://a.example) [b](mailto:b@b.example) [c](ftp://c.example)")
    assert '<a href="https://a.example" rel="noopener noreferrer nofollow">a</a>' in html
    assert '<a href="mailto:b@b.example" rel="noopener noreferrer nofollow">b</a>' in html
    assert "ftp:" not in html


def test_raw_html_is_shown_as_text_not_dropped():
    assert render_markdown("use <b>bold</b>") == "<p>use &lt;b&gt;bold&lt;/b&gt;</p>"


def render(source: str, **context) -> str:
    return Template("{% load richtext %}" + source).render(Context(context))


def test_the_filter_masks_before_rendering():
    html = render("{{ text|markdown:incident }}", text="Call **bob@example.org**", incident=None)
    assert "bob@example.org" not in html
    assert "<strong>[e-mail hidden]</strong>" in html


def test_a_masking_label_cannot_become_a_link():
    html = render("{{ text|markdown }}", text="bob@example.org(https://evil.example)")
    assert "href" not in html
    assert "[e-mail hidden](https://evil.example)" in html


def test_markdown_that_would_rejoin_masked_data_falls_back_to_plain_text():
    html = render("{{ text|markdown }}", text="write to bob*@*example.org\nsoon")
    assert "<em>" not in html
    assert "bob*@*example.org<br>soon" in html


def test_a_revealed_incident_shows_the_data_rendered():
    class Revealed:
        reveal = True

    html = render("{{ text|markdown:incident }}", text="**bob@example.org**", incident=Revealed())
    assert "<strong>bob@example.org</strong>" in html


@pytest.mark.django_db
def test_incident_page_renders_the_description_as_markdown_and_masked(acme, responder, login):
    incident = declare(
        acme,
        responder,
        description="Customers see **502s**.\n\n<script>alert(1)</script>\n\n"
        "Reported by carol@example.org.",
    )
    response = login(responder).get(f"/o/acme/incidents/{incident.key}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Customers see <strong>502s</strong>." in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "carol@example.org" not in html
    assert "Reported by [e-mail hidden]." in html


@pytest.mark.django_db
def test_a_comment_is_rendered_as_markdown_on_the_timeline(acme, responder, login):
    incident = declare(acme, responder)
    client = login(responder)
    response = client.post(
        f"/o/acme/incidents/{incident.key}/comment/",
        {"text": "Rolled back `v2.3`; [runbook](javascript:alert(1))"},
    )
    assert response.status_code in (200, 302)
    html = client.get(f"/o/acme/incidents/{incident.key}/").content.decode()
    assert "Rolled back <code>v2.3</code>;" in html
    assert "javascript:alert" not in html


@pytest.mark.django_db
def test_another_orgs_member_still_gets_404_for_the_page(acme, responder, stranger, login):
    incident = declare(acme, responder, description="**secret**")
    response = login(stranger).get(f"/o/acme/incidents/{incident.key}/")
    assert response.status_code == 404
    assert b"secret" not in response.content
