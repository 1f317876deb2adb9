"""/api/docs/: a light, script-free HTML reference rendered from the project's own OpenAPI schema (issue 14 finding
12: Swagger UI weighed 2.1 MB and failed axe). Its weight is the page plus every asset it loads."""

from __future__ import annotations

import re

from django.conf import settings
from django.contrib.staticfiles import finders
from drf_spectacular.generators import SchemaGenerator

from core.api_docs import reference, text_html

MAX_BYTES = 200 * 1024


def _assets(html: str) -> list[str]:
    return re.findall(r"""<(?:script|link|img)\b[^>]*?(?:src|href)\s*=\s*["']([^"']+)["']""", html)


def _asset_size(url: str) -> int:
    assert url.startswith(settings.STATIC_URL), f"{url}: not one of our static files"
    path = finders.find(url.removeprefix(settings.STATIC_URL))
    assert path, f"{url}: no such static file"
    with open(path, "rb") as file:
        return len(file.read())


def test_docs_page_with_everything_it_loads_weighs_under_200_kb(anon_client):
    response = anon_client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assets = _assets(html)
    total = len(response.content) + sum(_asset_size(url) for url in assets)
    assert total < MAX_BYTES, f"{total} bytes: the page and {assets}"


def test_docs_page_runs_no_script_and_loads_nothing_from_elsewhere(anon_client):
    html = anon_client.get("/api/docs/").content.decode()
    assert "<script" not in html
    assert not [url for url in _assets(html) if "://" in url or url.startswith("//")]


def test_docs_page_is_compressed_for_clients_that_take_gzip(anon_client):
    response = anon_client.get("/api/docs/", HTTP_ACCEPT_ENCODING="gzip")
    assert response["Content-Encoding"] == "gzip"
    assert len(response.content) < 40 * 1024


def test_every_operation_of_the_schema_is_on_the_page_under_its_tag(anon_client):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    html = anon_client.get("/api/docs/").content.decode()
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            anchor = f'id="op-{operation["operationId"]}"'
            assert anchor in html, f"{method.upper()} {path} is not on the page"
            assert f"<code>{path}</code>" in html
    for tag in {tag for item in schema["paths"].values() for op in item.values() for tag in op.get("tags", [])}:
        assert f'<h2 id="tag-{tag}">{tag}</h2>' in html


def test_a_request_body_lists_its_fields_and_a_response_links_its_schema(anon_client):
    html = anon_client.get("/api/docs/").content.decode()
    start = html.index('id="op-things_transfer_offer_create"')
    operation = html[start : html.index("</div>", start)]
    assert "<code>redact_kinds</code> array of" in operation and "<em>required</em>" in operation
    assert "<code>password</code> string" in operation
    assert '<strong>201</strong> <a href="#schema-TransferOffer">TransferOffer</a>' in operation
    assert 'id="schema-TransferOffer"' in html
    # Every link inside the page lands on something.
    anchors = set(re.findall(r'id="([^"]+)"', html))
    assert {target for target in re.findall(r'href="#([^"]+)"', html)} <= anchors


def test_descriptions_are_escaped_text_with_code_spans(anon_client):
    html = anon_client.get("/api/docs/").content.decode()
    assert "<code>reading_kind</code>" in html  # from the readings API's descriptions, written in Markdown
    assert "<script" not in html and "`" not in re.sub(r"<code>.*?</code>", "", html)


def test_text_from_the_schema_is_escaped_and_only_code_spans_and_web_links_become_markup():
    rendered = str(text_html("Send `<b>` here.\n\nSee [the spec](https://example.org/s) <script>alert(1)</script>"))
    assert rendered == (
        "<p>Send <code>&lt;b&gt;</code> here.</p>"
        '<p>See <a href="https://example.org/s">the spec</a> &lt;script&gt;alert(1)&lt;/script&gt;</p>'
    )
    ref = reference(
        {
            "info": {"title": "T", "version": "1"},
            "paths": {
                "/x": {"get": {"operationId": "x", "tags": ["a<b"], "responses": {"200": {"description": "ok"}}}}
            },
            "components": {"schemas": {"N": {"type": "string", "enum": ["p", "q"], "maxLength": 1}}},
        }
    )
    assert [tag.name for tag in ref.tags] == ["a<b"]  # escaped by the template
    assert ref.schemas[0].limits == "one of p, q; at most 1 character"
