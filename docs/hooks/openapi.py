"""MkDocs hook: the API reference, rendered from the committed OpenAPI document at build time.

``contracts/gateway.openapi.json`` (the snapshot a test keeps equal to what the gateway serves)
becomes Markdown pages under ``reference/api/``: an overview, one page per tag (operations with
their parameters, bodies, responses and error codes), the webhooks the gateway sends, and the
schemas. Nothing is fetched: the document is read from the checkout, and ``render`` is a pure
function of it (``tests/docs`` calls it directly).

A generated page that the ``nav`` of ``mkdocs.yml`` does not list is a warning (so
``mkdocs build --strict`` fails): a new tag in the document needs its line in the nav.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger("mkdocs.hooks.openapi")

DOCUMENT = "contracts/gateway.openapi.json"
FOLDER = "reference/api"
ERRORS_PAGE = "../errors.md"  # the error-code reference, relative to FOLDER
METHODS = ("get", "put", "post", "patch", "delete", "head", "options")
_CODES = re.compile(r"\(code: (?P<codes>[a-z_, ]+)\)$")

Schema = Mapping[str, Any]


def slug(name: str) -> str:
    """A tag's page name: ``drop-in (upstream API)`` → ``drop-in-upstream-api``."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def render(document: Mapping[str, Any]) -> dict[str, str]:
    """Every page of the API reference: path under ``reference/api/`` → Markdown."""
    tags = _tags(document)
    pages = {"index.md": _overview(document, tags)}
    for name, description in tags.items():
        if name == "webhooks":
            pages[f"{slug(name)}.md"] = _webhooks_page(document, description)
        else:
            pages[f"{slug(name)}.md"] = _tag_page(document, name, description)
    pages["schemas.md"] = _schemas_page(document)
    return pages


# --- the hook's events ---------------------------------------------------------------------


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    root = Path(config.config_file_path).parent
    document = json.loads((root / DOCUMENT).read_text(encoding="utf-8"))
    for name, content in render(document).items():
        files.append(File.generated(config, f"{FOLDER}/{name}", content=content))
    return files


def on_nav(nav: Any, config: Any, files: Any) -> Any:
    listed = {page.file.src_uri for page in nav.pages}
    for file in files:
        if file.src_uri.startswith(f"{FOLDER}/") and file.src_uri not in listed:
            log.warning(
                "%s is generated from %s but not in the nav of mkdocs.yml", file.src_uri, DOCUMENT
            )
    return nav


# --- pages -----------------------------------------------------------------------------------


def _tags(document: Mapping[str, Any]) -> dict[str, str]:
    """Tag name → description: the document's own list first, then tags only operations name,
    in the order they first appear; webhooks last."""
    tags = {tag["name"]: tag.get("description", "") for tag in document.get("tags", [])}
    for _, _, operation in _operations(document.get("paths", {})):
        for name in operation.get("tags", ["other"]):
            tags.setdefault(name, "")
    if document.get("webhooks"):
        tags["webhooks"] = tags.pop("webhooks", "What the gateway sends")
    return tags


