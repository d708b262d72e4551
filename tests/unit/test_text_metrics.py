"""Tests of perplexity, BLEU and ROUGE (chapter 26) against sacrebleu, rouge-score and closed forms."""

from __future__ import annotations

import math
import random

import pytest
import torch
from torch.nn import functional as F

from genai_foundations.evaluation import text_metrics as tm

WORDS = "the a cat dog sat on mat rug and quickly slowly ran".split()


def _random_corpus(seed: int, n: int = 12, refs: int = 2):
    rng = random.Random(seed)
    sent = lambda: [rng.choice(WORDS) for _ in range(rng.randint(3, 14))]  # noqa: E731
    cands = [sent() for _ in range(n)]
    references = [[sent() for _ in range(refs)] for _ in range(n)]
    # make some n-grams match: copy a stretch of a candidate into its first reference
    for c, r in zip(cands, references):
        r[0][: len(c) // 2] = c[: len(c) // 2]
    return cands, references


@pytest.mark.parametrize("seed", range(6))
def test_bleu_equals_sacrebleu_corpus_bleu(seed):
    import sacrebleu

    cands, refs = _random_corpus(seed, refs=1 + seed % 3)
    ours = tm.bleu(cands, refs)
    streams = [[" ".join(r[k]) for r in refs] for k in range(len(refs[0]))]
    theirs = sacrebleu.corpus_bleu([" ".join(c) for c in cands], streams, tokenize="none", smooth_method="none",
                                   force=True)
    assert ours.score * 100 == pytest.approx(theirs.score, abs=1e-9)
    assert ours.brevity_penalty == pytest.approx(theirs.bp, abs=1e-12)
    assert (ours.candidate_length, ours.reference_length) == (theirs.sys_len, theirs.ref_len)
    for p, q in zip(ours.precisions, theirs.precisions):
        assert 100 * p == pytest.approx(q, abs=1e-9)


def test_bleu_worked_example_and_brevity_penalty():
    ref = "the cat is on the mat".split()
    assert tm.bleu([ref], [[ref]]).score == pytest.approx(1.0)
    short = "the cat is on the".split()                # every n-gram matches, but c = 5 < r = 6
    result = tm.bleu([short], [[ref]])
    assert result.precisions == (1.0, 1.0, 1.0, 1.0)
    assert result.score == pytest.approx(math.exp(1 - 6 / 5))
    # clipping: "the the the the" matches 'the' at most twice
    assert tm.bleu([["the"] * 4], [[ref]], max_n=1).precisions == (0.5,)
    # the closest reference length, the shorter on a tie
    assert tm.closest_reference_length(5, [3, 7, 9]) == 3


def test_bleu_input_checks():
    with pytest.raises(TypeError):
        tm.bleu(["a b c"], [["a b c"]])
    with pytest.raises(ValueError):
        tm.bleu([["a"]], [])


@pytest.mark.parametrize("seed", range(8))
def test_rouge_1_2_l_equal_rouge_score(seed):
    from rouge_score import rouge_scorer

    rng = random.Random(100 + seed)
    vocab = WORDS + ["Cat,", "MAT.", "dog's", "2024"]
    cand = " ".join(rng.choice(vocab) for _ in range(rng.randint(1, 20)))
    ref = " ".join(rng.choice(vocab) for _ in range(rng.randint(1, 20)))
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)
    theirs = scorer.score(ref, cand)                   # rouge-score takes (target, prediction)
    c, r = tm.rouge_tokenize(cand), tm.rouge_tokenize(ref)
    for ours, key in ((tm.rouge_n(c, r, 1), "rouge1"), (tm.rouge_n(c, r, 2), "rouge2"), (tm.rouge_l(c, r), "rougeL")):
        assert ours.precision == pytest.approx(theirs[key].precision, abs=1e-12)
        assert ours.recall == pytest.approx(theirs[key].recall, abs=1e-12)
        assert ours.fmeasure == pytest.approx(theirs[key].fmeasure, abs=1e-12)


def test_rouge_s_on_lins_example_and_by_brute_force():
    ref = "police killed the gunman".split()
    s2 = "police kill the gunman".split()
    s3 = "the gunman kill police".split()
    # Lin (2004): 6 skip-bigrams each; S2 shares 3 with the reference, S3 shares 1
    assert tm.rouge_s(s2, ref).fmeasure == pytest.approx(3 / 6)
    assert tm.rouge_s(s3, ref).fmeasure == pytest.approx(1 / 6)
    rng = random.Random(7)
    for _ in range(20):
        a = [rng.choice("abcd") for _ in range(rng.randint(2, 9))]
        b = [rng.choice("abcd") for _ in range(rng.randint(2, 9))]
        for skip in (None, 0, 2):
            pairs = lambda t: [(t[i], t[j]) for i in range(len(t)) for j in range(i + 1, len(t))  # noqa: E731
                               if skip is None or j - i - 1 <= skip]
            pa, pb = pairs(a), pairs(b)
            remaining, overlap = list(pb), 0
            for p in pa:
                if p in remaining:
                    remaining.remove(p)
                    overlap += 1
            got = tm.rouge_s(a, b, skip)
            assert got.precision == pytest.approx(overlap / len(pa)) and got.recall == pytest.approx(overlap / len(pb))
    # max_skip = 0 is ROUGE-2
    assert tm.rouge_s(s2, ref, 0) == tm.rouge_n(s2, ref, 2)


def test_lcs_length_by_hand():
    assert tm.lcs_length("ABCBDAB", "BDCABA") == 4
    assert tm.lcs_length([], ["a"]) == 0


def test_perplexity_matches_cross_entropy_and_the_uniform_model():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 7, 11, generator=gen, dtype=torch.float64)
    targets = torch.randint(0, 11, (3, 7), generator=gen)
    expected = F.cross_entropy(logits.reshape(-1, 11), targets.reshape(-1)).exp()
    torch.testing.assert_close(tm.perplexity(logits, targets), expected)
    assert float(tm.perplexity(torch.zeros(5, 11), torch.arange(5))) == pytest.approx(11.0)
    mask = torch.zeros(3, 7, dtype=torch.bool)
    mask[0, :3] = True
    torch.testing.assert_close(tm.perplexity(logits, targets, mask), tm.perplexity(logits[0, :3], targets[0, :3]))
    # worse than uniform: confident and wrong
    bad = torch.full((4, 11), -5.0)
    bad[:, 0] = 5.0
    assert float(tm.perplexity(bad, torch.ones(4, dtype=torch.long))) > 11
    with pytest.raises(ValueError):
        tm.perplexity(logits, targets[:, :3])
