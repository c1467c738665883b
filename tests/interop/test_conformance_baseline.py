"""The conformance baseline and the verdict of ``run_conformance.py`` (the run itself is
``.venv/bin/python tests/interop/run_conformance.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.interop.node_env import ensure_node_modules
from tests.interop.run_conformance import BASELINE, Outcome, list_scenarios, load_baseline, report


def outcome(name: str, *statuses: str) -> Outcome:
    return Outcome(name, [{"id": name, "status": status} for status in statuses])


def test_every_baseline_entry_is_a_scenario_of_the_pinned_suite_with_a_reason() -> None:
    baseline = load_baseline(BASELINE)
    scenarios = list_scenarios(ensure_node_modules())
    assert set(baseline) <= set(scenarios)
    # What the gateway must pass whatever else changes: the handshake, ping, tools/list
    # and DNS-rebinding protection.
    for required in ("server-initialize", "ping", "tools-list", "dns-rebinding-protection"):
        assert required in scenarios and required not in baseline
    assert all(len(reason) > 10 for reason in baseline.values())


def test_a_baseline_entry_without_a_reason_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "baseline.yml"
    path.write_text("server:\n  tools-call-image: fixture tool\n  ping:\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="no reason given for ping"):
        load_baseline(path)


def test_the_verdict_fails_on_new_failures_stale_entries_and_unknown_names(
    capsys: pytest.CaptureFixture[str],
) -> None:
    baseline = {"tools-call-image": "fixture tool"}
    expected = {
        "ping": outcome("ping", "SUCCESS"),
        "tools-call-image": outcome("tools-call-image", "FAILURE"),
    }
    assert report(expected, baseline) == 0

    warned = expected | {"ping": outcome("ping", "SUCCESS", "WARNING")}
    assert report(warned, baseline) == 1
    assert "FAIL    ping" in capsys.readouterr().out

    fixed = expected | {"tools-call-image": outcome("tools-call-image", "SUCCESS", "INFO")}
    assert report(fixed, baseline) == 1
    assert "stale baseline entry, tools-call-image now passes" in capsys.readouterr().out

    assert report(expected, baseline | {"tools-call-imag": "typo"}) == 1
    assert "baseline names tools-call-imag" in capsys.readouterr().out

    # A scenario that wrote no results counts as failed.
    assert report(expected | {"ping": Outcome("ping", [])}, baseline) == 1
