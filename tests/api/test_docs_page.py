"""/api/docs/: a light, script-free HTML reference rendered from the project's own OpenAPI schema (issue 14 finding
12: Swagger UI weighed 2.1 MB and failed axe): an index and a page per tag. A page's weight is the page plus every
asset it loads; one page for the whole API outgrew 200 KB as the API grew, a page per tag does not."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client
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


def _schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def _tags(schema: dict) -> set[str]:
    return {tag for item in schema["paths"].values() for op in item.values() for tag in op.get("tags", [])}


@pytest.fixture(scope="module")
def pages() -> dict[str, tuple[int, str, int]]:
    """Every page of the reference: URL -> (status, HTML, bytes with every asset it loads)."""
    client = Client()
    urls = ["/api/docs/"] + [f"/api/docs/{tag}/" for tag in sorted(_tags(_schema()))]
    found = {}
    for url in urls:
        response = client.get(url)
        html = response.content.decode()
        found[url] = (response.status_code, html, len(response.content) + sum(map(_asset_size, _assets(html))))
    return found


def test_every_page_with_everything_it_loads_weighs_under_200_kb(pages):
    assert len(pages) > 2  # the index and at least the core's things and transfers (more with the features)
    for url, (status, html, total) in pages.items():
        assert status == 200, url
        assert total < MAX_BYTES, f"{url}: {total} bytes with {_assets(html)}"


def test_the_pages_run_no_script_and_load_nothing_from_elsewhere(pages):
    for url, (_, html, _) in pages.items():
        assert "<script" not in html, url
        assert not [asset for asset in _assets(html) if "://" in asset or asset.startswith("//")], url


def test_pages_are_compressed_for_clients_that_take_gzip(anon_client):
    for url in ("/api/docs/", "/api/docs/things/"):
        response = anon_client.get(url, HTTP_ACCEPT_ENCODING="gzip")
        assert response["Content-Encoding"] == "gzip"
        assert len(response.content) < 40 * 1024


def test_a_part_of_the_api_that_does_not_exist_is_a_404(anon_client):
    assert anon_client.get("/api/docs/nothing-here/").status_code == 404


def test_every_operation_is_listed_on_the_index_and_described_on_its_tags_page(pages):
    schema = _schema()
    index = pages["/api/docs/"][1]
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            for tag in operation["tags"]:
                link = f'href="/api/docs/{tag}/#op-{operation["operationId"]}"'
                assert link in index, f"{method.upper()} {path} is not on the index under {tag}"
                html = pages[f"/api/docs/{tag}/"][1]
                assert f'id="op-{operation["operationId"]}"' in html, f"{method.upper()} {path} not on {tag}'s page"
                assert f"<code>{path}</code>" in html
    for tag in _tags(schema):
        assert f'<h2 id="tag-{tag}"><a href="/api/docs/{tag}/">{tag}</a></h2>' in index
        assert f'<h1 id="tag-{tag}">{tag}</h1>' in pages[f"/api/docs/{tag}/"][1]


def test_no_tag_holds_most_of_the_api(pages):
    """The pages split the API by its parts (the path after /api/), not into one page named "api"."""
    assert "/api/docs/api/" not in pages
    assert {"/api/docs/things/", "/api/docs/transfers/"} <= set(pages)  # the core's; features add theirs


def test_a_request_body_lists_its_fields_and_a_response_links_its_schema(pages):
    html = pages["/api/docs/transfers/"][1]
    start = html.index('id="op-things_transfer_offer_create"')
    operation = html[start : html.index("</div>", start)]
    assert "<code>redact_kinds</code> array of" in operation and "<em>required</em>" in operation
    assert "<code>password</code> string" in operation
    assert '<strong>201</strong> <a href="#schema-TransferOffer">TransferOffer</a>' in operation
    assert 'id="schema-TransferOffer"' in html


def test_every_link_inside_a_page_lands_on_something_on_that_page(pages):
    for url, (_, html, _) in pages.items():
        anchors = set(re.findall(r'id="([^"]+)"', html))
        assert {target for target in re.findall(r'href="#([^"]+)"', html)} <= anchors, url


def test_descriptions_are_escaped_text_with_code_spans(pages):
    html = pages["/api/docs/things/"][1]
    assert "<code>reading_kind</code>" in html  # from the readings API's descriptions, written in Markdown
    for url, (_, html, _) in pages.items():
        assert "`" not in re.sub(r"<code>.*?</code>", "", html), url


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
                "/x": {
                    "get": {
                        "operationId": "x",
                        "tags": ["a<b"],
                        "responses": {
                            "200": {
                                "description": "ok",
                                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/N"}}},
                            }
                        },
                    }
                }
            },
            "components": {"schemas": {"N": {"type": "string", "enum": ["p", "q"], "maxLength": 1}}},
        }
    )
    assert [tag.name for tag in ref.tags] == ["a<b"]  # escaped by the template
    assert [schema.name for schema in ref.tags[0].schemas] == ["N"]  # the schemas its operations use, and only those
    assert ref.tags[0].schemas[0].limits == "one of p, q; at most 1 character"
