"""The cyclic collector is paused while a gateway starts and always turned back on."""

from __future__ import annotations

import gc
from pathlib import Path

from fastn_gen.collector import pause_for_start_up, resume_after_start_up
from fastn_gen.gateway import serve


def test_a_failed_start_turns_the_collector_back_on(tmp_path: Path) -> None:
    assert gc.isenabled()
    missing = tmp_path / "no-generated"
    code = serve.main(
        ["http", "--config", str(tmp_path / "tenants.yaml"), "--generated", str(missing)]
    )
    assert code == 2
    assert gc.isenabled()


def test_a_collector_disabled_by_the_host_stays_disabled() -> None:
    gc.disable()
    try:
        pause_for_start_up()
        resume_after_start_up()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_pause_and_resume() -> None:
    pause_for_start_up()
    assert not gc.isenabled()
    resume_after_start_up()
    assert gc.isenabled()
