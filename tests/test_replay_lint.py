"""minnet.grading.replay_lint: a generator shared by several graded parts is found by reading
the test (a part that fails half-way would change the next part's data, which a student
release cannot replay)."""
from minnet.grading.replay_lint import shared_generators

SHARED = '''
def test_two_parts(credit):
    mine, ref = load()
    rng = np.random.default_rng(4)
    with credit.part(1, "a"):
        a = rng.normal(size=3)
        expect_close("a", mine.f(a), ref.f(a))
        b = rng.normal(size=3)
    with credit.part(1, "b"):
        c = rng.normal(size=3)
        expect_close("c", mine.f(c), ref.f(c))
'''


def test_a_generator_feeding_two_parts_is_found():
    assert shared_generators(SHARED) == [("test_two_parts", "rng", 2)]


def test_a_generator_per_part_is_not():
    own = SHARED.replace('        c = rng', '        rng = np.random.default_rng(5)\n        c = rng')
    assert shared_generators(own) == []


def test_parts_that_never_call_the_reference_are_not():
    # only a later part's reference call can miss its recorded result
    assert shared_generators(SHARED.replace("ref.f(c)", "np.sin(c)")) == []