def _operations(paths: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    for path, item in paths.items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


def _overview(document: Mapping[str, Any], tags: Mapping[str, str]) -> str:
    info = document["info"]
    lines = [
        f"# {info['title']} API",
        "",
        f"OpenAPI {document['openapi']}, version {info['version']}. This reference is rendered",
        f"from `{DOCUMENT}`, the snapshot a test keeps equal to what the gateway serves at",
        "`/schema/openapi.json` (a running gateway also serves it as Swagger UI at `/schema`).",
        "",
        _text(info.get("description", "")),
        "",
        "## Authentication",
        "",
        "| scheme | how | what |",
        "| --- | --- | --- |",
    ]
    for name, scheme in document.get("components", {}).get("securitySchemes", {}).items():
        how = f"HTTP {scheme.get('scheme', scheme.get('type', ''))}".strip()
        lines.append(f"| `{name}` | {how} | {_cell(scheme.get('description', ''))} |")
    lines += ["", "## Operations", "", "| operation | summary |", "| --- | --- |"]
    for name in tags:
        if name == "webhooks":
            continue
        for method, path, operation in _operations(document.get("paths", {})):
            if name in operation.get("tags", ["other"]):
                anchor = operation.get("operationId", slug(f"{method} {path}"))
                lines.append(
                    f"| [`{method.upper()} {path}`]({slug(name)}.md#{anchor}) "
                    f"| {_cell(operation.get('summary', ''))} |"
                )
    if document.get("webhooks"):
        lines += ["", "## Webhooks", "", "| event | summary |", "| --- | --- |"]
        for event, item in document["webhooks"].items():
            for _, _, operation in _operations({event: item}):
                anchor = operation.get("operationId", slug(event))
                lines.append(
                    f"| [`{event}`](webhooks.md#{anchor}) | {_cell(operation.get('summary', ''))} |"
                )
    lines += ["", "Schemas: [every schema](schemas.md).", ""]
    return "\n".join(lines)


def _tag_page(document: Mapping[str, Any], name: str, description: str) -> str:
    lines = [f"# {name[:1].upper()}{name[1:]}", ""]
    if description:
        lines += [_text(description) + ".", ""]
    for method, path, operation in _operations(document.get("paths", {})):
        if name in operation.get("tags", ["other"]):
            lines += _operation(document, f"{method.upper()} {path}", operation)
    return "\n".join(lines)


def _webhooks_page(document: Mapping[str, Any], description: str) -> str:
    lines = [
        "# Webhooks",
        "",
        f"{_text(description)}: each event is a `POST` to the job's `callback_url` (and to the",
        "client's matching subscriptions), signed per",
        "[Standard Webhooks](https://www.standardwebhooks.com/).",
        "[Webhook deliveries](../../concepts/deliveries.md) has retries, redelivery and replay.",
        "",
    ]
    for event, item in document.get("webhooks", {}).items():
        for _, _, operation in _operations({event: item}):
            lines += _operation(document, f"POST {event}", operation, webhook=True)
    return "\n".join(lines)


def _operation(
    document: Mapping[str, Any], title: str, operation: Mapping[str, Any], *, webhook: bool = False
) -> list[str]:
    anchor = operation.get("operationId", slug(title))
    heading = f"`{title.split(' ', 1)[1]}`" if webhook else f"`{title}`"
    lines = [f"## {heading} {{ #{anchor} }}", ""]
    if operation.get("summary"):
        lines += [f"**{_text(operation['summary'])}**", ""]
    if operation.get("description"):
        lines += [_text(operation["description"]), ""]
    if not webhook:
        lines += [_security(operation), ""]
    parameters = operation.get("parameters", [])
    if parameters:
        lines += [
            "**Parameters**" if not webhook else "**Headers**",
            "",
            "| name | in | type | required | description |",
            "| --- | --- | --- | --- | --- |",
        ]
        for parameter in parameters:
            schema = parameter.get("schema", {})
            description = parameter.get("description") or schema.get("description", "")
            lines.append(
                f"| `{parameter['name']}` | {parameter['in']} | {type_of(schema)} "
                f"| {'yes' if parameter.get('required') else 'no'} "
                f"| {_cell(_join(description, _constraints(schema)))} |"
            )
        lines.append("")
    body = operation.get("requestBody")
    if body:
        lines += _request_body(body)
    lines += _responses(operation.get("responses", {}), webhook=webhook)
    return lines


def _security(operation: Mapping[str, Any]) -> str:
    requirements = operation.get("security")
    if requirements is None or requirements == []:
        return "Authentication: none."
    names = [f"`{name}`" for requirement in requirements for name in requirement]
    return f"Authentication: {' or '.join(names)} (see the [overview](index.md#authentication))."


def _request_body(body: Mapping[str, Any]) -> list[str]:
    required = "required" if body.get("required") else "optional"
    lines = [f"**Request body** ({required})", ""]
    if body.get("description"):
        lines += [_text(body["description"]), ""]
    for media_type, content in body.get("content", {}).items():
        schema = content.get("schema", {})
        lines += [f"`{media_type}`: {type_of(schema)}", ""]
        lines += _properties_table(schema)
        if "example" in content:
            example = json.dumps(content["example"], indent=2, ensure_ascii=False)
            lines += ["Example:", "", "```json", example, "```", ""]
    return lines


def _responses(responses: Mapping[str, Any], *, webhook: bool) -> list[str]:
    if not responses:
        return []
    lines = [
        "**Responses**" if not webhook else "**What the receiver answers**",
        "",
        "| status | description | body |",
        "| --- | --- | --- |",
    ]
    for status, response in responses.items():
        description = response.get("description", "")
        match = _CODES.search(description)
        if match:
            codes = ", ".join(
                f"[`{code}`]({ERRORS_PAGE}#{code})" for code in match["codes"].split(", ")
            )
            description = f"{description[: match.start()].rstrip()} (code: {codes})"
        cell = _cell(description)
        bodies = [
            f"`{media_type}` {type_of(content.get('schema', {}))}".rstrip()
            for media_type, content in response.get("content", {}).items()
        ]
        headers = [f"`{name}` header" for name in response.get("headers", {})]
        lines.append(f"| {status} | {cell} | {'; '.join(bodies + headers) or '-'} |")
    lines.append("")
    return lines


def _schemas_page(document: Mapping[str, Any]) -> str:
    lines = [
        "# Schemas",
        "",
        "Every schema the operations and webhooks refer to, from the document's `components`.",
        "",
    ]
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        lines += [f"## {name} {{ #{name} }}", ""]
        if schema.get("description"):
            lines += [_text(schema["description"]), ""]
        if "properties" in schema:
            lines += _properties_table(schema, expand_refs=False)
        else:
            lines += [f"Type: {type_of(schema, top=True)}.", ""]
    return "\n".join(lines)


def _properties_table(schema: Schema, *, expand_refs: bool = True) -> list[str]:
    """A table of an object schema's properties; a ``$ref`` is a link, not expanded."""
    properties = schema.get("properties")
    if not properties or (expand_refs and "$ref" in schema):
        return []
    required = set(schema.get("required", []))
    lines = ["| field | type | required | description |", "| --- | --- | --- | --- |"]
    for name, prop in properties.items():
        lines.append(
            f"| `{name}` | {type_of(prop)} | {'yes' if name in required else 'no'} "
            f"| {_cell(_join(prop.get('description', ''), _constraints(prop)))} |"
        )
    extra = schema.get("additionalProperties")
    if extra and extra is not True:
        lines.append(f"| (any other) | {type_of(extra)} | no | |")
    elif extra is True:
        lines.append("| (any other) | any | no | the model's own fields |")
    lines.append("")
    return lines


# --- types and text --------------------------------------------------------------------------


def type_of(schema: Schema, *, top: bool = False) -> str:
    """A schema as a short phrase: ``string``, ``integer or null``, a link to a schema, ``array
    of …``, ``one of `a`, `b` ``."""
    if not schema:
        return "any"
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](schemas.md#{name})"
    for key in ("oneOf", "anyOf"):
        if key in schema:
            parts = _unique(type_of(part) for part in schema[key])
            return " or ".join(parts)
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    if "enum" in schema:
        values = ", ".join(f"`{value}`" for value in schema["enum"])
        return f"one of {values}" if not top else f"string, one of {values}"
    kind = schema.get("type", "object" if "properties" in schema else "any")
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind == "array":
        return f"array of {type_of(schema.get('items', {}))}"
    extra = schema.get("additionalProperties")
    if kind == "object" and isinstance(extra, dict) and not schema.get("properties"):
        return f"object of {type_of(extra)}"
    if schema.get("format"):
        return f"{kind} ({schema['format']})"
    return str(kind)


def _constraints(schema: Schema) -> str:
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return "; ".join(part for part in _unique(map(_constraints, schema[key])) if part)
    words = {
        "minLength": "at least {} characters",
        "maxLength": "at most {} characters",
        "minimum": "≥ {}",
        "maximum": "≤ {}",
        "minItems": "at least {} items",
        "maxItems": "at most {} items",
        "maxProperties": "at most {} entries",
        "pattern": "matches `{}`",
    }
    found = [text.format(_number(schema[key])) for key, text in words.items() if key in schema]
    if "default" in schema:
        found.append(f"default `{json.dumps(schema['default'])}`")
    return "; ".join(found)


def _number(value: Any) -> Any:
    """``200.0`` as ``200``: pydantic-style floats for integer bounds read badly."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _join(*parts: str) -> str:
    return ". ".join(part.rstrip(".") for part in parts if part)


def _text(text: str) -> str:
    """Prose from the document: reStructuredText's double backticks as Markdown code."""
    return re.sub(r"``([^`]+)``", r"`\1`", text).strip()


def _cell(text: str) -> str:
    """Text for a table cell: one line, ``|`` escaped, ``<`` escaped outside code spans."""
    parts = _text(text).replace("\n", " ").split("`")
    for index in range(0, len(parts), 2):  # outside code spans
        parts[index] = parts[index].replace("<", "&lt;")
    return "`".join(parts).replace("|", "\\|")
