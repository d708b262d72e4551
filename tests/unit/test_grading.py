import warnings

import pytest
import torch

from genai_foundations.grading import Case, ReferenceUnavailableError, assert_matches, check_function, reference


@reference
def scaled_sum(x: torch.Tensor, scale: float = 2.0) -> torch.Tensor:
    return scale * x.sum(dim=-1)


def cases():
    g = torch.Generator().manual_seed(0)
    return [Case(torch.randn(3, 4, generator=g)), Case(torch.randn(2, 5, generator=g), scale=0.5)]


def test_right_answer_passes_silently(capsys):
    def student(x, scale=2.0):
        warnings.warn("noise that must not reach stderr")
        return (x * scale).sum(-1)

    assert check_function(student, scaled_sum, cases()) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_wrong_values_are_explained():
    with pytest.raises(AssertionError, match=r"case 0 .*values differ"):
        check_function(lambda x, scale=2.0: x.sum(-1), scaled_sum, cases())


def test_wrong_shape_is_explained():
    with pytest.raises(AssertionError, match=r"expected shape \(3,\), got \(3, 1\)"):
        check_function(lambda x, scale=2.0: scale * x.sum(-1, keepdim=True), scaled_sum, cases())


def test_calling_the_reference_fails():
    def cheater(x, scale=2.0):
        return scaled_sum(x, scale)

    with pytest.raises(AssertionError, match="called the reference"):
        check_function(cheater, scaled_sum, cases())
    # outside grading the reference works again
    assert scaled_sum(torch.ones(2)).item() == 4.0


def test_not_implemented_and_crashes():
    def todo(x, scale=2.0):
        raise NotImplementedError()

    with pytest.raises(AssertionError, match="not implemented yet"):
        check_function(todo, scaled_sum, cases())
    with pytest.raises(AssertionError, match="raised ZeroDivisionError"):
        check_function(lambda x, scale=2.0: 1 / 0, scaled_sum, cases())


def test_inputs_are_cloned():
    def mutates(x, scale=2.0):
        out = scale * x.sum(-1)
        x.zero_()
        return out

    assert check_function(mutates, scaled_sum, cases()) == 2


def test_seeded_random_functions():
    @reference
    def noisy(n):
        return torch.randn(n)

    assert check_function(lambda n: torch.randn(n), noisy, [Case(3), Case(4)], seed=10) == 2


def test_assert_matches_structures():
    assert_matches({"a": (1.0, torch.ones(2))}, {"a": (1.0, torch.ones(2))}, "x")
    with pytest.raises(AssertionError, match=r"x\['a'\]\[0\]"):
        assert_matches({"a": (1.5, torch.ones(2))}, {"a": (1.0, torch.ones(2))}, "x")
    with pytest.raises(AssertionError, match="NaN"):
        assert_matches(torch.tensor([float("nan")]), torch.tensor([1.0]), "x")


def test_reference_blocking_is_explicit():
    with pytest.raises(TypeError, match="not decorated"):
        check_function(lambda x: x, lambda x: x, [Case(1)])
    with pytest.raises(ReferenceUnavailableError):
        from genai_foundations.grading import references_blocked

        with references_blocked(scaled_sum):
            scaled_sum(torch.ones(1))
