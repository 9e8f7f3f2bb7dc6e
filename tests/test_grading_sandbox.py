"""The trust boundary: student code in a worker process, only data crossing (minnet.grading
sandbox, wire, static_check)."""
import os
import socket
import textwrap

import numpy as np
import pytest

from minnet.grading import LabFailure
from minnet.grading import wire
from minnet.grading.sandbox import (Sandbox, SandboxedModule, StudentCodeError, close_all,
                                   sandboxed)
from minnet.grading.static_check import check_source

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the sandbox needs POSIX")


def unchecked(test_file, allowed_imports):
    """The sandbox alone, without the static check in front of it: what the wall holds."""
    path = os.path.join(os.path.dirname(test_file), "layers.py")
    return SandboxedModule(Sandbox(path, "layers", allowed_imports))


def lab_file(tmp_path, text, name="layers"):
    folder = tmp_path / "01_lab"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.py").write_text(textwrap.dedent(text))
    return str(folder / "test_layers.py")


@pytest.fixture(autouse=True)
def _close():
    yield
    close_all()


# --------------------------------------------------------------------------
# wire: data only
# --------------------------------------------------------------------------
@pytest.mark.parametrize("value", [
    None, True, 3, -2**70, 1.5, float("inf"), "text", [1, (2.0, "x")], {"a": [1], 2: None},
    np.arange(6, dtype=np.float32).reshape(2, 3), np.array(3, dtype=np.int64),
    np.float64(2.5), np.zeros((0, 4)), np.array([1 + 2j]), np.array([True, False]),
])
def test_wire_round_trip(value):
    left, right = socket.socketpair()
    buffers = []
    wire.send(left, {"value": wire.encode(value, buffers)}, buffers)
    header, received = wire.recv(right)
    back = wire.decode(header["value"], received)
    if isinstance(value, (np.ndarray, np.generic)):
        assert type(back) is type(value) and back.dtype == value.dtype
        np.testing.assert_array_equal(back, value)
    else:
        assert back == value and type(back) is type(value)


def test_wire_refuses_objects_and_nan_is_kept():
    with pytest.raises(wire.WireError, match="not data"):
        wire.encode(object(), [])
    with pytest.raises(wire.WireError, match="not data"):
        wire.encode(np.array([object()]), [])
    assert np.isnan(wire.decode(wire.encode(float("nan"), []), []))
    # a damaged frame: an array whose buffer is too short
    with pytest.raises(wire.WireError, match="needs"):
        wire.decode({"$a": 0, "dtype": "<f8", "shape": [3]}, [b"\0" * 8])
    with pytest.raises(wire.WireError, match="cannot cross"):
        wire.decode({"$a": 0, "dtype": "|O", "shape": [1]}, [b"\0" * 8])


def test_a_record_arrives_as_data_only():
    """A Record (the read-only fields of a grader's object) never holds a function: one whose
    field ``numpy`` were a minnet function would run in the grader when expect_close calls
    ``value.numpy()``."""
    buffers = []
    node = wire.encode(wire.Record(kink=np.array([True, False]), inner=wire.Record(n=1)), buffers)
    back = wire.decode(node, buffers)
    assert back.inner.n == 1 and back.kink.tolist() == [True, False]
    for field in ({"$mf": "minnet.random:default_generator"}, {"$class": "minnet.nn.linear:Linear"},
                  {"$l": [{"$mf": "minnet.random:default_generator"}], "$id": 2}):
        forged = {"$rec": {"$d": [["numpy", field]], "$id": 1}}
        with pytest.raises(wire.WireError, match="hold a function or a class"):
            wire.decode(forged, [])


# --------------------------------------------------------------------------
# static check
# --------------------------------------------------------------------------
@pytest.mark.parametrize("line, rule", [
    ("import minnet", "may import only"),
    ("from torch import nn", "may import only"),
    ("import importlib", "may import only"),
    ("f = affine.__code__", "machinery"),
    ("g = (lambda: 0).__globals__", "machinery"),
    ("frame = np.sys._getframe(1)", "frames"),
    ("eval('1')", "by string"),
    ("getattr(np, 'dot')", "by string"),
    ("__import__('minnet')", "by string"),
    ("from . import other", "single modules"),
    ("os = np.ctypeslib.os", "operating system"),
    ("ex = np.testing._private.utils", "private parts"),
    ("b = np.core.sys", "operating system"),
])
def test_static_check_names_the_line_and_the_rule(line, rule):
    problems = check_source(f"import numpy as np\n{line}\n", "layers.py", ("numpy", "math"))
    assert problems and problems[0].startswith("layers.py:2:") and rule in problems[0]


def test_static_check_accepts_a_plain_numpy_file():
    text = ("import numpy as np\nimport math\n\ndef f(x):\n    '''doc'''\n"
            "    return np.maximum(x, 0) * math.pi, x.shape\n\nif __name__ == '__main__':\n"
            "    print(f(np.ones(2)))\n")
    assert check_source(text, "layers.py", ("numpy", "math")) == []


# --------------------------------------------------------------------------
# the sandbox
# --------------------------------------------------------------------------
def test_calls_cross_as_data_and_caches_stay_behind(tmp_path):
    test_file = lab_file(tmp_path, """
        import numpy as np
        SCALE = 2.0
        def forward(x):
            return x * SCALE, (lambda: 3.0)
        def backward(dout, cache):
            return dout * cache()
        def pid():
            import os
            return os.getpid()
    """)
    module = sandboxed(test_file, "layers", allowed_imports=("numpy", "os"))
    out, cache = module.forward(np.arange(3.0))
    np.testing.assert_array_equal(out, [0.0, 2.0, 4.0])
    assert isinstance(cache, wire.Handle) and "function" in cache.type_name
    np.testing.assert_array_equal(module.backward(np.ones(3), cache), [3.0] * 3)
    assert module.SCALE == 2.0
    assert module.pid() != os.getpid()            # another process
    with pytest.raises(AttributeError, match="no function or constant 'missing'"):
        module.missing


