"""minnet.grading.networks: a network counts the layers it runs, not the ones it carries."""
from minnet import nn
from minnet.grading.networks import nested_layers_problem


def test_layers_hung_under_a_layer_are_refused_and_sequential_nesting_is_not():
    # a review's lab 06 setups: a 2-32-2 net with ten Linear layers under its first Linear,
    # counted by model.modules() ("keep at least 10") though never run: 8/24, honest 0
    first = nn.Linear(2, 32)
    first.decoys = nn.Sequential(*[nn.Linear(32, 32) for _ in range(10)])
    decoyed = nn.Sequential(first, nn.Tanh(), nn.Linear(32, 2))
    assert sum(isinstance(m, nn.Linear) for m in decoyed.modules()) == 12
    problem = nested_layers_problem(decoyed, "vanishing net")
    assert "its '0' is a Linear holding other layers (decoys)" in problem
    listed = nn.Sequential(nn.Linear(2, 3), nn.ModuleList([nn.Linear(3, 3)]))
    assert "ModuleList" in nested_layers_problem(listed)
    nested = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.BatchNorm1d(3), nn.Tanh()),
                           nn.Linear(3, 2))
    assert nested_layers_problem(nested) is None
    assert nested_layers_problem(nn.Linear(2, 2)) is None
