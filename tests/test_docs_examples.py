"""The ```python blocks of the docs run, in order, in one namespace per page.

A page's examples state their results with ``assert``; running them here keeps
the docs from drifting away from the code. They run as a reader runs them,
copied top to bottom into one file: a block may use what an earlier block of the
same page defined, never a name the page leaves undefined. Files they write land
in a temporary folder.
"""
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")
# README.md is the first page a new user copies from: its save/load block once
# rebound `model`, so its diagnose() block failed on an optimizer of another model.
PAGES = ["../README.md", "autograd.md", "pytorch.md", "gradcheck.md", "viz.md", "saving.md"]
FENCE = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def python_blocks(page: str) -> list:
    """(line number, source) of every ```python block of docs/<page>."""
    with open(os.path.join(DOCS, page), encoding="utf-8") as handle:
        text = handle.read()
    return [(text.count("\n", 0, match.start()) + 2, match.group(1))
            for match in FENCE.finditer(text)]


def test_fence_pattern_finds_blocks_and_their_lines():
    blocks = python_blocks("autograd.md")
    assert len(blocks) >= 10
    first_line, first_source = blocks[0]
    assert first_source.startswith("import numpy as np")
    with open(os.path.join(DOCS, "autograd.md"), encoding="utf-8") as handle:
        assert handle.read().splitlines()[first_line - 1] == "import numpy as np"


@pytest.mark.parametrize("page", PAGES)
def test_page_examples_run(page, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # saved models, pictures and reports go here
    namespace = {"__name__": f"docs_{page.replace('.', '_')}"}
    for line, source in python_blocks(page):
        code = compile(source, f"docs/{page}, block at line {line}", "exec")
        exec(code, namespace)  # an error names the page and the block's line
    capsys.readouterr()  # the examples print; keep the test output quiet
