"""AI-powered support: what a support agent checks before answering a customer.

For the tenant of the API key it lists the connected integrations and their health,
looks at the detailed status of each one that is not healthy, searches the common
data model for what the customer mentioned, and shows the recent failed calls, so the
agent knows which systems it can rely on right now.

    python examples/support_agent.py --query "order 1001" --entity-type Order
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from _gateway import ToolFailed, add_connection_options, call, connect, connection_problem

ENTITY_TYPES = [
    "Contact",
    "Product",
    "Order",
    "Invoice",
    "InventoryLevel",
    "Fulfillment",
    "Message",
    "Channel",
]


def _line(integration: dict[str, Any]) -> str:
    last = integration["last_success_at"] or "never"
    return (
        f"  {integration['connector']:<12} {integration['health']:<20} "
        f"last success: {last}, consecutive failures: {integration['consecutive_failures']}"
    )


async def run(url: str, key: str, query: str, entity_type: str, events: int) -> int:
    async with connect(url, key) as client:
        listed = await call(client, "fastn_list_integrations")
        print(f"Integrations of tenant {listed['tenant_id']}:")
        for integration in listed["integrations"]:
            print(_line(integration))

        for integration in listed["integrations"]:
            if integration["health"] in ("healthy", "unknown"):
                continue
            detail = await call(
                client, "fastn_get_integration_status", {"connector": integration["connector"]}
            )
            print(f"\n{detail['title']} needs attention ({detail['health']}):")
            print(f"  last error: {detail['last_error']}")
            for event in detail["recent_errors"]:
                print(f"  {event['at']}  {event['tool']}: {event['error']}")

        print(f"\nSearching {entity_type} entities for {query!r}:")
        try:
            found = await call(
                client,
                "fastn_search_entities",
                {"entity_type": entity_type, "query": query, "limit": 5},
            )
        except ToolFailed as failed:
            # The gateway says plainly when a search cannot be answered.
            print(f"  not available: {failed}")
        else:
            for item in found["items"]:
                print(f"  {item['id']} ({item['connector']}): {item['data']}")
            if not found["items"]:
                print("  nothing found")
            # One failing integration never hides the others' results.
            for error in found["errors"]:
                print(f"  {error['connector']} failed ({error['error']}): {error['message']}")

        history = await call(
            client, "fastn_get_event_history", {"status": "failure", "limit": events}
        )
        print(f"\nLast {events} failed events:")
        for event in history["events"]:
            where = event["tool"] or event["type"]
            print(f"  {event['at']}  {where}: {event['error']}")
        if not history["events"]:
            print("  none")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_connection_options(parser)
    parser.add_argument("--query", default="1001", help="what the customer mentioned")
    parser.add_argument("--entity-type", default="Order", choices=ENTITY_TYPES)
    parser.add_argument("--events", type=int, default=10, help="failed events to show")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(run(args.url, args.key, args.query, args.entity_type, args.events))
    except ToolFailed as failed:
        print(f"{failed.name} failed: {failed}", file=sys.stderr)
        return 1
    except Exception as exc:
        problem = connection_problem(exc)
        if problem is None:
            raise
        print(problem, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
