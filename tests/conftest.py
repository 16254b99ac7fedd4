"""Shared test settings: hypothesis profiles.

``default``: a few dozen examples per property, for ``make test``.
``deep`` (``MICROGRADX_FUZZ=deep``): thousands per property, fresh random examples each run
(``MICROGRADX_FUZZ_EXAMPLES=N`` sets how many); see ``tests/core/test_fuzz.py``.
"""

import os

from hypothesis import settings

settings.register_profile("default", max_examples=60, deadline=None)
settings.register_profile("deep", max_examples=int(os.environ.get("MICROGRADX_FUZZ_EXAMPLES", "3000")),
                          deadline=None, print_blob=True)
settings.load_profile("deep" if os.environ.get("MICROGRADX_FUZZ", "").lower() == "deep" else "default")
