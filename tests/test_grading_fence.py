"""minnet.grading.fence: a student's code runs with named minnet functions switched off."""
import types

import pytest

from minnet.grading.fence import Fenced, gradient_machinery, switched_off


def helper(x):
    return x + 1


def test_a_switched_off_function_raises_the_message_and_is_restored_after():
    taken_at_import = helper  # a reference taken before the block is switched off too
    with switched_off([helper], "lab 99: write it yourself"):
        with pytest.raises(RuntimeError, match="lab 99: write it yourself"):
            taken_at_import(1)
    assert helper(1) == 2


def test_nested_blocks_restore_only_at_the_outermost_and_after_an_error():
    with pytest.raises(ValueError):
        with switched_off([helper], "outer"):
            with switched_off([helper], "inner"):
                with pytest.raises(RuntimeError, match="outer"):
                    helper(1)
            with pytest.raises(RuntimeError):
                helper(1)
            raise ValueError("the student's code failed")
    assert helper(1) == 2


def test_only_plain_functions_without_closures_can_be_switched_off():
    def make():
        captured = 3

        def closure():
            return captured
        return closure

    with pytest.raises(TypeError, match="not a plain function"):
        with switched_off([make()], "x"):
            pass
    assert helper(1) == 2


def test_fenced_module_runs_each_function_inside_the_block():
    module = types.ModuleType("student_file")
    module.uses_helper = lambda x: helper(x)
    module.own = lambda x: x * 2
    module.CONSTANT = 7
    fenced = Fenced(module, lambda: [helper], "lab 99: no helper")
    assert fenced.own(3) == 6 and fenced.CONSTANT == 7
    with pytest.raises(RuntimeError, match="no helper"):
        fenced.uses_helper(1)
    assert module.uses_helper(1) == 2  # outside the fence: untouched


def test_the_gradient_machinery_is_minnets_backward_and_numerical_gradients():
    import minnet
    names = {function.__name__ for function in gradient_machinery()}
    assert names == {"run_backward", "numerical_gradient", "numerical_gradient_array"}
    x = minnet.tensor([1.0, 2.0], requires_grad=True)
    with switched_off(gradient_machinery(), "no autograd here"):
        with pytest.raises(RuntimeError, match="no autograd here"):
            (x * x).sum().backward()
    (x * x).sum().backward()
    assert x.grad.data.tolist() == [2.0, 4.0]
