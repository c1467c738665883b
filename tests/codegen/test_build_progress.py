"""What ``fastn-gen build`` prints while it works: per spec file counts, --quiet silence."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from fastn_gen.cli import _Progress, main

GOLDEN = Path(__file__).resolve().parents[2] / "tests" / "golden"


def test_build_reports_operations_per_spec_file(tmp_path: Path) -> None:
    args = ["build", "--connectors", str(GOLDEN / "openapi31"), "--out", str(tmp_path)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines[0].startswith("  tasks.openapi.json: 6 operation(s): 5 tool(s), 1 skipped in ")
    assert lines[1:] == [
        "skipped 1 operation(s):",
        "  tasks: addAttachment: reference #/components/schemas/Missing does not resolve",
    ]
    # Steps under way are shown on terminals only; a log gets no carriage returns.
    assert "\r" not in result.stderr
    assert result.stdout.startswith(f"built 5 tools from 1 connectors (1 skipped) into {tmp_path};")


def test_quiet_build_prints_nothing(tmp_path: Path) -> None:
    args = ["build", "--quiet", "--connectors", str(GOLDEN / "openapi31"), "--out", str(tmp_path)]
    result = CliRunner().invoke(main, args)
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")
    check = CliRunner().invoke(main, [*args, "--check"])
    assert (check.exit_code, check.stdout, check.stderr) == (0, "", "")


def test_quiet_build_still_prints_errors(tmp_path: Path) -> None:
    args = ["build", "-q", "--connectors", str(GOLDEN / "broken"), "--out", str(tmp_path)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: 59 problem(s) in connector specs:\n")


def test_terminal_progress_rewrites_its_step_line(capsys: pytest.CaptureFixture[str]) -> None:
    progress = _Progress(live=True)
    progress("loading big.yaml", False)
    progress("big.yaml: 1223 operation(s): 1222 tool(s), 1 skipped in 2.0 s", True)
    progress("formatting 4 Python files", False)
    progress.clear()
    progress.clear()
    assert capsys.readouterr().err == (
        "\r\x1b[K  … loading big.yaml"
        "\r\x1b[K"
        "  big.yaml: 1223 operation(s): 1222 tool(s), 1 skipped in 2.0 s\n"
        "\r\x1b[K  … formatting 4 Python files"
        "\r\x1b[K"
    )
