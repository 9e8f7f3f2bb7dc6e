"""The public tests' seeded inputs, salted where the reference solutions are at hand."""
import numpy as np
import pytest

from minnet.grading import salted


def _course(tmp_path, solution="def f(x):\n    return x\n", labs=("01_lab",)):
    root = tmp_path / "labs"
    for lab in labs:
        (root / "source" / lab).mkdir(parents=True)
        (root / "source" / lab / "lab.py").write_text(solution)
        (root / "source" / lab / "mutants.py").write_text(f"# {lab}\n")
        (root / lab).mkdir()
    return root


def _draw_from(path, seed):
    """Five numbers drawn by code whose file is ``path`` from default_rng(seed)."""
    path.write_text(f"import numpy as np\nnumbers = np.random.default_rng({seed}).random(5)\n")
    scope = {}
    exec(compile(path.read_text(), str(path), "exec"), scope)
    return scope["numbers"]


def test_lab_salt_is_a_digest_of_the_labs_sources(tmp_path, monkeypatch):
    monkeypatch.delenv(salted.SALT_VARIABLE, raising=False)
    first = salted.lab_salt(_course(tmp_path / "a"), "01_lab")
    # the same lab gives the same salt in any tree, whatever other labs it holds
    assert first == salted.lab_salt(_course(tmp_path / "b", labs=("01_lab", "02_x")), "01_lab")
    assert first != salted.lab_salt(_course(tmp_path / "c", "def f(x):\n    return 2 * x\n"),
                                    "01_lab")
    changed_mutants = _course(tmp_path / "d")
    (changed_mutants / "source" / "01_lab" / "mutants.py").write_text("# another bank\n")
    assert salted.lab_salt(changed_mutants, "01_lab") == first  # the mutant bank is not in it
    released = tmp_path / "student" / "labs"
    (released / "01_lab").mkdir(parents=True)
    assert salted.lab_salt(released, "01_lab") is None  # a student repository: no salt
    monkeypatch.setenv(salted.SALT_VARIABLE, "77")
    assert salted.lab_salt(released, "01_lab") != salted.lab_salt(released, "02_x")
    monkeypatch.setenv(salted.SALT_VARIABLE, "0")
    assert salted.lab_salt(_course(tmp_path / "e"), "01_lab") is None


def test_only_lab_test_files_get_salted_generators(tmp_path, monkeypatch):
    monkeypatch.delenv(salted.SALT_VARIABLE, raising=False)
    monkeypatch.setattr(np.random, "default_rng", np.random.default_rng)  # restored after
    labs = _course(tmp_path, labs=("01_lab", "02_other"))
    plain = np.random.default_rng(101).random(5)
    salted.salt_public_seeds(labs)
    in_a_test = _draw_from(labs / "01_lab" / "test_lab.py", 101)
    assert not np.array_equal(in_a_test, plain)
    assert np.array_equal(in_a_test, _draw_from(labs / "01_lab" / "test_other.py", 101))
    hidden = _draw_from(labs / "source" / "01_lab" / "test_hidden_lab.py", 101)
    assert np.array_equal(hidden, in_a_test)  # a hidden test of the lab: the lab's salt
    other_lab = _draw_from(labs / "02_other" / "test_other.py", 101)
    assert not np.array_equal(other_lab, in_a_test) and not np.array_equal(other_lab, plain)
    # a reference solution, a student file, code elsewhere: the released numbers
    assert np.array_equal(_draw_from(labs / "source" / "01_lab" / "helper.py", 101), plain)
    assert np.array_equal(_draw_from(labs / "01_lab" / "lab.py", 101), plain)
    assert np.array_equal(_draw_from(tmp_path / "test_elsewhere.py", 101), plain)
    assert np.array_equal(np.random.default_rng(101).random(5), plain)
    # installing again (another conftest) does not salt twice: (seed, salt), once
    salted.salt_public_seeds(labs)
    salt = salted.lab_salt(labs, "01_lab")
    once = np.random.Generator(np.random.PCG64(np.random.SeedSequence([101, salt]))).random(5)
    assert np.array_equal(_draw_from(labs / "01_lab" / "test_lab.py", 101), once)
    # a lab without reference sources (as in a student repository) is not salted
    (labs / "03_released").mkdir()
    assert np.array_equal(_draw_from(labs / "03_released" / "test_x.py", 101), plain)
    # what is not an integer seed passes through unchanged
    generator = np.random.default_rng(5)
    assert np.random.default_rng(generator) is generator


@pytest.mark.parametrize("seed", [True, None])
def test_unusual_seeds_are_left_alone(tmp_path, monkeypatch, seed):
    monkeypatch.setattr(np.random, "default_rng", np.random.default_rng)
    labs = _course(tmp_path)
    salted.salt_public_seeds(labs)
    path = labs / "01_lab" / "test_lab.py"
    path.write_text(f"import numpy as np\ngenerator = np.random.default_rng({seed})\n")
    scope = {}
    exec(compile(path.read_text(), str(path), "exec"), scope)
    assert isinstance(scope["generator"], np.random.Generator)
    if seed is True:
        assert np.array_equal(scope["generator"].random(3),
                              np.random.default_rng(True).random(3))
