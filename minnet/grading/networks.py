"""What a network a student's file returned really runs: its layers, not what it carries.

``model.modules()`` lists every module an object holds, but a forward pass runs only what
each module's own ``forward`` calls: ``nn.Sequential`` its children in order, a ``Linear``
none of them. A Linear carrying ten Linear layers as children (``first.decoys = ...``) counts
as a deep net while a 2-32-2 net trains (lab 06 gave its two deep repairs, 8 points, to that).
``nested_layers_problem`` refuses a network in which anything but a Sequential holds layers;
then ``model.modules()`` lists exactly the layers that run.
"""
from __future__ import annotations

from typing import Optional


def nested_layers_problem(model, what: str = "the model") -> Optional[str]:
    """None when every module of ``model`` that holds other modules is an ``nn.Sequential``
    (which runs them, in order), else what is wrong."""
    from ..nn import Sequential

    for name, module in model.named_modules():
        children = [child_name for child_name, _ in module.named_children()]
        if children and type(module) is not Sequential:
            where = f"its {name!r}" if name else "the model itself"
            return (f"{what}: {where} is a {type(module).__name__} holding other layers "
                    f"({', '.join(children)}), which its forward pass never runs. Build the "
                    "network from layers in nn.Sequential containers only.")
    return None
