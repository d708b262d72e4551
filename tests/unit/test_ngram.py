"""n-gram models: distributions over the vocabulary for every context, counts in closed form, selection on training text."""

import math

import numpy as np
import pytest
import torch

from genai_foundations.algorithms.ngram import NGramCounts, NGramModel, select_ngram, unigram_model
from genai_foundations.data.characters import unigram_bits_per_char

TEXT = "abracadabra abracadabra"
CHARS = sorted(set(TEXT)) + ["?"]            # one symbol that never occurs
V = len(CHARS)
IDS = torch.tensor([CHARS.index(c) for c in TEXT])


def ids_of(text):
    return [CHARS.index(c) for c in text]


@pytest.mark.parametrize("smoothing,param", [("add-k", 1.0), ("add-k", 0.05), ("absolute", 0.5), ("absolute", 0.9)])
@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_probabilities_sum_to_one_for_every_context(order, smoothing, param):
    counts = NGramCounts(IDS, V, 4)
    kw = {"k": param} if smoothing == "add-k" else {"discount": param}
    model = NGramModel(counts, order, smoothing, **kw)
    contexts = [[]] + [list(c) for c in np.ndindex(*([V] * (order - 1)))] if order > 1 else [[]]
    for context in contexts:
        p = model.prob_vector(context)
        assert p.shape == (V,) and p.dtype == torch.float64
        assert (p > 0).all() and abs(float(p.sum()) - 1) < 1e-12


def test_add_k_equals_counts_in_closed_form():
    counts = NGramCounts(IDS, V, 3)
    model = NGramModel(counts, 2, "add-k", k=0.5)
    # after "a": "ab" x4, "ac" x2, "ad" x2, "a " x1  (the last "a" has no successor); c("a") as a context = 9
    p = model.prob_vector(ids_of("a"))
    expected = {"b": 4, "c": 2, "d": 2, " ": 1}
    for ch in CHARS:
        assert math.isclose(float(p[CHARS.index(ch)]), (expected.get(ch, 0) + 0.5) / (9 + 0.5 * V), rel_tol=1e-12)
    # unseen context "?": uniform
    assert torch.allclose(model.prob_vector(ids_of("?")), torch.full((V,), 1 / V, dtype=torch.float64))
    assert counts.distinct(1) == len(set(TEXT))


def test_absolute_discounting_by_hand():
    counts = NGramCounts(IDS, V, 2)
    D = 0.75
    model = NGramModel(counts, 2, "absolute", discount=D)
    n, unigram_counts = len(TEXT), {c: TEXT.count(c) for c in set(TEXT)}
    p1 = {c: max(unigram_counts.get(c, 0) - D, 0) / n + D * len(unigram_counts) / n / V for c in CHARS}
    after_a = {"b": 4, "c": 2, "d": 2, " ": 1}
    p = model.prob_vector(ids_of("a"))
    for c in CHARS:
        want = max(after_a.get(c, 0) - D, 0) / 9 + D * 4 / 9 * p1[c]
        assert math.isclose(float(p[CHARS.index(c)]), want, rel_tol=1e-12)


def test_log_probs_follow_the_chain_rule_and_unigram_matches_the_frequency_baseline():
    counts = NGramCounts(IDS, V, 3)
    model = NGramModel(counts, 3, "absolute", discount=0.8)
    probe = torch.tensor(ids_of("cadabra?ab"))
    lp = model.log_probs(probe, start=0)
    for t in range(len(probe)):
        context = probe[max(0, t - 2):t].tolist()
        assert math.isclose(float(lp[t]), math.log(float(model.prob_vector(context)[probe[t]])), rel_tol=1e-12)
    assert math.isclose(model.nats_per_token(probe), float(-lp[1:].mean()), rel_tol=1e-12)
    uni = unigram_model(IDS, V, k=1.0)
    by_formula = unigram_bits_per_char(IDS, probe[1:], V) * math.log(2)
    assert math.isclose(uni.nats_per_token(probe), by_formula, rel_tol=1e-9)


def test_sampling_and_selection():
    counts = NGramCounts(IDS, V, 3)
    model = NGramModel(counts, 3, "add-k", k=1e-3)
    out = model.sample(ids_of("ab"), 9, generator=torch.Generator().manual_seed(0))
    assert out.shape == (11,) and "".join(CHARS[i] for i in out[:5]) == "abrac"  # tiny k: the counts decide
    long = torch.tensor(ids_of(TEXT * 20))
    choice = select_ngram(long, V, orders=[1, 2, 3], ks=(0.1,), discounts=(0.5,))
    assert choice.order == 3 and len(choice.scores) == 6
    assert choice.scores[(3, choice.smoothing, choice.parameter)] == min(choice.scores.values())


def test_bad_input():
    counts = NGramCounts(IDS, V, 2)
    with pytest.raises(ValueError, match="order"):
        NGramModel(counts, 3)
    with pytest.raises(ValueError, match="smoothing"):
        NGramModel(counts, 2, "kneser")
    with pytest.raises(ValueError, match="discount"):
        NGramModel(counts, 2, "absolute", discount=1.5)
    with pytest.raises(ValueError, match="token ids"):
        NGramCounts([0, V], V, 1)


def test_unseen_context_share():
    from genai_foundations.algorithms.ngram import unseen_context_share

    counts = NGramCounts(IDS, V, 3)
    probe = ids_of("ab?abr")
    # contexts "ab" (seen), "b?" (no), "?a" (no), "ab" (seen)  -> 2 of 4 unseen
    assert unseen_context_share(counts, probe, 3) == 0.5


def test_bigram_table_equals_the_order_2_add_k_model():
    from genai_foundations.algorithms.ngram import bigram_probabilities

    table = bigram_probabilities(IDS, V, k=0.3)
    model = NGramModel(NGramCounts(IDS, V, 2), 2, "add-k", k=0.3)
    for i in range(V):
        assert torch.allclose(table[i], model.prob_vector([i]))
    assert torch.allclose(table.sum(dim=1), torch.ones(V, dtype=torch.float64))
