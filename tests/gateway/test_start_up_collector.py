"""The cyclic collector is paused while a gateway starts and always turned back on."""

from __future__ import annotations

import gc
import sys
import types
import weakref
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


def test_connector_modules_a_reload_forgets_are_freed_though_frozen() -> None:
    from fastn_gen.gateway.catalog import Catalog
    from fastn_gen.gateway.reload import _forget_modules

    generated = Path(__file__).parent / "fixtures" / "generated_min"
    catalog = Catalog.load(generated, module_suffix="_frozen_test")
    # A module's functions and its globals refer to each other, a cycle only the
    # collector frees (the module object itself goes by reference counting).
    modules = [
        weakref.ref(value)
        for entry in catalog.connectors.values()
        for value in vars(entry.module).values()
        if isinstance(value, types.FunctionType) and value.__module__ == entry.module.__name__
    ]
    assert modules
    del catalog
    gc.collect()
    gc.freeze()  # as a server does once started
    try:
        _forget_modules([n for n in sys.modules if n.endswith("_frozen_test")])
        gc.collect()
        assert [ref() for ref in modules] == [None] * len(modules)
    finally:
        gc.unfreeze()