def test_a_sandboxed_function_keeps_the_students_parameter_names(tmp_path):
    """The grader's gradient checks name inputs as the student's own check_backward does
    (x, w, b), not 'input 0/1/2' (a new student's report on lab 01)."""
    import inspect
    from minnet.gradcheck import check_backward
    test_file = lab_file(tmp_path, """
        def affine_forward(x, w, b, *rest, scale=1.0):
            return x @ w + b, (x, w)
        def affine_backward(dout, cache):
            x, w = cache
            return dout @ w.T, x.T @ dout, dout.sum(axis=0) * 2   # db wrong on purpose
    """)
    module = sandboxed(test_file, "layers", allowed_imports=("numpy",))
    assert list(inspect.signature(module.affine_forward).parameters) == ["x", "w", "b"]
    rng = np.random.default_rng(0)
    result = check_backward(module.affine_forward, module.affine_backward,
                            rng.normal(size=(3, 4)), rng.normal(size=(4, 2)),
                            rng.normal(size=2))
    report = str(result)
    assert not result and "\n  b  " in report and "input 2" not in report


def test_a_file_saved_with_a_bom_and_crlf_endings_runs_as_python_reads_it(tmp_path):
    """Windows editors save UTF-8 with a byte-order mark and CRLF line endings: Python runs such
    a file, so the grader must too (the BOM made every test of such a file score 0 with
    "invalid non-printable character U+FEFF")."""
    text = ('"""Unicode in the docstring: caf\u00e9, \u2713."""\nimport numpy as np\n\n'
            'def double(x):\n    return 2 * np.asarray(x)\n')
    folder = tmp_path / "01_lab"
    folder.mkdir()
    (folder / "layers.py").write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n")
                                       .encode("utf-8"))
    module = sandboxed(str(folder / "test_layers.py"), "layers", allowed_imports=("numpy",))
    np.testing.assert_array_equal(module.double([1.0, 2.0]), [2.0, 4.0])
    latin = folder / "latin.py"
    latin.write_bytes(b"# -*- coding: latin-1 -*-\nNAME = '\xe9t\xe9'\n")
    assert sandboxed(str(folder / "test_layers.py"), "latin").NAME == "\u00e9t\u00e9"


def test_errors_come_back_as_feedback_with_the_students_line(tmp_path):
    test_file = lab_file(tmp_path, """
        def broken(x):
            y = x + 1
            return y / undefined_name
        def todo():
            raise NotImplementedError("affine_forward: your code here")
        def leave():
            raise SystemExit(3)
    """)
    module = sandboxed(test_file, "layers")
    with pytest.raises(NameError) as error:  # a builtin exception keeps its type
        module.broken(1)
    assert "undefined_name" in str(error.value) and "layers.py:4 in broken" in str(error.value)
    with pytest.raises(NotImplementedError, match="affine_forward: your code here"):
        module.todo()
    with pytest.raises(StudentCodeError, match="SystemExit"):
        module.leave()
    assert module.broken.__name__ == "broken"   # the worker is still serving


def test_a_worker_that_dies_costs_a_clear_failure(tmp_path):
    test_file = lab_file(tmp_path, """
        import os
        def die():
            os._exit(9)
    """)
    module = unchecked(test_file, allowed_imports=("numpy", "math", "os"))
    with pytest.raises(LabFailure, match="stopped while the grader waited"):
        module.die()


def test_minnet_is_refused_at_run_time_too(tmp_path):
    # the static check sees no import statement here; the worker's import guard refuses it
    test_file = lab_file(tmp_path, """
        import importlib
        def borrow():
            return importlib.import_module("minnet").__name__
    """)
    module = unchecked(test_file, allowed_imports=("numpy", "importlib"))
    with pytest.raises(ImportError, match="`import minnet` is not allowed"):
        module.borrow()


def test_static_rules_stop_the_file_before_it_runs(tmp_path):
    marker = tmp_path / "ran"
    test_file = lab_file(tmp_path, f"""
        import minnet
        open({str(marker)!r}, "w").write("ran")
    """)
    with pytest.raises(LabFailure, match=r"layers.py:2: `import minnet`"):
        sandboxed(test_file, "layers")
    assert not marker.exists()


def test_import_errors_and_syntax_errors_are_feedback(tmp_path):
    test_file = lab_file(tmp_path, "def f(:\n    pass\n")
    with pytest.raises(LabFailure, match="could not be imported: SyntaxError"):
        sandboxed(test_file, "layers")
    test_file = lab_file(tmp_path, "raise NotImplementedError('top level')\n")
    with pytest.raises(LabFailure, match="could not be imported"):
        sandboxed(test_file, "layers")


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="finds processes through /proc")
def test_the_worker_and_what_it_started_end_with_close(tmp_path, processes_with):
    # a daemon that leaves the worker's session too: as root the worker's PID namespace
    # takes it along (its pid there means nothing here, so it is found by its command line)
    import time
    import uuid

    marker = f"minnet-test-{uuid.uuid4().hex}"
    test_file = lab_file(tmp_path, f"""
        import subprocess, sys
        def spawn():
            subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "{marker}"],
                             start_new_session=True)
    """)
    from minnet.grading import lockdown
    from minnet.grading.isolation import become_subreaper, kill_orphans

    if not lockdown.available():
        become_subreaper()  # as the plugin's process does
    # the wall behind the static check (which refuses Popen): what close() ends
    module = unchecked(test_file, ("subprocess", "sys"))
    module.spawn()
    for _ in range(100):
        if processes_with(marker):
            break
        time.sleep(0.05)
    assert processes_with(marker), "alive while the test runs"
    close_all()
    if not lockdown.available():
        kill_orphans()  # the plugin's part: the daemon was re-parented to its process
    for _ in range(100):
        if not processes_with(marker):
            break
        time.sleep(0.05)
    else:
        pytest.fail("a process started by the student's code outlived the test")


