"""In-product assistant: answer a user's request with the tools their tenant has.

The tools an assistant sees depend on the tenant: each tenant gets the tools of the
services it connected, with typed input schemas. This script shows that tool set,
picks the tool that best matches a request (a plain word match here; an LLM would do
the choosing in a real product), checks the arguments against the tool's schema and
calls it.

    python examples/in_product_assistant.py --ask "list my slack channels" --args '{"limit": 5}'
    python examples/in_product_assistant.py --tool slack_send_message \\
        --args '{"channel": "C001", "text": "Deployed"}'
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from typing import Any

import mcp_types as types
from _gateway import (
    ToolFailed,
    add_connection_options,
    call,
    connect,
    connection_problem,
    dump,
)
from jsonschema import Draft202012Validator

NATIVE_PREFIX = "fastn_"


def words(text: str) -> set[str]:
    return {w for w in re.split(r"[^a-z0-9]+", text.lower()) if len(w) > 2}


def choose(tools: list[types.Tool], request: str) -> types.Tool | None:
    """The connector tool whose name and description share the most words with ``request``."""
    wanted = words(request)
    scored = [
        (len(wanted & words(f"{t.name} {t.title or ''} {t.description or ''}")), t.name, t)
        for t in tools
    ]
    scored = [s for s in scored if s[0] > 0]
    if not scored:
        return None
    return max(scored, key=lambda s: (s[0], s[1]))[2]


def schema_problems(tool: types.Tool, arguments: dict[str, Any]) -> list[str]:
    validator = Draft202012Validator(tool.input_schema)
    return [
        f"{'.'.join(str(p) for p in e.absolute_path) or 'arguments'}: {e.message}"
        for e in validator.iter_errors(arguments)
    ]


async def run(
    url: str, key: str, request: str | None, name: str | None, arguments: dict[str, Any]
) -> int:
    async with connect(url, key) as client:
        listed = (await client.list_tools()).tools
        dynamic = [t for t in listed if not t.name.startswith(NATIVE_PREFIX)]
        by_connector: dict[str, list[str]] = {}
        for tool in dynamic:
            by_connector.setdefault(tool.name.split("_", 1)[0], []).append(tool.name)
        print(f"This tenant's assistant can use {len(dynamic)} tools:")
        for connector, names in sorted(by_connector.items()):
            print(f"  {connector}: {', '.join(names)}")

        tool = next((t for t in dynamic if t.name == name), None) if name else None
        if name and tool is None:
            print(f"\nNo tool {name!r} for this tenant.")
            return 1
        if tool is None and request:
            tool = choose(dynamic, request)
            if tool is None:
                print(f"\nNo tool matches {request!r}.")
                return 1
            print(f"\nFor {request!r} the assistant picks {tool.name}: {tool.description}")
        if tool is None:
            return 0

        problems = schema_problems(tool, arguments)
        if problems:
            required = tool.input_schema.get("required", [])
            print(
                f"\n{tool.name} needs other arguments (required: {', '.join(required) or 'none'}):"
            )
            for problem in problems:
                print(f"  {problem}")
            return 1
        print(f"\nCalling {tool.name} with {json.dumps(arguments)}")
        try:
            result = await call(client, tool.name, arguments)
        except ToolFailed as failed:
            print(f"The call failed: {failed}")
            return 1
        print(dump(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_connection_options(parser)
    parser.add_argument("--ask", default=None, help="the user's request, in words")
    parser.add_argument("--tool", default=None, help="call this tool instead of choosing one")
    parser.add_argument("--args", default="{}", help="the tool's arguments as a JSON object")
    args = parser.parse_args(argv)
    try:
        arguments = json.loads(args.args)
    except json.JSONDecodeError as exc:
        parser.error(f"--args is not JSON: {exc}")
    if not isinstance(arguments, dict):
        parser.error("--args must be a JSON object")
    try:
        return asyncio.run(run(args.url, args.key, args.ask, args.tool, arguments))
    except Exception as exc:
        problem = connection_problem(exc)
        if problem is None:
            raise
        print(problem, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
