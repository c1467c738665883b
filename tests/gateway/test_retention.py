"""Retention in a served gateway: ``--retention-days`` reaches the background pruner.

A real gateway subprocess on a SQLite store seeded with old and recent rows; the pass
interval is shortened through ``FASTN_RETENTION_INTERVAL_S``.
"""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from fastn_gen.cli import main as cli_main
from fastn_gen.gateway import serve
from fastn_gen.gateway.serve_options import forwarded, retention_policy
from fastn_gen.gateway.tenancy import hash_api_key
from fastn_gen.observability.metrics import series
from fastn_gen.store.ids import new_event_id
from fastn_gen.store.records import CounterLimit, Event, EventQuery
from fastn_gen.store.sqlite import SQLiteStore
from tests.gateway.fixtures.gateway_process import GatewayProcess, generated_dir

NOW = datetime.now(UTC)
OLD = NOW - timedelta(days=100)
BOUND_S = 20.0  # how long a pass may take to show, at most (the interval is 0.2 s)


def _event(at: datetime) -> Event:
    return Event(id=new_event_id(at), tenant_id="acme", at=at, type="tool_call", status="success")


async def _seed(path: Path, events: list[datetime], periods: Sequence[str] = ()) -> None:
    async with SQLiteStore(path) as store:
        await store.put_secret_blobs([], events=[_event(at) for at in events])
        for period in periods:
            assert await store.consume("acme", [CounterLimit("calls", period, None)]) is None


async def _stored(path: Path) -> tuple[list[datetime], list[str]]:
    async with SQLiteStore(path) as store:
        page = await store.list_events("acme", EventQuery(limit=1000))
        usage = await store.usage("acme")
    return sorted(e.at for e in page.events), sorted(r.period for r in usage)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[tuple[Path, Path, Path]]:
    config = tmp_path / "tenants.yaml"
    config.write_text(
        "version: 1\ndata_dir: data\nplans:\n  free: {}\ntenants:\n  - id: acme\n"
        "    plan: free\n    api_keys:\n"
        f'      - {{id: acme-main, hash: "{hash_api_key("acme-" + "k" * 40)}"}}\n',
        encoding="utf-8",
    )
    dead = "http://127.0.0.1:9"  # never called: these tests make no tool calls
    generated = generated_dir(tmp_path / "generated", slack_base=dead, shopify_base=dead)
    yield config, generated, tmp_path / "data" / "fastn.db"


def _wait_for(check: Callable[[], bool], what: str, gateway: GatewayProcess) -> None:
    deadline = time.monotonic() + BOUND_S
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} within {BOUND_S}s:\n{gateway.log()}")


def test_the_gateway_prunes_old_rows_at_start_and_then_periodically(
    project: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    config, generated, db = project
    month = f"{NOW.year:04d}-{NOW.month:02d}"
    asyncio.run(_seed(db, [OLD, OLD + timedelta(seconds=1), NOW], ["2020-01", month]))
    gateway = GatewayProcess(
        config,
        generated,
        tmp_path / "gateway.log",
        env={"FASTN_RETENTION_INTERVAL_S": "0.2"},
        extra=["--retention-days", "30"],
    ).start()
    try:
        _wait_for(lambda: asyncio.run(_stored(db))[0] == [NOW], "old events pruned", gateway)
        assert "retention: 30 days, pruned every 0.2s" in gateway.log()
        assert asyncio.run(_stored(db))[1] == [month]  # the current month's counter stays
        # Rows that become old while it serves go at a later pass.
        asyncio.run(_seed(db, [OLD + timedelta(seconds=n) for n in range(5, 10)]))
        _wait_for(lambda: asyncio.run(_stored(db))[0] == [NOW], "later rows pruned", gateway)
        with urllib.request.urlopen(gateway.base + "/metrics", timeout=5) as response:
            text = response.read().decode()
        found = series(text, "fastn_store_pruned_rows_total")
        pruned = {labels["table"]: value for labels, value in found}
        assert pruned["events"] == 7 and pruned["usage"] == 1
        assert "retention: deleted 2 events, 1 usage counters" in gateway.log()
    finally:
        gateway.stop()


def test_retention_days_zero_keeps_everything(
    project: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    config, generated, db = project
    asyncio.run(_seed(db, [OLD, NOW]))
    gateway = GatewayProcess(
        config,
        generated,
        tmp_path / "gateway.log",
        env={"FASTN_RETENTION_INTERVAL_S": "0.2", "FASTN_RETENTION_DAYS": "0"},
    ).start()
    try:
        _wait_for(lambda: "retention: off" in gateway.log(), "retention reported off", gateway)
    finally:
        gateway.stop()
    assert asyncio.run(_stored(db))[0] == [OLD, NOW]
    assert "retention: deleted" not in gateway.log()


def test_the_option_and_its_variable_reach_the_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed = serve._parser(Path("generated")).parse_args(["http", "--retention-days", "7"])
    assert parsed.retention_days == 7
    monkeypatch.setenv("FASTN_RETENTION_DAYS", "12")
    assert serve._parser(Path("generated")).parse_args(["http"]).retention_days == 12
    monkeypatch.delenv("FASTN_RETENTION_DAYS")
    assert serve._parser(Path("generated")).parse_args(["http"]).retention_days == 90
    policy = retention_policy(7, {"FASTN_RETENTION_INTERVAL_S": "60"})
    assert (policy.days, policy.interval_s, policy.enabled) == (7, 60.0, True)
    assert not retention_policy(0, {}).enabled
    with pytest.raises(ValueError):
        retention_policy(7, {"FASTN_RETENTION_INTERVAL_S": "0"})
    values = {
        "max_body_bytes": 1,
        "upstream_connect_timeout": 1.0,
        "retry_attempts": 1,
        "breaker_failures": 0,
        "breaker_cooldown": 1.0,
        "retention_days": 3,
    }
    argv = forwarded(values)  # what `fastn-gen serve` hands the gateway
    assert argv[argv.index("--retention-days") + 1] == "3"


def test_store_prune_command(project: tuple[Path, Path, Path]) -> None:
    config, _, db = project
    asyncio.run(_seed(db, [OLD, OLD + timedelta(seconds=1), NOW], ["2020-01"]))
    runner = CliRunner()
    args = ["store", "prune", "--config", str(config), "--older-than", "30"]
    dry = runner.invoke(cli_main, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert dry.output.startswith("would delete 2 events, 1 usage counters, 0 flow runs")
    assert asyncio.run(_stored(db)) == ([OLD, OLD + timedelta(seconds=1), NOW], ["2020-01"])
    done = runner.invoke(cli_main, [*args, "--json"])
    assert done.exit_code == 0, done.output
    assert '"events": 2' in done.output and '"usage": 1' in done.output
    assert asyncio.run(_stored(db)) == ([NOW], [])
    again = runner.invoke(cli_main, args)
    assert again.output.startswith("deleted 0 events, 0 usage counters")