PROBE_FILE = """
import os, socket, sys

def statuses():
    with open("/proc/self/status") as file:
        return dict(line.rstrip("\\n").split(":\\t", 1) for line in file if ":\\t" in line)

def read_only(path):
    return bool(os.statvfs(path).f_flag & 1)

def can_open_for_writing(path):
    try:
        os.close(os.open(path, os.O_WRONLY))
        return True
    except OSError:
        return False

def leave(name, text):
    with open(os.path.join("/dev/shm", name), "w") as file:
        file.write(text)
    return sorted(os.listdir("/dev/shm"))

def listing(path):
    return sorted(os.listdir(path))

def reach(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return "connected"
    except OSError as error:
        return type(error).__name__

def minnet_autograd():
    sys.meta_path[:] = [finder for finder in sys.meta_path
                        if type(finder).__name__ != "ImportGuard"]  # what an escape would do
    for name in [name for name in sys.modules if name.split(".")[0] == "minnet"]:
        del sys.modules[name]  # lab 02's stand-in too
    try:
        from minnet.autograd import grad  # noqa: F401 -- the real engine's (no stand-in has it)
        return True
    except ImportError:
        return False
"""


def probe(tmp_path, allowed=("os", "socket", "sys"), stand_ins=()):
    """A worker running PROBE_FILE without the static check in front (what escaped code
    could do)."""
    test_file = lab_file(tmp_path, PROBE_FILE, "probe")
    path = os.path.join(os.path.dirname(test_file), "probe.py")
    return SandboxedModule(Sandbox(path, "probe", allowed, stand_ins))


def test_a_root_worker_is_powerless(tmp_path):
    # a review found a worker left root (the uid drop falls back where the interpreter lives
    # under root's 0700 home) able to open /proc/sys/kernel/core_pattern for writing: a
    # program run as the real root outside every namespace at its next crash
    from minnet.grading import lockdown

    worker = probe(tmp_path)
    status = worker.statuses()
    if not lockdown.available():  # not root: the worker is the grader's user, nothing more
        assert int(status["Uid"].split()[0]) == os.getuid()
        return
    for kind in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[kind], 16) == 0, (kind, status[kind])
    assert status["NoNewPrivs"] == "1"
    for path in ("/", "/proc/sys", "/sys", "/dev"):
        assert worker.read_only(path), path
    assert not worker.can_open_for_writing("/proc/sys/kernel/core_pattern")
    assert not worker.can_open_for_writing("/proc/sysrq-trigger")
    assert worker.reach(22) in ("OSError", "ConnectionRefusedError")  # "network unreachable"


def test_a_workers_dev_holds_four_devices_and_its_own_shm(tmp_path):
    # a review leaked a hidden test's inputs to a later worker through /dev/shm
    import uuid

    from minnet.grading import lockdown

    name = f"minnet-leak-{uuid.uuid4().hex}"
    first = probe(tmp_path)
    assert name in first.leave(name, "hidden inputs")
    second = probe(tmp_path)
    try:
        if lockdown.available():
            assert name not in second.leave("other", "x")       # not another worker's
            assert not os.path.exists(os.path.join("/dev/shm", name))  # nor the machine's
            assert set(second.listing("/dev")) == {"null", "zero", "random", "urandom", "shm",
                                                   "fd", "stdin", "stdout", "stderr"}
        else:
            assert name in second.leave("other", "x")           # shared: a documented limit
    finally:
        for leftover in (name, "other"):
            try:
                os.unlink(os.path.join("/dev/shm", leftover))
            except OSError:
                pass


def test_a_worker_has_no_network(tmp_path):
    # np.genfromtxt("http://...") sent a hidden test's inputs to a server of the student's
    import threading

    from minnet.grading import lockdown

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    threading.Thread(target=lambda: server.accept(), daemon=True).start()
    result = probe(tmp_path).reach(server.getsockname()[1])
    server.close()
    assert result == ("connected" if not lockdown.available() else "OSError"), result


@pytest.mark.parametrize("allowed, stand_ins, sees_minnet", [
    (("os", "socket", "sys"), (), False),                       # labs 01, 11
    (("os", "socket", "sys"), ("minnet.autograd",), False),     # lab 02 and its stand-in
    (("os", "socket", "sys", "minnet"), (), True)])
def test_a_lab_without_minnet_has_no_minnet_to_import(tmp_path, allowed, stand_ins,
                                                      sees_minnet):
    # code that escapes the static check (a review reached exec through numpy's private
    # modules) and drops the import guard still finds no autograd where the lab rules it out
    from minnet.grading import lockdown

    found = probe(tmp_path, allowed, stand_ins).minnet_autograd()
    assert found == (sees_minnet or not lockdown.available())


def test_closing_a_sandbox_spares_other_processes_of_the_sandbox_user(tmp_path):
    # a review saw honest workers "killed from outside" at random: each test's clean-up
    # killed every process of uid 65532 on the machine, other gradings' workers included
    import subprocess

    from minnet.grading.sandbox import SANDBOX_UID

    def become_sandbox_user():
        if os.geteuid() == 0:
            os.setgid(SANDBOX_UID)
            os.setuid(SANDBOX_UID)

    bystander = subprocess.Popen(["sleep", "60"], preexec_fn=become_sandbox_user, cwd="/")
    try:
        worker = probe(tmp_path)
        worker.listing("/")
        close_all()
        from minnet.grading.isolation import kill_orphans

        kill_orphans(keep=(bystander.pid,))  # the plugin's clean-up after a test
        assert bystander.poll() is None, "another process of the sandbox's user was killed"
    finally:
        bystander.kill()
        bystander.wait()


# --------------------------------------------------------------------------
# minnet's objects cross as their state; what a call does to them comes back
# --------------------------------------------------------------------------
NET_FILE = """
import numpy as np
import minnet
from minnet import nn, optim
from minnet.debug import Setup

def init_(model, rng):
    for layer in model.modules():
        if isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight, 0.0, 0.5, generator=rng)
    return model

def step(model, loss_fn, optimizer, X, y):
    optimizer.zero_grad()
    loss = loss_fn(model(X), y)
    loss.backward()
    optimizer.step()
    return loss

def build():
    minnet.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
    X = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    optimizer = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    return Setup(model, nn.CrossEntropyLoss(), optimizer, (X, y), batch_size=16, steps=20,
                 train_step=step)

def scale_in_place(x):
    x *= 2.0

def activation_class():
    return nn.Tanh, minnet.nn.functional.relu
"""


