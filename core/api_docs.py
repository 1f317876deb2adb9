"""The API reference (/api/docs/): plain HTML rendered on the server from the project's own OpenAPI schema.

It replaces Swagger UI (2.1 MB of script, and axe failures: contrast, nested interactive controls) with what a
reader needs and a screen reader can walk. No script at all; /api/schema/ stays the machine-readable source.

One page per tag (`/api/docs/<tag>/`: its operations, each with its parameters, request body and responses, then
every schema they lead to, linked by name), and an index (`/api/docs/`) listing every operation with a link. One
page for the whole API outgrew its weight budget as the API grew; a page per tag stays small however many tags
come, and each is complete on its own (a schema two tags use is on both pages).

The schema is built once per process (it depends only on the URL conf and code) and kept with the rendered pages.
"""

from __future__ import annotations

import functools
import html
import re
from dataclasses import dataclass, field
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import require_safe
from drf_spectacular.generators import SchemaGenerator

METHODS = ("get", "post", "put", "patch", "delete")
REF = "#/components/schemas/"
_CODE = re.compile(r"`([^`]+)`")
_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")


def text_html(text: str | None) -> SafeString:
    """A description as HTML: escaped, `code` spans kept, blank lines as paragraphs (the schema's descriptions are
    short Markdown; nothing else of Markdown is used in them)."""
    paragraphs = [part.strip() for part in re.split(r"\n\s*\n", text or "") if part.strip()]
    out = []
    for paragraph in paragraphs:
        escaped = html.escape(" ".join(paragraph.split()), quote=False)
        escaped = _CODE.sub(lambda m: f"<code>{m[1]}</code>", escaped)
        escaped = _LINK.sub(lambda m: f'<a href="{html.escape(m[2])}">{m[1]}</a>', escaped)
        out.append(f"<p>{escaped}</p>")
    return mark_safe("".join(out))  # noqa: S308 - escaped above; only <p>, <code> and http(s) links are added


def schema_id(name: str) -> str:
    return f"schema-{name}"


def type_html(schema: dict[str, Any] | None) -> SafeString:
    """A schema's type in a few words, with links to named schemas: `array of Thing`, `string (date-time)`."""
    if not schema:
        return format_html("{}", "any")
    if "$ref" in schema:
        name = schema["$ref"].removeprefix(REF)
        return format_html('<a href="#{}">{}</a>', schema_id(name), name)
    for combiner, word in (("allOf", " and "), ("oneOf", " or "), ("anyOf", " or ")):
        if combiner in schema:
            return format_html_join(word, "{}", ((type_html(part),) for part in schema[combiner]))
    kind = schema.get("type", "object" if "properties" in schema else "any")
    if isinstance(kind, list):
        kind = " or ".join(kind)
    if kind == "array":
        return format_html("array of {}", type_html(schema.get("items")))
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return format_html("object of {}", type_html(schema["additionalProperties"]))
    if schema.get("format"):
        return format_html("{} ({})", kind, schema["format"])
    return format_html("{}", kind)


def limits(schema: dict[str, Any]) -> str:
    """The constraints a client must meet, in words."""
    parts = []
    if "enum" in schema:
        parts.append("one of " + ", ".join(str(value) for value in schema["enum"] if value not in ("", None)))
    for key, word in (
        ("minimum", "at least"),
        ("maximum", "at most"),
        ("maxLength", "at most"),
        ("minLength", "at least"),
    ):
        if key in schema:
            suffix = (" character" if schema[key] == 1 else " characters") if "Length" in key else ""
            parts.append(f"{word} {schema[key]}{suffix}")
    if "maxItems" in schema:
        parts.append(f"at most {schema['maxItems']} items")
    if schema.get("nullable"):
        parts.append("may be null")
    if "default" in schema:
        parts.append(f"default {schema['default']!r}")
    return "; ".join(parts)


@dataclass
class Field:
    name: str
    type: SafeString
    required: bool
    description: SafeString
    limits: str


@dataclass
class Schema:
    name: str
    anchor: str
    type: SafeString
    description: SafeString
    fields: list[Field]
    limits: str


@dataclass
class Body:
    status: str
    description: SafeString
    media_types: list[str]
    type: SafeString | None
    fields: list[Field] = field(default_factory=list)  # a request body's own fields, shown in place


@dataclass
class Operation:
    anchor: str
    method: str
    path: str
    summary: str
    description: SafeString
    auth: str
    parameters: list[Field]
    request: Body | None
    responses: list[Body] = field(default_factory=list)
    refs: set[str] = field(default_factory=set)  # the schemas it names itself


@dataclass
class Tag:
    name: str
    anchor: str
    operations: list[Operation]
    schemas: list[Schema] = field(default_factory=list)  # every schema its operations lead to


def _fields(schema: dict[str, Any]) -> list[Field]:
    required = set(schema.get("required", ()))
    return [
        Field(
            name=name,
            type=type_html(prop),
            required=name in required,
            description=text_html(prop.get("description")),
            limits=limits(prop),
        )
        for name, prop in (schema.get("properties") or {}).items()
    ]


