"""Run every server scenario of the MCP conformance suite against the gateway.

    .venv/bin/python tests/interop/run_conformance.py [--results DIR] [--scenario NAME]
        [--baseline FILE]

Starts ``fastn-gen serve`` on a free loopback port with the shipped ``generated/``
catalog and ``conformance-tenants.yaml`` (``--anonymous-tenant acme``: the suite sends
no credentials), runs ``conformance server --suite all`` (the pinned
``@modelcontextprotocol/conformance``) and compares each scenario's outcome with
``conformance-baseline.yml``. Exits 1 when a scenario outside the baseline fails, when a
baseline scenario passes (the entry is stale), or when the baseline names a scenario the
suite does not have; 0 otherwise.

A scenario fails when any of its checks is FAILURE or WARNING, the rule the suite's own
``--expected-failures`` option applies.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

INTEROP = Path(__file__).resolve().parent
REPO_ROOT = INTEROP.parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import yaml  # noqa: E402

from tests.interop.node_env import CONFORMANCE_CLI, ensure_node_modules  # noqa: E402

BASELINE = INTEROP / "conformance-baseline.yml"
TENANTS = INTEROP / "conformance-tenants.yaml"
GENERATED = REPO_ROOT / "generated"
LISTENING = re.compile(r"listening on (http://\S+/mcp)")
LISTED = re.compile(r"^\s+- (\S+) \[")
RESULT_DIR = re.compile(r"^server-(?P<scenario>.+)-\d{4}-\d\d-\d\dT[\d-]+Z$")
FAILING = ("FAILURE", "WARNING")


@dataclass(frozen=True)
class Outcome:
    scenario: str
    checks: list[dict[str, Any]]

    @property
    def failed(self) -> bool:
        return not self.checks or any(c.get("status") in FAILING for c in self.checks)

    def problems(self) -> list[str]:
        if not self.checks:
            return ["no results were written"]
        return [
            f"{c.get('id')}: {c.get('status')}: "
            f"{c.get('errorMessage') or (c.get('details') or {}).get('message') or ''}"
            for c in self.checks
            if c.get("status") in FAILING
        ]


def load_baseline(path: Path) -> dict[str, str]:
    """``server:`` scenario -> reason; every entry must give a reason."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    server = doc.get("server") or {}
    if not isinstance(server, dict):
        raise SystemExit(f"{path}: 'server' must map each scenario to the reason it fails")
    missing = [name for name, reason in server.items() if not str(reason or "").strip()]
    if missing:
        raise SystemExit(f"{path}: no reason given for {', '.join(missing)}")
    return {str(name): " ".join(str(reason).split()) for name, reason in server.items()}


def node_command(node: Path, *args: str) -> list[str]:
    return [str(node), str(CONFORMANCE_CLI), *args]


