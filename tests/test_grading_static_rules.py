"""What a lab file may not do to the library it uses, and what the worker refuses when it
does it anyway (minnet.grading.static_check and the worker's op record)."""
import os
import textwrap

import numpy as np
import pytest

from minnet.grading.sandbox import Sandbox, SandboxedModule, close_all
from minnet.grading.static_check import check_source

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the sandbox needs POSIX")


@pytest.fixture(autouse=True)
def _close():
    yield
    close_all()


def problems_of(text, allowed=("numpy", "minnet")):
    return check_source("import numpy as np\nfrom minnet import Tensor\n"
                        + textwrap.dedent(text), "lab.py", allowed)


# --------------------------------------------------------------------------
# writing a library's private attributes (a review renamed the recorded op)
# --------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "Tensor._from_op = staticmethod(print)",
    "T = Tensor\nT._from_op = staticmethod(print)",
    "del Tensor._from_op",
    "for Tensor._from_op in [print]:\n    pass",
    "def patch(cls, wrapper):\n    cls._from_op = wrapper",   # a function, not a method
    "def patch(self):\n    self._backward = None",             # patch(tensor) writes a Tensor's
    "class Mine:\n    def patch(cls, w):\n        cls._from_op = w",  # Mine.patch(Tensor, w)
    "def f(out):\n    out._parents = ()",
    "def f(t):\n    t._version += 1",
    "def f(t):\n    t._data = np.zeros(2)",
    "setattr(Tensor, '_from_op', print)",
    "setattr(Tensor, name, print)",
    "delattr(Tensor, '_from_op')",
    "object.__setattr__(Tensor, '_from_op', print)",
    "type.__setattr__(Tensor, name, print)",
])
def test_a_lab_file_may_not_write_a_librarys_private_attributes(text):
    assert problems_of(text), text


def test_reading_and_calling_the_documented_names_and_writing_ones_own_stay_allowed():
    assert problems_of("""
        def double(x):
            return Tensor._from_op(x._data * 2, (x,), lambda g: (g * 2,), "double")

        class Layer:
            def __init__(self):
                self._cache = None

            def forward(self, x):
                self._cache = x
                self._calls = 1
                return x

            @classmethod
            def reset(cls):
                cls._count = 0

        def fill(t):
            t._data[...] = 0.0
            return t
    """) == []


def test_the_worker_refuses_to_answer_once_the_op_recorder_is_replaced(tmp_path):
    """The wall behind the static check: a file that slipped a wrapper in place of
    Tensor._from_op (here without the check in front) gets no answer, not a renamed record."""
    import minnet

    folder = tmp_path / "07_lab"
    folder.mkdir()
    (folder / "renames.py").write_text(textwrap.dedent("""
        from minnet import Tensor
        from minnet.nn import functional as F

        def honest(x):
            return F.softmax(x, dim=1)

        def renaming(x):
            make = Tensor._from_op
            def wrapper(data, parents, backward, op, *args, **kwargs):
                return make(data, parents, backward, "div" if op == "softmax" else op,
                            *args, **kwargs)
            Tensor._from_op = staticmethod(wrapper)
            return F.softmax(x, dim=1)
    """))
    lab = SandboxedModule(Sandbox(str(folder / "renames.py"), "renames", ("numpy", "minnet")))
    x = minnet.tensor(np.ones((2, 3)), requires_grad=True)
    assert lab.honest(x).shape == (2, 3)
    with pytest.raises(RuntimeError, match="_from_op was replaced"):
        lab.renaming(x)
    with pytest.raises(RuntimeError, match="_from_op was replaced"):
        lab.honest(x)  # and every answer after it



# --------------------------------------------------------------------------
# starting processes (a review held 7 GB through two os.posix_spawn children)
# --------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "import os\nos.posix_spawn('/proc/self/exe', ['python3'], {})",
    "import os as _hidden\npid = _hidden.posix_spawnp('python3', ['python3'], {})",
    "import os\no = os\no.execv('/proc/self/exe', [])",              # an alias of the module
    "import os\npid = os.fork()",
    "import os\nos.forkpty()",
    "import os\nos.spawnv(os.P_NOWAIT, '/bin/sh', [])",
    "import os\nos.system('sleep 100 &')",
    "import os\nos.popen('ls').read()",
    "import os\nos.kill(1, 9)",
    "import os\nos.register_at_fork(after_in_child=print)",
    "from os import posix_spawn as start",
    "from os import *\nposix_spawn('/bin/sh', [], {})",               # names the check cannot see
    "import os\ndef f(self):\n    return self.system\nf(os)('ls')",   # `self` that is the module
    "import os\nmatch os:\n    case object(posix_spawn=start):\n        start('/bin/sh', [], {})",
    "x = np.ctypeslib.ctypes",
])
def test_a_lab_file_may_not_start_processes_whatever_the_receiver(text):
    problems = problems_of(text, allowed=("numpy", "minnet", "os"))
    assert problems and any("process" in p or "star import" in p or "attribute rules" in p
                            or "operating system" in p for p in problems), (text, problems)


def test_the_os_functions_a_lab_uses_stay_allowed():
    assert problems_of("""
        import os
        def save_figures(folder):
            os.makedirs(folder, exist_ok=True)
            return os.path.join(folder, "a.png"), os.path.exists(folder), os.path.basename(folder)
    """, allowed=("numpy", "minnet", "os")) == []


@pytest.mark.parametrize("text", [
    # a method is a function too: Mine.run(np.testing._private.utils) makes `self` a module
    "class Mine:\n    def run(self):\n        return self.runstring",
    "class Mine:\n    def system(self):\n        return self.os.system",
    "class Mine:\n    def modules(self):\n        return self.sys",
])
def test_a_methods_self_does_not_open_the_interpreter(text):
    assert problems_of(text), text


def test_a_class_may_still_have_load_and_save_methods():
    assert problems_of("""
        class Store:
            def load(self):
                return self.save

            def save(self):
                return self.load
    """) == []


def test_a_tidy_module_and_numpys_stream_splitting_are_not_refused():
    """Correct files once refused: ``__all__``/``__slots__``/``__version__`` (read as Python's
    machinery) and ``rng.spawn(2)`` (read as starting a process: NumPy's Generator.spawn and
    SeedSequence.spawn split a random stream)."""
    assert problems_of("""
        __all__ = ["Layer", "streams"]
        __version__ = "1.0"

        class Layer:
            __slots__ = ("w",)

        def streams(seed):
            first, second = np.random.default_rng(seed).spawn(2)
            children = np.random.SeedSequence(seed).spawn(3)
            return first, second, children, __all__
    """) == []
    # the modules whose spawn starts a process stay refused by name
    for text in ("import pty\npty.spawn(['/bin/sh'])", "x = np.distutils.spawn",
                 "import multiprocessing\nmultiprocessing.spawn"):
        assert problems_of(text), text
