"""The public tests' seeded inputs, salted where the reference solutions are at hand."""
import numpy as np
import pytest

from minnet.grading import salted


def _course(tmp_path, solution="def f(x):\n    return x\n"):
    labs = tmp_path / "labs"
    (labs / "source" / "01_lab").mkdir(parents=True)
    (labs / "source" / "01_lab" / "lab.py").write_text(solution)
    (labs / "01_lab").mkdir()
    return labs


def _draw_from(path, seed):
    """Five numbers drawn by code whose file is ``path`` from default_rng(seed)."""
    path.write_text(f"import numpy as np\nnumbers = np.random.default_rng({seed}).random(5)\n")
    scope = {}
    exec(compile(path.read_text(), str(path), "exec"), scope)
    return scope["numbers"]


def test_course_salt_is_a_digest_of_the_sources(tmp_path, monkeypatch):
    monkeypatch.delenv(salted.SALT_VARIABLE, raising=False)
    first = salted.course_salt(_course(tmp_path / "a"))
    assert first == salted.course_salt(_course(tmp_path / "b"))  # same course, same salt
    assert first != salted.course_salt(_course(tmp_path / "c", "def f(x):\n    return 2 * x\n"))
    released = tmp_path / "student" / "labs"
    released.mkdir(parents=True)
    assert salted.course_salt(released) is None  # a student repository: nothing to salt with
    monkeypatch.setenv(salted.SALT_VARIABLE, "77")
    assert salted.course_salt(released) == 77
    monkeypatch.setenv(salted.SALT_VARIABLE, "0")
    assert salted.course_salt(_course(tmp_path / "d")) is None


def test_only_lab_test_files_get_salted_generators(tmp_path, monkeypatch):
    monkeypatch.setattr(np.random, "default_rng", np.random.default_rng)  # restored after
    labs = _course(tmp_path)
    plain = np.random.default_rng(101).random(5)
    salted.salt_public_seeds(labs, 1234)
    in_a_test = _draw_from(labs / "01_lab" / "test_lab.py", 101)
    assert not np.array_equal(in_a_test, plain)
    assert np.array_equal(in_a_test, _draw_from(labs / "01_lab" / "test_other.py", 101))
    # a reference solution, a student file, code elsewhere: the released numbers
    assert np.array_equal(_draw_from(labs / "source" / "01_lab" / "helper.py", 101), plain)
    assert np.array_equal(_draw_from(labs / "01_lab" / "lab.py", 101), plain)
    assert np.array_equal(_draw_from(tmp_path / "test_elsewhere.py", 101), plain)
    assert np.array_equal(np.random.default_rng(101).random(5), plain)
    # installing again (another conftest) does not salt twice; another salt, other numbers
    salted.salt_public_seeds(labs, 1234)
    assert np.array_equal(_draw_from(labs / "01_lab" / "test_lab.py", 101), in_a_test)
    salted.salt_public_seeds(labs, 99)
    assert not np.array_equal(_draw_from(labs / "01_lab" / "test_lab.py", 101), in_a_test)
    # what is not an integer seed passes through unchanged
    generator = np.random.default_rng(5)
    assert np.random.default_rng(generator) is generator


@pytest.mark.parametrize("seed", [True, None])
def test_unusual_seeds_are_left_alone(tmp_path, monkeypatch, seed):
    monkeypatch.setattr(np.random, "default_rng", np.random.default_rng)
    labs = _course(tmp_path)
    salted.salt_public_seeds(labs, 1234)
    path = labs / "01_lab" / "test_lab.py"
    path.write_text(f"import numpy as np\ngenerator = np.random.default_rng({seed})\n")
    scope = {}
    exec(compile(path.read_text(), str(path), "exec"), scope)
    assert isinstance(scope["generator"], np.random.Generator)
    if seed is True:
        assert np.array_equal(scope["generator"].random(3),
                              np.random.default_rng(True).random(3))