def test_in_place_changes_to_models_generators_and_arrays_come_back(tmp_path):
    import minnet
    from minnet import nn, optim

    lab = sandboxed(lab_file(tmp_path, NET_FILE, "net"), "net", allowed_imports=("numpy",
                                                                                  "minnet"),
                    mutates={"init_": None, "step": None, "scale_in_place": (0,)})
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 2))
    twin = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 2))
    rng, twin_rng = np.random.default_rng(5), np.random.default_rng(5)
    assert lab.init_(model, rng) is model                      # the grader's own object
    for layer in (twin[0], twin[2]):
        nn.init.normal_(layer.weight, 0.0, 0.5, generator=twin_rng)
    np.testing.assert_array_equal(model[0].weight.numpy(), twin[0].weight.numpy())
    assert rng.random() == twin_rng.random()                   # the generator moved on too
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    X = minnet.tensor(np.random.default_rng(1).normal(size=(5, 2)).astype(np.float32))
    y = minnet.tensor(np.array([0, 1, 0, 1, 1]))
    before = model[2].weight.numpy().copy()
    lab.step(model, nn.CrossEntropyLoss(), optimizer, X, y)
    assert not np.allclose(before, model[2].weight.numpy())
    assert model[0].weight.grad is not None
    assert list(optimizer.state)[0] is model[0].weight         # one set of parameters
    array = np.ones(3)
    lab.scale_in_place(array)
    np.testing.assert_array_equal(array, [2.0, 2.0, 2.0])
    activation, function = lab.activation_class()
    assert activation is nn.Tanh and function is minnet.nn.functional.relu


def test_a_mutating_function_returns_the_model_it_was_given_never_another(tmp_path):
    """A review's lab 04 init_weights_ drew no scheme and returned, for a deep net, a stack of
    BatchNorm layers (std 1 at every output) that the depth test measured: 2 points for
    nothing. A function that changes a model in place returns that model or a layer of it."""
    from minnet import nn

    lab = sandboxed(lab_file(tmp_path, NET_FILE + '''
def swap_(model):
    return nn.Sequential(nn.BatchNorm1d(2))

def last_layer_(model):
    return model[-1]

def pair_(model):
    return model, nn.Linear(2, 2)
''', "net"), "net", allowed_imports=("numpy", "minnet"),
                    mutates=("swap_", "last_layer_", "pair_", "init_"))
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 2))
    with pytest.raises(LabFailure, match="swap_ changes the model it is given in place; it "
                                         "returned another Sequential"):
        lab.swap_(model)
    with pytest.raises(LabFailure, match="returned another Linear"):
        lab.pair_(model)
    assert lab.last_layer_(model) is model[2]
    assert lab.init_(model, np.random.default_rng(0)) is model


def test_a_function_that_does_not_mutate_by_contract_changes_only_copies(tmp_path):
    """What a function does to its arguments comes back only for the functions the lab names
    in ``mutates``: a test's reference, computed after the student's function, sees the
    test's own inputs (not gradients set to None, a dict emptied, an array scaled)."""
    from minnet import Tensor, nn

    lab = sandboxed(lab_file(tmp_path, NET_FILE + '''
def poison(model, norms, x):
    for p in model.parameters():
        p.grad = None
    norms.clear()
    x *= 0.0
    return model
''', "net"), "net", allowed_imports=("numpy", "minnet"))
    model = nn.Sequential(nn.Linear(2, 3))
    for p in model.parameters():
        p.grad = Tensor(np.ones(p.shape, dtype=np.float32))
    norms, x = {"0": 1.0}, np.ones(3)
    returned = lab.poison(model, norms, x)
    assert all(p.grad is not None for p in model.parameters())
    assert norms == {"0": 1.0} and np.array_equal(x, np.ones(3))
    assert returned is not model and returned[0].weight.grad is None  # a copy, changed
    lab.scale_in_place(x)
    np.testing.assert_array_equal(x, np.ones(3))


RELABEL_FILE = NET_FILE + """
def fit_(model, X, y, state):
    y[...] = 0                      # the test's labels, made easy
    X *= 0.0
    state["steps"] = 3
    for layer in model.modules():
        if isinstance(layer, nn.Linear):
            layer.bias.detach().numpy()[...] = 7.0
    return model
"""


@pytest.mark.parametrize("contract, state_changes", [(("fit_",), False),
                                                     ({"fit_": (0, "state")}, True)])
def test_a_mutating_function_changes_the_model_never_the_tests_data(tmp_path, contract,
                                                                     state_changes):
    # a review's lab 10 overfit_one_batch relabelled the test's y with its untrained model's
    # predictions, then the test measured loss_of(model, X, y) on them: 4/4 for no training
    from minnet import nn

    lab = sandboxed(lab_file(tmp_path, RELABEL_FILE, "net"), "net",
                    allowed_imports=("numpy", "minnet"), mutates=contract)
    model = nn.Sequential(nn.Linear(2, 2))
    X, y, state = np.ones((4, 2)), np.array([1, 0, 1, 1]), {}
    assert lab.fit_(model, X, y, state=state) is model
    np.testing.assert_array_equal(model[0].bias.numpy(), [7.0, 7.0])   # the model changed
    np.testing.assert_array_equal(y, [1, 0, 1, 1])                    # its data did not
    np.testing.assert_array_equal(X, np.ones((4, 2)))
    assert state == ({"steps": 3} if state_changes else {})           # named: it changes


