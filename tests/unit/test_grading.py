"""The checks hidden tests are written with (genai_grading.checks): values, dtype, inputs left alone, seeds."""

from __future__ import annotations

import pytest
import torch

from genai_grading.checks import Case, check_function, grading_generator, set_seed_base


def test_a_correct_function_passes_and_counts_cases():
    assert check_function(lambda x: x + x, lambda x: 2 * x, [Case(torch.randn(3)), Case(torch.randn(2, 2))]) == 2


def test_wrong_values_say_which_case():
    with pytest.raises(AssertionError, match=r"case 1 \(the second\).*values differ"):
        check_function(lambda x: x + 2 if x.numel() > 1 else 2 * x, lambda x: 2 * x,
                       [Case(torch.ones(1)), Case(torch.ones(3), label="the second")])


def test_the_returned_dtype_must_be_the_references():
    def float64_inside(x):
        return (x.double() * 2).to(x.dtype)

    check_function(float64_inside, lambda x: 2 * x, [Case(torch.randn(3))])
    with pytest.raises(AssertionError, match="expected dtype torch.float32, got torch.float64"):
        check_function(lambda x: x.double() * 2, lambda x: 2 * x, [Case(torch.randn(3))])


def test_inputs_must_be_left_unchanged_unless_the_task_says_otherwise():
    def in_place(x):
        x.mul_(2)
        return x

    with pytest.raises(AssertionError, match="changed its input tensor number 1 in place"):
        check_function(in_place, lambda x: 2 * x, [Case(torch.randn(3))])
    check_function(in_place, lambda x: 2 * x, [Case(torch.randn(3))], inputs_unchanged=False)


def test_not_implemented_is_reported_as_such():
    def todo(x):
        raise NotImplementedError()

    with pytest.raises(AssertionError, match="not implemented yet"):
        check_function(todo, lambda x: x, [Case(torch.zeros(1))])


def test_grading_generators_depend_on_the_secret_seed_and_key():
    set_seed_base(None, "test_a")
    public = torch.randn(4, generator=grading_generator(7))
    set_seed_base(None, "test_a")
    assert torch.equal(public, torch.randn(4, generator=grading_generator(7)))  # same key, same numbers
    assert not torch.equal(public, torch.randn(4, generator=grading_generator(8)))
    set_seed_base(123456789, "test_a")
    secret = torch.randn(4, generator=grading_generator(7))
    set_seed_base(987654321, "test_a")
    other = torch.randn(4, generator=grading_generator(7))
    set_seed_base(None, "")
    assert not torch.equal(public, secret) and not torch.equal(secret, other)
