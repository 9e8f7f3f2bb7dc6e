"""docs/checklist.md is generated from the registries: it must be up to date and complete."""
from pathlib import Path

from minnet.debug import codes
from minnet.debug.catalogue_doc import checklist_markdown

ROOT = Path(__file__).resolve().parents[1]


def test_docs_checklist_is_up_to_date():
    expected = checklist_markdown()
    actual = (ROOT / "docs" / "checklist.md").read_text()
    assert actual == expected, ("docs/checklist.md is stale: regenerate it with "
                                "python -m minnet.debug.catalogue_doc > docs/checklist.md")


def test_every_code_is_detected_documented_and_has_its_scenario():
    text = checklist_markdown()
    assert "not detected yet" not in text
    for code, entry in codes.CODES.items():
        section = text.split(f"### `{code}`", 1)[1].split("### `", 1)[0]
        assert "How minnet detects it:" in section, code
        # these are exact conditions (a NaN, an index out of range, shapes that broadcast)
        exact = ("data.labels_invalid", "loss.broadcast_shape", "loss.nonfinite", "grad.nonfinite",
                 "run.crashed")
        assert "threshold `" in section or code in exact, code
        assert f"minnet doctor --scenario {entry.scenarios[0]}" in section
        assert entry.source in section