def test_a_students_setup_trains_here_with_their_step_run_there(tmp_path):
    lab = sandboxed(lab_file(tmp_path, NET_FILE, "net"), "net", allowed_imports=("numpy",
                                                                                  "minnet"),
                    mutates=("step",))
    setup = lab.build()
    params = list(setup.model.parameters())
    assert setup.optimizer.param_groups[0]["params"][0] is params[0]
    assert setup.train_step.__name__ == "step"
    run = setup.train(steps=30)
    assert run.losses[-1] < 0.5 * run.losses[0]


def test_only_minnets_own_classes_and_functions_cross():
    with pytest.raises(wire.WireError, match="cannot cross"):
        wire.decode({"$o": "os:PathLike", "$id": 1, "state": {}}, [])
    with pytest.raises(wire.WireError, match="cannot cross"):
        wire.decode({"$mf": "minnet.fileio:atomic_write"}, [])
    with pytest.raises(wire.WireError, match="cannot cross"):
        wire.decode({"$class": "minnet.grading.credit:Credit"}, [])
    with pytest.raises(wire.WireError, match="not data"):
        wire.encode(lambda: 0, [])


def test_autograd_runs_through_the_students_function(tmp_path):
    import minnet
    from minnet.gradcheck import gradcheck

    test_file = lab_file(tmp_path, """
        def mse(prediction, target):
            diff = prediction - target
            return (diff * diff).mean()
        def wrong(x):
            return x * x.detach()
    """, "ops")
    lab = sandboxed(test_file, "ops", allowed_imports=("numpy", "minnet"))
    prediction = minnet.tensor(np.array([1.0, 2.0, 4.0]), requires_grad=True)
    target = minnet.tensor(np.array([0.0, 0.0, 1.0]))
    loss = lab.mse(prediction, target)
    loss.backward()
    np.testing.assert_allclose(prediction.grad.numpy(), [2 / 3, 4 / 3, 2.0])
    x = minnet.tensor(np.random.default_rng(0).normal(size=5), requires_grad=True)
    assert gradcheck(lambda a: lab.mse(a, target[:1]), (x,))
    assert not gradcheck(lambda a: lab.wrong(a).sum(), (x,))   # its own mistake shows


def test_the_students_code_can_call_the_graders_functions(tmp_path):
    test_file = lab_file(tmp_path, """
        import numpy as np
        def apply(function, x):
            return function(x) + 1.0
        def ratio(loss_fn, output):
            return loss_fn(np.concatenate([output, output])) / loss_fn(output)
    """)
    lab = sandboxed(test_file, "layers")
    np.testing.assert_allclose(lab.apply(np.sin, np.array([0.0, np.pi / 2])), [1.0, 2.0])
    seen = []

    def summed(values):
        seen.append(values.shape)
        return float(np.sum(values))

    assert lab.ratio(summed, np.ones(3)) == pytest.approx(2.0)
    assert seen == [(6,), (3,)]
    assert lab.apply(lambda x: lab.apply(np.cos, x), np.array([0.0]))[0] == pytest.approx(3.0)


def test_constants_set_by_a_test_change_in_the_students_module(tmp_path):
    test_file = lab_file(tmp_path, """
        LIMIT = 5.0
        def clip(x):
            return min(x, LIMIT)
    """)
    lab = sandboxed(test_file, "layers")
    assert lab.clip(9.0) == 5.0
    lab.LIMIT = 1e9
    assert lab.clip(9.0) == 9.0 and lab.LIMIT == 1e9
    assert lab.clip is lab.clip                    # one object per function


def test_a_lab_can_rule_out_more_names():
    text = "import numpy as np\n\ndef d(f, x):\n    return f(x + 1e-20j).imag / 1e-20\n"
    problems = check_source(text, "layers.py", ("numpy",), forbidden=("complex", "imag"))
    assert len(problems) == 2 and all(problem.startswith("layers.py:4:") for problem in problems)
    assert check_source(text, "layers.py", ("numpy",)) == []


def test_a_crafted_message_cannot_plant_code_in_the_graders_objects():
    import minnet

    node = {"$o": "minnet.tensor:Tensor", "$id": 1, "state": {
        "_data": {"$a": 0, "dtype": "<f8", "shape": [2]},
        "_backward": {"$mf": "minnet.random:manual_seed"},
        "_parents": {"$t": []}, "_hooks": {"$d": [[0, {"$mf": "minnet.random:manual_seed"}]]},
        "requires_grad": True}}
    tensor = wire.decode(node, [np.zeros(2).tobytes()])
    assert isinstance(tensor, minnet.Tensor)
    assert tensor._backward is None and tensor._hooks in (None, {})


HIJACK_FILE = NET_FILE + """
def standardise(x):
    return (x - x.mean()) / (x.std() + 1e-5)

def model_with_my_forward():
    model = nn.Sequential(nn.Linear(2, 2))
    model[0].forward = standardise
    return model

def model_with_my_function_inside():
    model = nn.Sequential(nn.Linear(2, 2))
    model[0].extras = [1.0, {"f": standardise}]
    return model

def model_with_a_method_replaced_by_data():
    model = nn.Sequential(nn.Linear(2, 2))
    model.parameters = []
    return model

def init_and_hijack_(model, rng):
    for layer in model.modules():
        if isinstance(layer, nn.Linear):
            layer.forward = standardise
    return model

def setup_with_my_loss():
    setup = build()
    setup.loss_fn = standardise
    return setup
"""


@pytest.mark.parametrize("function, refused", [
    ("model_with_my_forward", "'forward' is its own"),
    ("model_with_my_function_inside", "'extras' holds a function"),
    ("model_with_a_method_replaced_by_data", "'parameters' is its own"),
])
def test_an_object_crosses_without_the_students_code_in_it(tmp_path, function, refused):
    # a layer whose forward is the student's function would run their code at each step of
    # a training the grader runs itself (a review's lab 10 model: 1-NN features as a layer)
    lab = sandboxed(lab_file(tmp_path, HIJACK_FILE, "net"), "net",
                    allowed_imports=("numpy", "minnet"), mutates=("init_and_hijack_",))
    with pytest.raises(LabFailure, match=refused):
        getattr(lab, function)()


