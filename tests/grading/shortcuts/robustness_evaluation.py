"""Shortcut answers for exercise 26 (robustness-evaluation): each passes the hidden tests outside the sandbox, or is a naive answer."""

SHORTCUTS = {
    # the package's reference, called directly
    "fgsm": (
        "from genai_foundations.algorithms.adversarial import fgsm as _fgsm\n"
        "def fgsm(model, x, y, eps):\n"
        "    return _fgsm(model, x, y, eps)"),
    # torch.renorm does the L2 projection and F.normalize the L2 direction
    "pgd_step": (
        "def pgd_step(x_adv, x, grad, alpha, eps, norm='inf'):\n"
        "    if norm == 'inf':\n"
        "        return (x + (x_adv + alpha * grad.sign() - x).clamp(-eps, eps)).clamp(-1, 1)\n"
        "    d = F.normalize(grad.flatten(1), dim=1).reshape(grad.shape)\n"
        "    delta = torch.renorm((x_adv + alpha * d - x).flatten(1), 2, 0, eps).reshape(x.shape)\n"
        "    return (x + delta).clamp(-1, 1)"),
    # sacrebleu with the tokenisation switched off
    "corpus_bleu": (
        "import sacrebleu\n"
        "def corpus_bleu(candidates, references):\n"
        "    streams = [[' '.join(r[k]) for r in references] for k in range(len(references[0]))]\n"
        "    return sacrebleu.corpus_bleu([' '.join(c) for c in candidates], streams, tokenize='none').score / 100"),
    # the package's own cross-entropy (chapter 10) does all the work (F.cross_entropy is refused by the guard)
    "perplexity": (
        "from genai_foundations.architectures.losses import cross_entropy_from_logits\n"
        "def perplexity(logits, targets):\n"
        "    return cross_entropy_from_logits(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)).exp()"),
}
EXPECTED_ZERO = ["test_fgsm", "test_pgd_step", "test_corpus_bleu", "test_perplexity"]
