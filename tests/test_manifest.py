"""The committed manifest of the built-ins' state spaces matches the model (tests/manifest.py)."""

from __future__ import annotations

import json

from tests.manifest import MANIFEST, measure


def test_every_builtin_has_the_state_space_and_verdicts_the_manifest_records():
    recorded = json.loads(MANIFEST.read_text())
    measured = measure()
    assert sorted(measured) == sorted(recorded), "a built-in was added or removed: regenerate the manifest"
    for name, entry in measured.items():
        assert entry == recorded[name], f"{name} changed: run `python -m tests.manifest` and say why in the commit"