def test_a_mutating_call_cannot_plant_the_students_code_in_the_graders_model(tmp_path):
    from minnet import nn

    lab = sandboxed(lab_file(tmp_path, HIJACK_FILE, "net"), "net",
                    allowed_imports=("numpy", "minnet"), mutates=("init_and_hijack_",))
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 2))
    with pytest.raises(LabFailure, match="'forward' is its own"):
        lab.init_and_hijack_(model, np.random.default_rng(0))
    # the call fails (the test loses its points); whatever the model holds is data
    assert all("forward" not in vars(layer) for layer in model.modules())
    # a Setup's loss, training step and evaluation are the student's by design
    assert lab.setup_with_my_loss().loss_fn.__name__ == "standardise"


# --------------------------------------------------------------------------
# the mechanisms that moved labs 02, 03, 06, 07, 10 and 12 behind the boundary
# --------------------------------------------------------------------------
def test_a_path_crosses_only_to_what_is_defined_under_it():
    with pytest.raises(wire.WireError, match="cannot cross"):
        wire.decode({"$mf": "minnet.tensor:np.asarray"}, [])      # NumPy's, imported there
    with pytest.raises(wire.WireError, match="cannot cross"):
        wire.decode({"$mf": "minnet.tensor:np.ctypeslib.os.system"}, [])
    with pytest.raises(wire.WireError, match="cannot cross"):
        wire.decode({"$class": "minnet.nn:np.ndarray"}, [])
    from minnet.grading import planted
    node = wire.encode(planted.Root(), [])            # the tests' planted modules do cross
    assert type(wire.decode(node, [])) is planted.Root


def test_a_students_loss_of_a_non_leaf_trains_the_graders_model(tmp_path):
    import minnet

    test_file = lab_file(tmp_path, """
        def squared(output, target):
            return ((output - target) ** 2).mean()
    """, "losses")
    lab = sandboxed(test_file, "losses", allowed_imports=("numpy", "minnet"))
    layer = minnet.nn.Linear(1, 1)
    output = layer(minnet.tensor(np.ones((4, 1), np.float32)))     # has a graph here
    lab.squared(output, minnet.tensor(np.zeros((4, 1), np.float32))).backward()
    assert output._backward is not None           # the reply did not cut the grader's graph
    assert layer.weight.grad is not None and float(abs(layer.weight.grad.numpy()).sum()) > 0


FUNCTION_FILE = """
    import numpy as np
    from minnet.autograd import Function

    class Cube(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x.data)
            return x.data ** 3

        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return 3 * x ** 2 * grad_output.data

    def what_minnet_has():
        import minnet
        return sorted(name for name in dir(minnet) if not name.startswith("_"))

    def engine():
        import minnet.tensor
        return True
"""


def test_a_students_function_class_runs_through_a_proxy_without_minnets_engine(tmp_path):
    import minnet
    from minnet.autograd import Function
    from minnet.gradcheck import gradcheck

    test_file = lab_file(tmp_path, FUNCTION_FILE, "ops")
    with pytest.raises(LabFailure, match="import minnet"):   # the static check: minnet itself
        sandboxed(test_file, "ops", allowed_imports=("numpy",), stand_ins=("minnet.autograd",))
    lab = unchecked_ops = SandboxedModule(Sandbox(
        os.path.join(os.path.dirname(test_file), "ops.py"), "ops", ("numpy",),
        ("minnet.autograd",)))
    cube = lab.Cube
    assert issubclass(cube, Function) and cube is unchecked_ops.Cube   # the grader's class
    x = minnet.tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    cube.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * np.array([0.5, -1.0, 2.0]) ** 2)
    assert gradcheck(lambda t: cube.apply(t), (minnet.tensor(np.array([0.3, 1.1]),
                                                             requires_grad=True),))
    assert lab.what_minnet_has() == ["autograd"]           # the stand-in, nothing else
    with pytest.raises(ImportError):                          # no engine to borrow there
        lab.engine()


def test_the_graders_functions_in_place_of_the_students_keep_their_objects(tmp_path):
    import minnet
    from minnet.grading.sandbox import replacing

    test_file = lab_file(tmp_path, """
        def build(width):
            raise NotImplementedError
        def train(model, steps):
            raise NotImplementedError
        def fit():
            model = build(3)
            losses = train(model, 2)
            return model, losses
        def peek(model):
            return model.weight
    """, "fits")
    lab = sandboxed(test_file, "fits", allowed_imports=("numpy", "minnet"))
    built, trained = [], []

    def build(width):
        built.append(minnet.nn.Linear(1, width))
        return built[-1]

    def train(model, steps):
        trained.append(model)
        return [1.0] * steps

    with replacing(lab, build=build, train=train):
        model, losses = lab.fit()
    assert model is built[0] and trained == [built[0]] and losses == [1.0, 1.0]
    with pytest.raises(NotImplementedError):                  # the student's own again
        lab.fit()



def test_records_and_the_ops_behind_a_result_cross_as_data(tmp_path):
    import minnet
    from minnet.grading.sandbox import ops_behind

    test_file = lab_file(tmp_path, """
        def names(report):
            return [check.name for check in report.inputs], report.inputs[0].shape
        def soft(x):
            return x.exp() / x.exp().sum()
    """, "reads")
    lab = sandboxed(test_file, "reads", allowed_imports=("numpy", "minnet"))

    class Check:
        def __init__(self, name, shape):
            self.name, self.shape, self._secret = name, shape, "kept here"

    class Report:
        def __init__(self):
            self.inputs = [Check("x", (2, 3)), Check("w", (3,))]

    assert lab.names(wire.Record.of(Report())) == (["x", "w"], (2, 3))
    result = lab.soft(minnet.tensor(np.array([1.0, 2.0]), requires_grad=True))
    assert {"exp", "sum", "div"} <= set(ops_behind(result))
    assert ops_behind(minnet.tensor([1.0])) is None


