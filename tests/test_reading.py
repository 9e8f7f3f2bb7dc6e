"""docs/reading.md cannot go stale silently: each stop's line range starts at the
definition it quotes and ends where a definition ends, in the file as it is now."""
import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
READING = ROOT / "docs" / "reading.md"
# [minnet/engine.py, lines 19-77](../minnet/engine.py#L19-L77), from `def run_backward`
STOP = re.compile(r"\[(?P<file>minnet/[\w/]+\.py), lines (?P<start>\d+)-(?P<end>\d+)\]"
                  r"\(\.\./(?P<link>[\w/]+\.py)#L(?P<lstart>\d+)-L(?P<lend>\d+)\),\s+"
                  r"from\s+`(?P<quote>(?:def|class) \w+)`")


def stops() -> list:
    return list(STOP.finditer(READING.read_text(encoding="utf-8")))


def definitions(path: Path) -> list:
    """(kind name, first line, last line) of every def and class in the file, nested too."""
    kinds = {ast.FunctionDef: "def", ast.AsyncFunctionDef: "def", ast.ClassDef: "class"}
    return [(f"{kinds[type(node)]} {node.name}", node.lineno, node.end_lineno)
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if type(node) in kinds]


def test_the_reading_order_covers_the_core_from_tensor_to_training_loop():
    files = [stop["file"] for stop in stops()]
    assert len(files) >= 20, "docs/reading.md: fewer stops than expected; is the format intact?"
    expected_order = ["minnet/tensor.py", "minnet/engine.py", "minnet/ops/elementwise.py",
                      "minnet/ops/_util.py", "minnet/nn/module.py", "minnet/nn/linear.py",
                      "minnet/nn/loss.py", "minnet/optim/optimizer.py", "minnet/data/loader.py",
                      "minnet/train.py"]
    positions = [files.index(name) for name in expected_order]
    assert positions == sorted(positions), f"stops out of order: {list(zip(expected_order, positions))}"


def test_every_stop_starts_at_the_definition_it_names_and_ends_at_a_definitions_end():
    stale = []
    for stop in stops():
        file, quote = stop["file"], stop["quote"]
        start, end = int(stop["start"]), int(stop["end"])
        assert (stop["link"], stop["lstart"], stop["lend"]) == (file, stop["start"], stop["end"]), \
            f"docs/reading.md: the link of {quote!r} does not match its text: {stop.group(0)}"
        path = ROOT / file
        assert path.is_file(), f"docs/reading.md names {file}, which does not exist"
        found = definitions(path)
        starting_here = [d for d in found if d[0] == quote and d[1] == start]
        ends_in_range = {last for _, first, last in found if start <= first <= last <= end}
        if not starting_here or end not in ends_in_range:
            now = [f"{first}-{last}" for name, first, last in found if name == quote]
            stale.append(f"{file} lines {start}-{end} from `{quote}`: `{quote}` is now at "
                         f"lines {', '.join(now) or '(gone)'}")
    assert not stale, "docs/reading.md is stale; update these stops:\n" + "\n".join(stale)
