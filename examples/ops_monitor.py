"""Automated operations: check every integration, recent failures and quotas; notify.

Run it from cron or a scheduler. It checks the health of every integration of the
tenant (optionally running each connector's health check now), collects the failed
events of the last hours, compares usage with every quota, and reports what needs
attention: printed, and POSTed as JSON to a webhook (Slack incoming webhook, PagerDuty
Events, your own endpoint) when --webhook is given. Exits 1 when something needs
attention, 0 otherwise.

    python examples/ops_monitor.py --since-hours 24 --warn-at 0.8 --health-checks
    python examples/ops_monitor.py --webhook https://hooks.example.com/ops
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
from _gateway import (
    ToolFailed,
    add_connection_options,
    call,
    connect,
    connection_problem,
    dump,
)
from mcp import Client


async def integration_alerts(client: Client, health_checks: bool) -> list[dict[str, Any]]:
    alerts = []
    listed = await call(client, "fastn_list_integrations")
    for integration in listed["integrations"]:
        connector = integration["connector"]
        arguments = {"connector": connector, "recent_errors": 3}
        if health_checks and integration["health_check"]:
            arguments["run_health_check"] = True
        try:
            detail = await call(client, "fastn_get_integration_status", arguments)
        except ToolFailed as failed:  # e.g. the health check was refused by a quota
            alerts.append({"kind": "integration", "connector": connector, "message": str(failed)})
            continue
        check = detail["health_check_result"]
        if detail["health"] in ("healthy", "unknown") and (check is None or check["ok"]):
            continue
        message = f"{detail['title']} is {detail['health']}"
        if check is not None and not check["ok"]:
            message += f"; health check failed: {check['error']}"
        elif detail["last_error"]:
            message += f"; last error: {detail['last_error']}"
        alerts.append(
            {
                "kind": "integration",
                "connector": connector,
                "health": detail["health"],
                "consecutive_failures": detail["consecutive_failures"],
                "message": message,
            }
        )
    return alerts


async def failure_alerts(client: Client, since: datetime) -> list[dict[str, Any]]:
    failures: dict[tuple[str, str], list[dict[str, Any]]] = {}
    cursor = None
    while True:
        arguments: dict[str, Any] = {"status": "failure", "since": since.isoformat(), "limit": 200}
        if cursor:
            arguments["cursor"] = cursor
        page = await call(client, "fastn_get_event_history", arguments)
        for event in page["events"]:
            key = (event["type"], event["tool"] or event["connector"] or "-")
            failures.setdefault(key, []).append(event)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    return [
        {
            "kind": "failures",
            "type": kind,
            "tool": tool,
            "count": len(events),
            "last_at": events[0]["at"],
            "message": (
                f"{len(events)} failed {kind} event(s) for {tool}; latest: {events[0]['error']}"
            ),
        }
        for (kind, tool), events in sorted(failures.items(), key=lambda item: -len(item[1]))
    ]


async def quota_alerts(client: Client, warn_at: float) -> list[dict[str, Any]]:
    usage = await call(client, "fastn_get_usage_summary")
    alerts = []
    for quota in usage["quotas"]:
        share = quota["used"] / quota["limit_value"] if quota["limit_value"] else 1.0
        if share < warn_at:
            continue
        where = quota["target"] or "tenant"
        alerts.append(
            {
                "kind": "quota",
                "limit": quota["limit"],
                "scope": quota["scope"],
                "target": quota["target"],
                "used": quota["used"],
                "limit_value": quota["limit_value"],
                "resets_at": quota["resets_at"],
                "message": (
                    f"{quota['limit']} ({where}): {quota['used']} of {quota['limit_value']} "
                    f"used ({share:.0%}); resets at {quota['resets_at']}"
                ),
            }
        )
    return alerts


class NotifyFailed(Exception):
    pass


async def notify(webhook: str, report: dict[str, Any]) -> None:
    try:
        async with httpx2.AsyncClient(timeout=10) as http:
            response = await http.post(webhook, json=report)
            response.raise_for_status()
    except httpx2.HTTPError as exc:
        raise NotifyFailed(str(exc)) from exc


async def run(args: argparse.Namespace) -> int:
    since = datetime.now(UTC) - timedelta(hours=args.since_hours)
    async with connect(args.url, args.key) as client:
        tenant = (await call(client, "fastn_list_integrations"))["tenant_id"]
        alerts = await integration_alerts(client, args.health_checks)
        alerts += await failure_alerts(client, since)
        alerts += await quota_alerts(client, args.warn_at)
    report = {
        "tenant_id": tenant,
        "checked_at": datetime.now(UTC).isoformat(),
        "ok": not alerts,
        "alerts": alerts,
        # Slack incoming webhooks show "text"; other receivers read the fields.
        "text": f"fastn-gen ops check for {tenant}: "
        + ("all clear" if not alerts else "; ".join(a["message"] for a in alerts)),
    }
    if args.json:
        print(dump(report))
    else:
        summary = "all clear" if not alerts else f"{len(alerts)} alert(s)"
        print(f"Ops check for tenant {tenant}: {summary}")
        for alert in alerts:
            print(f"  [{alert['kind']}] {alert['message']}")
    if args.webhook and (alerts or args.always_notify):
        await notify(args.webhook, report)
        print(f"notified {args.webhook}")
    return 1 if alerts else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_connection_options(parser)
    parser.add_argument("--since-hours", type=float, default=24.0, help="failures window")
    parser.add_argument(
        "--warn-at", type=float, default=0.8, help="warn when a quota is this much used (0-1)"
    )
    parser.add_argument(
        "--health-checks", action="store_true", help="run each connector's health check now"
    )
    parser.add_argument("--webhook", default=None, help="POST the report (JSON) to this URL")
    parser.add_argument(
        "--always-notify", action="store_true", help="POST even when everything is fine"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(run(args))
    except ToolFailed as failed:
        print(f"{failed.name} failed: {failed}", file=sys.stderr)
        return 2
    except NotifyFailed as exc:
        print(f"could not notify {args.webhook}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        problem = connection_problem(exc)
        if problem is None:
            raise
        print(problem, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