def list_scenarios(node: Path) -> list[str]:
    done = subprocess.run(
        node_command(node, "list", "--server"),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    names = [m.group(1) for line in done.stdout.splitlines() if (m := LISTED.match(line))]
    if not names:
        raise SystemExit(f"the conformance suite listed no server scenarios:\n{done.stdout}")
    return names


def serve_command(config: Path) -> list[str]:
    """``fastn-gen serve`` from this interpreter's environment."""
    script = Path(sys.executable).with_name("fastn-gen")
    entry = [str(script)] if script.exists() else [sys.executable, "-m", "fastn_gen.cli"]
    return [
        *entry,
        "serve",
        "--config",
        str(config),
        "--generated",
        str(GENERATED),
        "--anonymous-tenant",
        "acme",
        "--port",
        "0",
    ]


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@contextmanager
def gateway(workdir: Path) -> Iterator[tuple[str, Path]]:
    """The gateway on a free port, its state kept in ``workdir``: (MCP URL, log path)."""
    config = workdir / TENANTS.name
    shutil.copyfile(TENANTS, config)
    log_path = workdir / "gateway.log"
    env = dict(os.environ, FASTN_DATA_DIR=str(workdir / "data"), PYTHONUNBUFFERED="1")
    # The gateway of this checkout, even when the environment has another installed.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.pop("FASTN_STORE_URL", None)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            serve_command(config),
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            text = log_path.read_text(encoding="utf-8", errors="replace")
            found = LISTENING.search(text)
            if found and _healthy(found.group(1).removesuffix("/mcp")):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the gateway did not start (exit {proc.poll()}):\n{text}")
            time.sleep(0.05)
        yield found.group(1), log_path
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def run_suite(node: Path, url: str, results: Path, scenario: str | None) -> None:
    args = ["server", "--url", url, "-o", str(results)]
    args += ["--scenario", scenario] if scenario else ["--suite", "all"]
    with (results / "conformance-output.txt").open("wb") as out:
        # Its exit status only says whether something failed; the checks tell what.
        subprocess.run(
            node_command(node, *args),
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=600,
            check=False,
        )


def read_outcomes(results: Path, scenarios: list[str]) -> dict[str, Outcome]:
    checks: dict[str, list[dict[str, Any]]] = {name: [] for name in scenarios}
    for path in results.iterdir():
        found = RESULT_DIR.match(path.name)
        if found and (path / "checks.json").is_file():
            checks[found.group("scenario")] = json.loads((path / "checks.json").read_text())
    return {name: Outcome(name, found) for name, found in checks.items()}


def report(outcomes: dict[str, Outcome], baseline: dict[str, str], source: Path = BASELINE) -> int:
    unexpected = [o for o in outcomes.values() if o.failed and o.scenario not in baseline]
    stale = [o for o in outcomes.values() if not o.failed and o.scenario in baseline]
    unknown = sorted(set(baseline) - set(outcomes))
    for outcome in outcomes.values():
        if not outcome.failed:
            mark = "STALE  " if outcome.scenario in baseline else "pass   "
        else:
            mark = "expect " if outcome.scenario in baseline else "FAIL   "
        print(f"{mark} {outcome.scenario}")
        if outcome.failed and outcome.scenario not in baseline:
            for problem in outcome.problems():
                print(f"          {problem}")
    for outcome in stale:
        print(f"\nstale baseline entry, {outcome.scenario} now passes: remove it from {source}")
    for name in unknown:
        print(f"\nbaseline names {name}, which the conformance suite does not have")
    passed = sum(not o.failed for o in outcomes.values())
    print(
        f"\nconformance: {len(outcomes)} scenarios; {passed} pass, "
        f"{len(outcomes) - passed} fail ({len(outcomes) - passed - len(unexpected)} expected "
        f"by the baseline, {len(unexpected)} unexpected); {len(stale)} stale and "
        f"{len(unknown)} unknown baseline entries"
    )
    return 1 if unexpected or stale or unknown else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, help="keep the suite's results in this folder")
    parser.add_argument("--scenario", help="run only this scenario")
    parser.add_argument("--baseline", type=Path, default=BASELINE, help=f"default: {BASELINE}")
    args = parser.parse_args(argv)
    baseline = load_baseline(args.baseline)
    node = ensure_node_modules()
    scenarios = list_scenarios(node)
    if args.scenario:
        if args.scenario not in scenarios:
            raise SystemExit(f"unknown scenario {args.scenario}; the suite has {scenarios}")
        scenarios = [args.scenario]
        baseline = {k: v for k, v in baseline.items() if k == args.scenario}
    with tempfile.TemporaryDirectory(prefix="fastn-conformance-") as tmp:
        workdir = Path(tmp)
        results = args.results or workdir / "results"
        results.mkdir(parents=True, exist_ok=True)
        with gateway(workdir) as (url, log_path):
            print(f"conformance: {len(scenarios)} server scenarios against {url}")
            run_suite(node, url, results, args.scenario)
        outcomes = read_outcomes(results, scenarios)
        status = report(outcomes, baseline, args.baseline)
        if status:
            log = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
            print("\ngateway log (last 60 lines):", *log[-60:], sep="\n")
            if args.results:
                print(f"suite output: {results / 'conformance-output.txt'}")
    return status


if __name__ == "__main__":
    sys.exit(main())
