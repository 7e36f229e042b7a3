"""OpenAPI helpers: routes whose body comes as JSON or as a multipart form document both."""
from __future__ import annotations


def body_doc(json_model: str, form_model: str) -> dict:
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"$ref": f"#/components/schemas/{json_model}"}},
        "multipart/form-data": {"schema": {"$ref": f"#/components/schemas/{form_model}"}},
    }}}


def add_body_schemas(schema: dict, models: list) -> dict:
    """Put the body models (which no route names as a parameter) into components.schemas."""
    from pydantic.json_schema import models_json_schema

    _, defs = models_json_schema([(m, "validation") for m in models], ref_template="#/components/schemas/{model}")
    schema.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))
    return schema