def test_the_ops_behind_a_result_are_the_engines_not_the_tensors_op_names(tmp_path):
    """A result whose op the student's code renamed still shows the op that made it."""
    import minnet
    from minnet.grading.sandbox import ops_behind

    test_file = lab_file(tmp_path, """
        from minnet.nn import functional as F
        def renamed(x):
            out = (F.log_softmax)(x, dim=1)
            out.op = "sub"
            return out
    """, "renames")
    lab = sandboxed(test_file, "renames", allowed_imports=("numpy", "minnet"))
    result = lab.renamed(minnet.tensor(np.ones((2, 3)), requires_grad=True))
    assert "log_softmax" in ops_behind(result) and "sub" not in ops_behind(result)


@pytest.mark.parametrize("line, rule", [
    ("from minnet import __file__ as where", "machinery"),
    ("from numpy._pytesttester import os", "operating system"),
    ("from numpy._pytesttester import TestTester", "private module"),
    ("import numpy._core", "private module"),
    ("from minnet.grading.isolation import kill_orphans", "grader's own package"),
    ("from minnet.grading import expect", "grader's own package"),
    ("import minnet.grading.sandbox", "grader's own package"),
    ("from numpy import _NoValue", "private module"),
    ("def f(out):\n    out._parents = ()", "private parts"),
    # a private module reached through a plain variable, or a parameter called self
    ("t = np.testing\nrun = t._private.utils.runstring", "private parts"),
    ("def f(self=np.testing):\n    return self._private", "private parts"),
    ("def f(self):\n    self = np.testing\n    return self._private", "private parts"),
    ("def f(x):\n    return x._backward", "private parts"),
    ("x = np.genfromtxt('http://example.com/a.csv?leak')", "operating system"),
    ("x = np.lib.format.pickle.loads(b'')", "operating system"),
    ("np.save('/tmp/leak.npy', np.ones(2))", "operating system"),
    ("from numpy.f2py import crackfortran", "operating system"),
    ("run = np.f2py.crackfortran.myeval", "operating system"),
])
def test_static_check_applies_its_rules_to_imported_names_and_modules(line, rule):
    problems = check_source(f"import numpy as np\n{line}\n", "lab.py", ("numpy", "minnet"))
    assert problems and "lab.py:" in problems[0] and any(rule in p for p in problems), problems


def test_static_check_lets_a_method_use_its_own_private_attributes():
    text = ("import numpy as np\n\nclass Layer:\n    def __init__(self):\n"
            "        self._cache = None\n\n    def forward(self, x):\n"
            "        self._cache = x\n        inner = lambda: self._cache\n"
            "        return inner(), type(self).__name__\n\n"
            "class Op:\n    @staticmethod\n    def backward(ctx, grad):\n"
            "        return grad * ctx._scale\n")
    assert check_source(text, "lab.py", ("numpy",)) == []


def test_static_check_accepts_what_honest_lab_files_write():
    # a review found correct files refused: a parameter named `input` (PyTorch's name), an op
    # written as docs/autograd.md teaches, namedtuple's methods, a method called `load`
    text = ("import numpy as np\nfrom collections import namedtuple\n"
            "from minnet.tensor import Tensor\n\n"
            "def double(input):\n    out = input._data * 2\n"
            "    return Tensor._from_op(out, (input,), lambda g: (g * 2,), 'double')\n\n"
            "Pair = namedtuple('Pair', 'a b')\n"
            "def swap(p):\n    return p._replace(a=p.b, b=p.a)._asdict()\n\n"
            "class Store:\n    def load(self):\n        return self.save\n\n"
            "    def save(self):\n        return self.load\n")
    assert check_source(text, "lab.py", ("numpy", "minnet", "collections")) == []


def test_static_check_allows_a_stand_in_alone_and_refuses_forbidden_imported_names():
    text = "from minnet.autograd import Function\nimport minnet.nn\n"
    problems = check_source(text, "ops.py", ("numpy", "minnet.autograd"))
    assert len(problems) == 1 and "ops.py:2" in problems[0]
    problems = check_source("from minnet.nn.init import xavier_normal_\n", "fit.py",
                            ("numpy", "minnet"), forbidden=("xavier_normal_",))
    assert problems and "xavier_normal_" in problems[0]


def test_the_students_messages_reach_the_feedback_printable(tmp_path):
    # a review's error message cleared the instructor's terminal and drew a fake grade table
    lab = sandboxed(lab_file(tmp_path, '''
        def f():
            raise RuntimeError("\\x1b[2J\\x1b[H grades 21/21 all tests passed \\x1b[8m\\u202e")
    '''), "layers")
    with pytest.raises(RuntimeError) as caught:
        lab.f()
    message = str(caught.value)
    assert "\x1b" not in message and "\u202e" not in message
    assert "\\x1b[2J" in message and "grades 21/21" in message


def test_the_student_may_write_its_figure_into_the_tests_tmp_path(tmp_path):
    # with the uid drop working, the reference solutions lost their figure tests: the test's
    # tmp_path is root's 0700 folder, and the sandbox user could not write there
    from minnet.grading import lockdown

    folder = tmp_path / "test_figure0"
    folder.mkdir(mode=0o700)
    lockdown.allow_writing(folder)
    try:
        test_file = lab_file(tmp_path, """
            import numpy as np
            def save(path):
                np.arange(3.0).tofile(path)
        """)
        path = os.path.join(os.path.dirname(test_file), "layers.py")
        module = SandboxedModule(Sandbox(path, "layers", ("numpy",)))  # tofile: unchecked
        module.save(str(folder / "figure.bin"))
        np.testing.assert_array_equal(np.fromfile(folder / "figure.bin"), np.arange(3.0))
        os.symlink(folder / "figure.bin", folder / "link.bin")  # as a worker's code could
        module.save(str(folder / "other.bin"))                  # any reply: links removed
        assert not os.path.lexists(folder / "link.bin")
    finally:
        lockdown.allow_writing()


