"""``/docs``: the API reference rendered on the server from the app's OpenAPI schema.

FastAPI's own Swagger and ReDoc pages load their scripts from a CDN; this page needs
nothing from outside (the schema itself is at ``/openapi.json``).

>>> page = render_docs({"info": {"title": "t", "version": "1"}, "paths": {"/x": {"get": {
...     "summary": "X", "responses": {"200": {"description": "ok"}}}}}})
>>> "<code>/x</code>" in page and "GET" in page
True
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

__all__ = ["render_docs"]


def _schema_text(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f'<a href="#schema-{escape(name)}">{escape(name)}</a>'
    if "anyOf" in schema:
        return " | ".join(_schema_text(s) for s in schema["anyOf"])
    kind = schema.get("type", "any")
    if kind == "array":
        items = schema.get("items") or {"prefixItems": schema.get("prefixItems", [])}
        if "prefixItems" in items:
            return "[" + ", ".join(_schema_text(s) for s in items["prefixItems"]) + "]"
        return f"array of {_schema_text(items)}"
    text = escape(str(kind))
    bounds = [f"{k} {schema[k]}" for k in ("minimum", "maximum") if k in schema]
    if "enum" in schema:
        bounds.append("one of " + ", ".join(map(str, schema["enum"])))
    return text + (f" ({escape('; '.join(bounds))})" if bounds else "")


def _operation(path: str, method: str, op: dict[str, Any]) -> str:
    rows = []
    for p in op.get("parameters", []):
        required = "required" if p.get("required") else "optional"
        rows.append(f"<li><code>{escape(p['name'])}</code> ({escape(p['in'])}, {required}): "
                    f"{_schema_text(p.get('schema', {}))} {escape(p.get('description', ''))}</li>")
    responses = []
    for status, resp in op.get("responses", {}).items():
        content = resp.get("content", {})
        kinds = ", ".join(
            f"{escape(ctype)} {_schema_text(body.get('schema', {}))}" for ctype, body in content.items())
        responses.append(f"<li><b>{escape(status)}</b> {escape(resp.get('description', ''))}"
                         f"{' — ' + kinds if kinds else ''}</li>")
    return (f'<section class="op"><h3><span class="method">{method.upper()}</span> '
            f"<code>{escape(path)}</code></h3><p>{escape(op.get('summary', ''))}</p>"
            f"<p>{escape(op.get('description', ''))}</p>"
            + (f"<h4>Parameters</h4><ul>{''.join(rows)}</ul>" if rows else "")
            + f"<h4>Responses</h4><ul>{''.join(responses)}</ul></section>")


def render_docs(openapi: dict[str, Any]) -> str:
    info = openapi.get("info", {})
    ops = [_operation(path, method, op) for path, methods in openapi.get("paths", {}).items()
           for method, op in methods.items()]
    schemas = []
    for name, schema in openapi.get("components", {}).get("schemas", {}).items():
        required = set(schema.get("required", []))
        props = "".join(
            f"<li><code>{escape(prop)}</code>{'' if prop in required else ' (optional)'}: "
            f"{_schema_text(sub)} {escape(sub.get('description', ''))}</li>"
            for prop, sub in schema.get("properties", {}).items())
        body = f"<ul>{props}</ul>" if props else f"<pre>{escape(json.dumps(schema, indent=1))}</pre>"
        schemas.append(f'<section id="schema-{escape(name)}"><h3>{escape(name)}</h3>'
                       f"<p>{escape(schema.get('description', ''))}</p>{body}</section>")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(info.get('title', 'API'))} — API</title>
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 960px; color: #222; }}
code {{ background: #f3f3f3; padding: 0 .25em; }} .op {{ border-top: 1px solid #ddd; }}
.method {{ color: #fff; background: #2a6ebb; padding: 0 .4em; border-radius: 3px; font-size: 12px; }}
h4 {{ margin: .4em 0 .1em; }} ul {{ margin-top: .2em; }}
</style></head><body>
<h1>{escape(info.get('title', 'API'))} <small>{escape(str(info.get('version', '')))}</small></h1>
<p>{escape(info.get('description', ''))}</p>
<p>Machine-readable schema: <a href="openapi.json">openapi.json</a> · <a href="./">dashboard</a></p>
<h2>Routes</h2>{''.join(ops)}
<h2>Schemas</h2>{''.join(schemas)}
</body></html>"""
