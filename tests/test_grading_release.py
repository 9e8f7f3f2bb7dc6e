"""minnet labs release: solution regions, the manifest, --check; what minnet grade takes from a
submission; how mutants are applied. Toy labs in tmp_path only (the real labs are not used)."""
import json
from pathlib import Path

import pytest

from minnet.grading.grade import take_submission
from minnet.grading.mutants import Mutant, load_mutants, mutated_files
from minnet.grading.release import (LabSourceError, find_regions, release, release_text,
                                    resolve_labs, solution_text, student_files)

SOURCE = '''import numpy as np


def affine_forward(x, w, b):
    """x (N, D), w (D, M), b (M,) -> out (N, M), cache."""
    ### BEGIN SOLUTION
    out = x @ w + b
    ### END SOLUTION
    return out, (x, w, b)


def train():
    ### BEGIN SOLUTION
    init = "he"
    ### RELEASE AS
    # init = "zeros"
    # # why zeros? (a comment in the released code)
    ### END SOLUTION
    if True:
        ### BEGIN SOLUTION scale the "weights" here
        scale = 2
        ### END SOLUTION
    return init, scale
'''


def test_release_replaces_regions_at_their_indentation():
    text = release_text(SOURCE, "layers.py")
    assert "x @ w + b" not in text and '"he"' not in text and "scale = 2" not in text
    assert ('    # YOUR CODE HERE\n    raise NotImplementedError("affine_forward: your code here")'
            in text)
    assert '    init = "zeros"\n    # why zeros? (a comment in the released code)\n' in text
    assert ('        # YOUR CODE HERE\n        raise NotImplementedError("scale the \\"weights\\" '
            'here")' in text)
    assert "###" not in text
    compile(text, "layers.py", "exec")  # the released file is valid Python


def test_solution_text_keeps_the_solution_without_markers():
    text = solution_text(SOURCE)
    assert "out = x @ w + b" in text and 'init = "he"' in text and "scale = 2" in text
    assert "###" not in text and "zeros" not in text
    namespace = {}
    exec(compile(text, "layers.py", "exec"), namespace)
    assert namespace["train"]() == ("he", 2)


@pytest.mark.parametrize("source, where, what", [
    ("x = 1\n### END SOLUTION\n", "f.py:2", "without a matching"),
    ("def f():\n    ### BEGIN SOLUTION\n    return 1\n", "f.py:2", "never closed"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "f.py:2", "inside the region"),
    ("### RELEASE AS\n", "f.py:1", "outside a solution region"),
    ("### BEGIN SOLUTION\n### RELEASE AS\n### RELEASE AS\n### END SOLUTION\n", "f.py:3",
     "second"),
])
def test_unbalanced_markers_name_file_and_line(source, where, what):
    with pytest.raises(LabSourceError, match=f"^{where}: .*{what}"):
        find_regions(source, "f.py")


# --------------------------------------------------------------------------
# a toy labs folder
# --------------------------------------------------------------------------
def make_labs(root: Path) -> Path:
    labs = root / "labs"
    for lab, name in (("01_first", "layers"), ("03_loss", "losses")):
        (labs / "source" / lab).mkdir(parents=True)
        (labs / lab).mkdir(parents=True)
        (labs / "source" / lab / f"{name}.py").write_text(SOURCE)
        (labs / lab / f"test_{name}.py").write_text("import pytest\n")
        (labs / lab / "README.md").write_text(f"# {lab}\n")
    (labs / "source" / "03_loss" / "mutants.py").write_text(
        'MUTANTS = [dict(name="no bias", file="losses.py", old="x @ w + b", new="x @ w", '
        'why="b is added")]\n')
    (labs / "source" / "03_loss" / "test_hidden_losses.py").write_text("")
    (labs / "conftest.py").write_text("from minnet.grading.plugin import *  # noqa\n")
    return labs


def test_release_writes_student_files_and_manifest(tmp_path):
    labs = make_labs(tmp_path)
    result = release(labs)
    assert sorted(p.name for p in result.written) == ["MANIFEST.json", "layers.py", "losses.py"]
    assert (labs / "01_first" / "layers.py").read_text() == release_text(SOURCE)
    assert not (labs / "03_loss" / "mutants.py").exists()
    assert not (labs / "03_loss" / "test_hidden_losses.py").exists()
    manifest = json.loads((labs / "MANIFEST.json").read_text())
    assert set(manifest["files"]) == {
        "conftest.py", "01_first/README.md", "01_first/layers.py", "01_first/test_layers.py",
        "03_loss/README.md", "03_loss/losses.py", "03_loss/test_losses.py"}
    assert manifest["student_files"] == {"01_first": ["layers.py"], "03_loss": ["losses.py"]}
    assert release(labs).written == []  # a second release changes nothing
    assert release(labs, check=True).out_of_sync == []


def test_release_check_names_what_is_out_of_sync(tmp_path):
    labs = make_labs(tmp_path)
    release(labs)
    (labs / "01_first" / "test_layers.py").write_text("import pytest  # edited\n")
    (labs / "03_loss" / "losses.py").write_text("edited by hand\n")
    before = (labs / "MANIFEST.json").read_text()
    problems = {Path(path).name: why for path, why in release(labs, check=True).out_of_sync}
    assert set(problems) == {"losses.py", "MANIFEST.json"}
    assert "01_first/test_layers.py" in problems["MANIFEST.json"]
    assert (labs / "MANIFEST.json").read_text() == before  # --check writes nothing
    assert (labs / "03_loss" / "losses.py").read_text() == "edited by hand\n"


