"""Every built-in method declares its fidelity, and docs/fidelity.md says the same as the code."""

from pathlib import Path

from regsuite.registry import build_registry
from regsuite.show import fidelity_table

DOC = Path(__file__).parent.parent / "docs" / "fidelity.md"


def test_every_built_in_method_is_labelled():
    reg = build_registry()
    unlabelled = sorted(n for n, c in reg.methods.items() if c.fidelity is None and reg.method_plugin[n] != "-p")
    assert not unlabelled, f"methods without a fidelity label: {unlabelled}"


def test_docs_fidelity_is_generated_from_the_code():
    expected = fidelity_table(build_registry())
    assert DOC.read_text() == expected, "docs/fidelity.md is stale: run `regsuite show --fidelity > docs/fidelity.md`"
