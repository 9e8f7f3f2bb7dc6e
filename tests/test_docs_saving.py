"""docs/saving.md's examples run, and the README/index figures match the code."""
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FENCE = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def read(relative: str) -> str:
    with open(os.path.join(ROOT, relative), encoding="utf-8") as handle:
        return handle.read()


def test_saving_page_examples_run(capsys):
    text = read("docs/saving.md")
    namespace = {"__name__": "docs_saving"}
    blocks = list(FENCE.finditer(text))
    assert len(blocks) >= 3
    for match in blocks:
        line = text.count("\n", 0, match.start()) + 2
        exec(compile(match.group(1), f"docs/saving.md, block at line {line}", "exec"), namespace)
    capsys.readouterr()


def test_readme_scenario_count_is_the_catalogue_size():
    from minnet import scenarios
    counts = re.findall(r"every failure scenario \((\d+)\)", read("README.md"))
    assert counts == [str(len(scenarios.list()))]


def test_readme_and_index_name_the_first_command_for_what_it_does():
    readme = read("README.md").splitlines()
    assert readme[1].endswith("pip install . && minnet tour")  # what .ci/run and users run
    index = read("docs/index.md")
    assert "install and train" not in index and "install and run the tour" in index


@pytest.mark.parametrize("page", ["README.md", "docs/index.md"])
def test_save_load_and_train_outputs_are_documented(page):
    text = read(page)
    assert "minnet.save" in text and "minnet.load" in text
    assert "--save" in text and "--plot" in text
    assert "saving.md" in text