def test_a_mutating_function_leaves_a_parameterless_module_alone(tmp_path):
    # a review's lab 06 clipped_train_step zeroed the shared loss's class weights: the
    # reference's run with the same loss then stood still too (4/4 for no training)
    from minnet import nn

    lab = sandboxed(lab_file(tmp_path, NET_FILE + '''
def step_(model, loss_fn):
    loss_fn.weight = minnet.tensor(np.zeros(3, dtype=np.float32))
    model[0].bias.detach().numpy()[:] = 5.0
    return model
''', "net"), "net", allowed_imports=("numpy", "minnet"), mutates=("step_",))
    model, loss_fn = nn.Sequential(nn.Linear(2, 3)), nn.CrossEntropyLoss()
    lab.step_(model, loss_fn)
    np.testing.assert_array_equal(model[0].bias.numpy(), [5.0, 5.0, 5.0])  # the model changed
    assert loss_fn.weight is None                                           # the loss did not


def test_repeated_mutating_calls_see_what_the_grader_changed_in_between(tmp_path):
    # a training loop sends the same model at every step; the debugger may change it between
    # two steps (a parameter reset, a probe): the worker must work on the model as it is now,
    # never on a copy it kept from the step before (a stale copy would be a wrong grade)
    from minnet import nn

    lab = sandboxed(lab_file(tmp_path, NET_FILE + '''
def bump_(model):
    for p in model.parameters():
        p.detach().numpy()[...] += 1.0
    return [p.detach().numpy().copy() for p in model.parameters()]
''', "net"), "net", allowed_imports=("numpy", "minnet"), mutates=("bump_",))
    model = nn.Sequential(nn.Linear(2, 3))
    weight, bias = (p.numpy().copy() for p in model.parameters())
    lab.bump_(model)
    np.testing.assert_allclose(model[0].weight.numpy(), weight + 1.0)
    model[0].weight.detach().numpy()[...] = 0.0       # the grader's own changes in between
    model[0].bias = nn.Parameter(np.full(3, 10.0, dtype=np.float32))
    seen = lab.bump_(model)
    np.testing.assert_allclose(seen[0], np.ones((3, 2)))
    np.testing.assert_allclose(seen[1], np.full(3, 11.0))
    np.testing.assert_allclose(model[0].bias.numpy(), np.full(3, 11.0))


def test_a_mutating_call_sends_back_only_the_arguments_its_contract_names(tmp_path,
                                                                          monkeypatch):
    # the others' changes would be dropped here anyway: the test's batch and its loss are not
    # even decoded (a training step's reply is the model and the optimizer)
    from minnet import Tensor, nn, optim
    from minnet.grading import sandbox

    lab = sandboxed(lab_file(tmp_path, NET_FILE, "net"), "net",
                    allowed_imports=("numpy", "minnet"), mutates=("step",))
    replies, receive = [], wire.recv

    def recv(sock):
        header, buffers = receive(sock)
        replies.append(header)
        return header, buffers

    monkeypatch.setattr(sandbox.wire, "recv", recv)
    model = nn.Sequential(nn.Linear(2, 2))
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    X, y = Tensor(np.ones((4, 2), dtype=np.float32)), Tensor(np.array([0, 1, 0, 1]))
    lab.step(model, nn.CrossEntropyLoss(), optimizer, X, y)
    arguments = replies[-1]["args"]["$t"][0]["$t"]
    assert [node is None for node in arguments] == [False, True, False, True, True]
    assert model[0].weight.grad is not None


def test_what_the_codec_remembers_per_class_never_lets_a_crafted_object_through():
    # the codec looks up once per class and attribute name whether the name hides a method,
    # and resolves a class path once: an honest model decoded first must not open the way
    # for a crafted one of the same classes afterwards
    from minnet import nn

    buffers: list = []
    honest = wire.Codec().encode(nn.Sequential(nn.Linear(2, 2)), buffers)
    for _ in range(2):
        model = wire.Codec().decode(honest, buffers)
        assert isinstance(model[0], nn.Linear) and model[0].weight.shape == (2, 2)
    layer = honest["state"]["_modules"]["$d"][0][1]
    planted = {"forward": {"$mf": "minnet.random:manual_seed"}}
    crafted = {**layer, "state": {**layer["state"], **planted}}
    with pytest.raises(wire.WireError, match="'forward' is its own"):
        wire.Codec().decode(crafted, buffers)
    bad_dtype = {"$a": 0, "dtype": "|O", "shape": [1]}
    with pytest.raises(wire.WireError, match="cannot cross"):
        wire.Codec().decode(bad_dtype, [b"\0" * 8])


def test_a_mutating_function_may_change_a_models_values_not_its_layers(tmp_path):
    # a review's lab 04 init_weights_ swapped every Linear for Linear + BatchNorm1d: the
    # test then measured normalised outputs (2/2 for no initialisation at all)
    from minnet import nn

    lab = sandboxed(lab_file(tmp_path, NET_FILE + '''
def swap_(model):
    model.add_module("0", nn.Sequential(model[0], nn.BatchNorm1d(3)))
    return model

def grow_(model):
    model.append(nn.ReLU())
    return model

def reshape_(model):
    model[0].weight = nn.Parameter(np.zeros((5, 2), dtype=np.float32))
    return model

def retype_(model):
    model.add_module("1", nn.Tanh())
    return model

def fresh_parameters_(model):
    model[0].weight = nn.Parameter(np.ones((3, 2), dtype=np.float32))
    return model
''', "net"), "net", allowed_imports=("numpy", "minnet"),
        mutates=("swap_", "grow_", "reshape_", "retype_", "fresh_parameters_"))
    for name in ("swap_", "grow_", "reshape_", "retype_"):
        model = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
        with pytest.raises(LabFailure, match="not its layers"):
            getattr(lab, name)(model)
        assert [type(layer) for layer in model] == [nn.Linear, nn.ReLU], name
        assert model[0].weight.shape == (3, 2)
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    lab.fresh_parameters_(model)  # a new Parameter of the same shape: values, allowed
    np.testing.assert_array_equal(model[0].weight.numpy(), np.ones((3, 2)))
