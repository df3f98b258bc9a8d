"""Hypothesis settings for the fuzz tests: bounded and reproducible in CI, wider on demand.

``LANNER_FUZZ_EXAMPLES`` (default 150) sets the examples per target; CI runs them derandomized (the same
inputs every run, a few seconds per target). Set ``LANNER_FUZZ_RANDOM=1`` to explore new inputs; every
crash found that way is kept in ``data/regressions.yaml`` and replayed by ``test_regressions.py``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "lanner-fuzz",
    max_examples=int(os.environ.get("LANNER_FUZZ_EXAMPLES", "150")),
    deadline=None,
    derandomize=os.environ.get("LANNER_FUZZ_RANDOM") != "1",
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    print_blob=True,
)
settings.load_profile("lanner-fuzz")
