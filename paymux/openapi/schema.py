"""Small builders for the OpenAPI documents, so each dialect's document reads like its doc page.

The documents are written by hand from the specs and docs/dialects/*.md; these
helpers only spell JSON Schema and OpenAPI 3.1 the same way everywhere.
Response objects are closed (`additionalProperties: false`) and list what is
always present as required: the schemathesis run in tests/fuzz checks every
reply against them, so an undocumented field or a missing one fails CI.
Patterns are anchored (`^…$`) because JSON Schema patterns are searches.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

# What the shared validators accept (paymux/dialects/fields.py): a text field
# may not hold CR, LF or NUL. Generators read this too, so "valid" cases are valid.
NO_CONTROL = "^[^\\r\\n\\x00]*$"
# An http(s) URL as services/urls.check_url takes it: a host, printable ASCII, no user:password.
HTTP_URL = "^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[!-~]*)?$"


def string(
    description: str = "",
    *,
    min_len: int | None = None,
    max_len: int | None = None,
    pattern: str | None = None,
    enum: list[str] | None = None,
    example: str | None = None,
) -> Schema:
    schema: Schema = {"type": "string"}
    if enum is not None:
        schema["enum"] = enum
    if min_len is not None:
        schema["minLength"] = min_len
    if max_len is not None:
        schema["maxLength"] = max_len
    if pattern is not None:
        schema["pattern"] = pattern
    if description:
        schema["description"] = description
    if example is not None:
        schema["examples"] = [example]
    return schema


def text(description: str = "", *, max_len: int, min_len: int = 1) -> Schema:
    """Free text as the shared validator takes it: a length limit and no CR/LF/NUL."""
    return string(description, min_len=min_len, max_len=max_len, pattern=NO_CONTROL)


def integer(
    description: str = "", *, minimum: int | None = None, maximum: int | None = None
) -> Schema:
    schema: Schema = {"type": "integer"}
    if minimum is not None:
        schema["minimum"] = minimum
    if maximum is not None:
        schema["maximum"] = maximum
    if description:
        schema["description"] = description
    return schema


def const(value: Any, description: str = "") -> Schema:
    schema: Schema = {"const": value}
    if description:
        schema["description"] = description
    return schema


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def any_of(*schemas: Schema, description: str = "") -> Schema:
    schema: Schema = {"anyOf": list(schemas)}
    if description:
        schema["description"] = description
    return schema


def array(
    items: Schema, description: str = "", *, min_items: int = 0, max_items: int = 0
) -> Schema:
    schema: Schema = {"type": "array", "items": items}
    if min_items:
        schema["minItems"] = min_items
    if max_items:
        schema["maxItems"] = max_items
    if description:
        schema["description"] = description
    return schema


def obj(
    properties: dict[str, Schema],
    required: list[str] | tuple[str, ...] | None = None,
    *,
    closed: bool = True,
    description: str = "",
) -> Schema:
    """An object; `required=None` means every property is always present."""
    schema: Schema = {"type": "object", "properties": properties}
    names = list(properties) if required is None else list(required)
    if names:
        schema["required"] = names
    if closed:
        schema["additionalProperties"] = False
    if description:
        schema["description"] = description
    return schema


def one_required(schema: Schema, *names: str, exactly: bool) -> Schema:
    """`schema` requiring one of `names`: exactly one (skillpay's 二选一), or at least one."""
    choices = [{"required": [name]} for name in names]
    return {**schema, ("oneOf" if exactly else "anyOf"): choices}


def body(media: dict[str, Schema], *, required: bool = True, description: str = "") -> Schema:
    spec: Schema = {
        "required": required,
        "content": {kind: {"schema": schema} for kind, schema in media.items()},
    }
    if description:
        spec["description"] = description
    return spec


def json_body(schema: Schema, *, required: bool = True, description: str = "") -> Schema:
    return body({"application/json": schema}, required=required, description=description)


def param(
    name: str, where: str, schema: Schema, *, required: bool = False, description: str = ""
) -> Schema:
    spec: Schema = {"name": name, "in": where, "required": required, "schema": schema}
    if description:
        spec["description"] = description
    return spec


def reply(
    description: str,
    schema: Schema,
    *,
    media_type: str = "application/json",
    headers: dict[str, Schema] | None = None,
    links: dict[str, Schema] | None = None,
) -> Schema:
    spec: Schema = {"description": description, "content": {media_type: {"schema": schema}}}
    if headers:
        spec["headers"] = headers
    if links:
        spec["links"] = links
    return spec


def link(operation_id: str, description: str, **body_fields: str) -> Schema:
    """A link that fills the next request's body fields from this reply (`$response.body#/…`)."""
    return {
        "operationId": operation_id,
        "description": description,
        "requestBody": {name: f"$response.body#{pointer}" for name, pointer in body_fields.items()},
    }


def operation(
    operation_id: str,
    summary: str,
    responses: dict[str, Schema],
    *,
    description: str = "",
    request_body: Schema | None = None,
    parameters: list[Schema] | None = None,
    security: list[dict[str, list[str]]] | None = None,
    tags: list[str] | None = None,
) -> Schema:
    spec: Schema = {"operationId": operation_id, "summary": summary}
    if description:
        spec["description"] = description
    if tags:
        spec["tags"] = tags
    if parameters:
        spec["parameters"] = parameters
    if request_body is not None:
        spec["requestBody"] = request_body
    if security is not None:
        spec["security"] = security
    spec["responses"] = responses
    return spec


def document(
    title: str,
    description: str,
    paths: dict[str, dict[str, Schema]],
    *,
    server_url: str,
    security_schemes: dict[str, Schema] | None = None,
    schemas: dict[str, Schema] | None = None,
) -> Schema:
    doc: Schema = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1", "description": description},
        "servers": [{"url": server_url or "/"}],
        "paths": paths,
    }
    components: Schema = {}
    if schemas:
        components["schemas"] = schemas
    if security_schemes:
        components["securitySchemes"] = security_schemes
    if components:
        doc["components"] = components
    return doc


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}
