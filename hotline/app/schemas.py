"""The JSON Schema of every WebSocket message the service sends (docs/websocket.schema.json).

``python -m hotline.app.schemas`` writes it; ``--check`` fails (status 1) when the file is not
what the models give (tests/unit/test_websocket_messages.py runs the same comparison). The HTTP API
has its OpenAPI document at ``/api/openapi.json``; docs/websocket.md describes the messages.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from hotline.screenpop.schemas import AgentMessage
from hotline.supervision.schemas import LiveMessage

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "websocket.schema.json"
# Each WebSocket, the name of its messages' schema and their type.
SOCKETS: dict[str, tuple[str, Any]] = {
    "/api/agent/ws": ("AgentMessage", AgentMessage),
    "/api/live/ws": ("LiveMessage", LiveMessage),
}


def websocket_schema() -> dict[str, Any]:
    keys, defs = TypeAdapter.json_schemas(
        [(name, "serialization", TypeAdapter(t)) for name, t in SOCKETS.values()],
        ref_template="#/$defs/{model}",
    )
    found: dict[str, Any] = dict(defs.get("$defs", {}))
    for name, _ in SOCKETS.values():
        schema = keys[(name, "serialization")]
        if schema != {"$ref": f"#/$defs/{name}"}:  # a union: named here
            found[name] = schema
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "hotline WebSocket messages (server to page)",
        "description": (
            'Each socket takes {"token": ...} as its first message and then sends JSON text '
            'messages with a "type" (docs/websocket.md). Generated from the pydantic models '
            "by `python -m hotline.app.schemas`; the HTTP API is /api/openapi.json."
        ),
        "anyOf": [{"$ref": f"#/$defs/{name}"} for name, _ in SOCKETS.values()],
        "websockets": {path: {"$ref": f"#/$defs/{name}"} for path, (name, _) in SOCKETS.items()},
        "$defs": dict(sorted(found.items())),
    }


def render() -> str:
    return json.dumps(websocket_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hotline.app.schemas", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the file is stale")
    parser.add_argument("--out", type=Path, default=SCHEMA_FILE)
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is stale: run python -m hotline.app.schemas", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