def _body(status: str, spec: dict[str, Any], components: dict[str, Any] | None = None) -> Body:
    """A response (by schema name), or with `components` a request body, whose fields are shown in place: a
    request schema serves one operation, a response schema many."""
    content = spec.get("content") or {}
    first = next(iter(content.values()), {})
    schema = first.get("schema")
    if components is not None and schema and "$ref" in schema:
        named = components.get(schema["$ref"].removeprefix(REF), {})
        if named.get("properties"):
            return Body(
                status=status,
                description=text_html(spec.get("description")),
                media_types=list(content),
                type=None,
                fields=_fields(named),
            )
    return Body(
        status=status,
        description=text_html(spec.get("description")),
        media_types=list(content),
        type=type_html(schema) if schema else None,
    )


def _referenced(node: Any) -> set[str]:
    """Names of the schemas a part of the document points to."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                found.add(node["$ref"].removeprefix(REF))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(node)
    return found


def _closure(names: set[str], components: dict[str, Any]) -> set[str]:
    """The named schemas and every schema they lead to."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen or name not in components:
            continue
        seen.add(name)
        todo.extend(_referenced(components[name]) - seen)
    return seen


# What most operations take (the page says so once); only others are named on the operation.
USUAL_AUTH = {"cookieAuth", "tokenAuth"}


def _auth(operation: dict[str, Any]) -> str:
    security = operation.get("security")
    if security is None:
        return ""
    names = {name for requirement in security for name in requirement}
    if not names:
        return "none (public)"
    return "" if names == USUAL_AUTH else ", ".join(sorted(names))


@dataclass
class Reference:
    title: str
    version: str
    description: SafeString
    tags: list[Tag]


def reference(schema: dict[str, Any]) -> Reference:
    """The page's content from an OpenAPI 3 document."""
    components = (schema.get("components") or {}).get("schemas", {})
    by_tag: dict[str, list[Operation]] = {}
    for path, item in schema.get("paths", {}).items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            op_id = operation.get("operationId", f"{method}-{path}")
            parameters = [
                Field(
                    name=f"{parameter['name']} ({parameter.get('in', '')})",
                    type=type_html(parameter.get("schema")),
                    required=bool(parameter.get("required")),
                    description=text_html(parameter.get("description")),
                    limits=limits(parameter.get("schema") or {}),
                )
                for parameter in operation.get("parameters", [])
            ]
            body = operation.get("requestBody")
            entry = Operation(
                anchor=f"op-{op_id}",
                method=method.upper(),
                path=path,
                summary=operation.get("summary", ""),
                description=text_html(operation.get("description")),
                auth=_auth(operation),
                parameters=parameters,
                request=_body("", body, components) if body else None,
                responses=[_body(code, spec) for code, spec in sorted(operation.get("responses", {}).items())],
                refs=_referenced(operation),
            )
            for tag in operation.get("tags") or ["other"]:
                by_tag.setdefault(tag, []).append(entry)
    # Request schemas are shown in their operation; one is listed only if another schema points to it.
    referenced = _referenced(components)
    schemas = {
        name: Schema(
            name=name,
            anchor=schema_id(name),
            type=type_html({key: value for key, value in spec.items() if key != "properties"} or None),
            description=text_html(spec.get("description")),
            fields=_fields(spec),
            limits=limits(spec),
        )
        for name, spec in sorted(components.items())
        if not name.endswith("Request") or name in referenced
    }
    tags = []
    for name, operations in sorted(by_tag.items()):
        # A request body shown in place still leads to the schemas its fields name.
        leads_to = _closure(set().union(*(operation.refs for operation in operations)), components)
        tags.append(
            Tag(
                name=name,
                anchor=f"tag-{name}",
                operations=operations,
                schemas=[schemas[each] for each in sorted(leads_to) if each in schemas],
            )
        )
    info = schema.get("info", {})
    return Reference(
        title=info.get("title", "API"),
        version=str(info.get("version", "")),
        description=text_html(info.get("description")),
        tags=tags,
    )


@functools.cache
def _reference() -> Reference:
    return reference(SchemaGenerator().get_schema(request=None, public=True))


@functools.cache
def _page(tag: str | None) -> str | None:
    ref = _reference()
    context = {"ref": ref, "schema_url": reverse("api-schema"), "index_url": reverse("api-docs")}
    if tag is None:
        return render_to_string("api_docs.html", context)
    found = next((each for each in ref.tags if each.name == tag), None)
    return render_to_string("api_docs_tag.html", context | {"tag": found}) if found else None


@require_safe
@gzip_page  # no secret in it (the same bytes for everyone, no CSRF token), so compression leaks nothing
def api_docs(request: HttpRequest, tag: str | None = None) -> HttpResponse:
    """The API reference's index, or one tag's page. Public, like the schema it is made from, and the same bytes
    for everyone (so each page is built once per process, and says nothing about who is signed in)."""
    page = _page(tag)
    if page is None:
        raise Http404("No such part of the API reference.")
    return HttpResponse(page)