def test_release_of_one_lab(tmp_path):
    labs = make_labs(tmp_path)
    release(labs, ["03"])
    assert (labs / "03_loss" / "losses.py").exists()
    assert not (labs / "01_first" / "layers.py").exists()


def test_resolve_labs(tmp_path):
    labs = make_labs(tmp_path)
    assert resolve_labs(labs, ["3", "first", "labs/03_loss/"]) == ["03_loss", "01_first"]
    assert resolve_labs(labs, None) == ["01_first", "03_loss"]
    with pytest.raises(LabSourceError, match="no lab matches.*01_first, 03_loss"):
        resolve_labs(labs, ["conv"])


def test_student_files_leave_out_mutants_and_hidden_tests(tmp_path):
    labs = make_labs(tmp_path)
    assert student_files(labs, "03_loss") == ["losses.py"]


# --------------------------------------------------------------------------
# what minnet grade takes from a submission
# --------------------------------------------------------------------------
@pytest.mark.parametrize("layout", ["copy of labs", "lab folders", "flat files", "nested repo"])
def test_submission_layouts(tmp_path, layout):
    labs = make_labs(tmp_path)
    release(labs)
    submission = tmp_path / "submission"
    base = {"copy of labs": submission / "labs", "lab folders": submission,
            "nested repo": submission / "my-course" / "labs"}.get(layout)
    if base is None:  # flat: the student uploaded just the files
        submission.mkdir()
        (submission / "layers.py").write_text("MINE = 1\n")
    else:
        (base / "01_first").mkdir(parents=True)
        (base / "01_first" / "layers.py").write_text("MINE = 1\n")
    files, intake = take_submission(labs, submission, ["01_first", "03_loss"])
    assert files["01_first"] == {"layers.py": "MINE = 1\n"}
    assert files["03_loss"] == {}
    assert [(lab, name) for lab, name, _ in intake.taken] == [("01_first", "layers.py")]
    assert intake.missing == [("03_loss", "losses.py")]


def test_submission_source_folder_and_test_tampering(tmp_path):
    labs = make_labs(tmp_path)
    release(labs)
    submission = tmp_path / "submission"
    (submission / "source" / "01_first").mkdir(parents=True)
    (submission / "source" / "01_first" / "layers.py").write_text("SOLUTION\n")
    (submission / "01_first").mkdir()
    (submission / "01_first" / "test_layers.py").write_text("def test_free(): pass\n")
    (submission / "03_loss").mkdir()
    (submission / "03_loss" / "test_losses.py").write_bytes(
        (labs / "03_loss" / "test_losses.py").read_bytes())  # unchanged: not reported
    files, intake = take_submission(labs, submission, ["01_first", "03_loss"])
    assert files["01_first"] == {}  # never taken from a source/ folder
    assert [name for name, _ in intake.tampered] == ["01_first/test_layers.py"]


# --------------------------------------------------------------------------
# mutants
# --------------------------------------------------------------------------
def test_mutant_applies_to_the_solution(tmp_path):
    labs = make_labs(tmp_path)
    (mutant,) = load_mutants(labs, "03_loss")
    files = mutated_files(labs, mutant)
    assert "out = x @ w\n" in files["losses.py"] and "###" not in files["losses.py"]


@pytest.mark.parametrize("old, count", [("return", 2), ("x @ w - b", 0)])
def test_mutant_old_must_occur_exactly_once(tmp_path, old, count):
    labs = make_labs(tmp_path)
    mutant = Mutant("03_loss", 1, "bad", "losses.py", old, "pass")
    with pytest.raises(LabSourceError, match=f"occurs {count} times in losses.py"):
        mutated_files(labs, mutant)


def test_mutant_bank_is_validated(tmp_path):
    labs = make_labs(tmp_path)
    (labs / "source" / "03_loss" / "mutants.py").write_text(
        'MUTANTS = [dict(name="x", file="nope.py", old="a", new="b")]\n')
    with pytest.raises(LabSourceError, match="not a student file of 03_loss"):
        load_mutants(labs, "03_loss")


def test_release_of_one_lab_leaves_the_other_labs_manifest_entries(tmp_path):
    labs = make_labs(tmp_path)
    release(labs)
    old = json.loads((labs / "MANIFEST.json").read_text())["files"]
    (labs / "01_first" / "test_layers.py").write_text("import pytest  # lab 01 in progress\n")
    assert release(labs, ["03_loss"], check=True).out_of_sync == []  # 01 is out of scope
    assert [Path(p).name for p, _ in release(labs, check=True).out_of_sync] == ["MANIFEST.json"]
    release(labs, ["03_loss"])
    assert json.loads((labs / "MANIFEST.json").read_text())["files"] == old


@pytest.mark.parametrize("old, function", [
    ("out = x @ w + b", "affine_forward"), ('init = "he"', "train"), ("scale = 2", "train"),
    ("def train():", "train"), ("import numpy as np", None)])
def test_changed_function_names_where_a_mutant_applies(old, function):
    from minnet.grading.mutants import changed_function
    assert changed_function(solution_text(SOURCE), old) == function


def test_duplicate_test_file_names_across_labs(tmp_path):
    from minnet.grading.mutants import duplicate_test_names
    labs = make_labs(tmp_path)
    assert duplicate_test_names(labs) == {}
    (labs / "03_loss" / "test_layers.py").write_text("")
    assert duplicate_test_names(labs) == {"test_layers.py": ["01_first", "03_loss"]}
