"""Shared set-up for live tests: a real Engine whose syscall fields read a real StateEngine, and a
minimal runner carrying what ``run_live`` uses (config, engine, stop, duration_ns, pipeline)."""

from __future__ import annotations

import threading
import time
from typing import Any

from lanner.config import Config
from lanner.engine import Engine
from lanner.fields import container, k8s
from lanner.fields import registry as reg
from lanner.fields.syscall_classes import generic_field_classes, syscall_field_classes
from lanner.run.runner import LoopStats
from lanner.state.engine import StateEngine, proc_alive


class Internal:
    """Collects internal messages (``pipeline.internal``) like the output pipeline would queue them."""

    def __init__(self) -> None:
        self.messages: list[tuple] = []

    def internal(self, rule: str, priority: Any, text: str, fields: dict | None = None,
                 time_ns: int | None = None) -> bool:
        self.messages.append((rule, priority, text, dict(fields or {})))
        return True


class LiveRunner:
    def __init__(self, rules_text: str, config: dict | None = None) -> None:
        self.state = StateEngine(alive=proc_alive)
        r = reg.FieldRegistry()
        for c in generic_field_classes() + syscall_field_classes(self.state) + [container.field_class(),
                                                                               k8s.field_class()]:
            r.add(c)
        self.config = Config(config or {})
        self.engine = Engine(self.config, registry=r)
        ok = self.engine.load_rules_text("test_rules.yaml", rules_text)
        assert ok, [x.errors for x in self.engine.loader.results]
        self.engine.state = self.state
        self.stop = threading.Event()
        self.duration_ns = None
        self.pipeline = Internal()
        self.alerts: list = []
        self.engine.on_alert = self.alerts.append
        self.stats = LoopStats("syscall")
        self.live_source = None
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> LiveRunner:
        from lanner.run.live import run_live

        def body() -> None:
            try:
                run_live(self, self.stats)
            except BaseException as e:  # noqa: BLE001 - reported by the test
                self.error = e

        self.thread = threading.Thread(target=body, daemon=True)
        self.thread.start()
        end = time.monotonic() + 90  # probe load and /proc scan: slow on a busy machine
        while self.live_source is None and self.error is None and time.monotonic() < end:
            time.sleep(0.02)
        assert self.error is None, self.error
        assert self.live_source is not None, "live source did not start"
        time.sleep(0.1)
        return self

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(10)

    def wait_alert(self, pred, timeout: float = 30.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for a in list(self.alerts):
                if pred(a):
                    return a
            time.sleep(0.01)
        return None
