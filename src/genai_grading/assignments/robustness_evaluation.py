"""Exercise 26 (robustness-evaluation): the shortcuts each test cell forbids, and package helpers absent from the sandbox.

The hidden tests are in ``solutions/robustness-evaluation/robustness-evaluation.ipynb``. The references they
import (``adversarial.fgsm``, ``pgd_step``, ``pgd``, ``input_gradient``, ``text_metrics.bleu``,
``text_metrics.perplexity``) are absent from the sandbox, and so are the helpers below that would do a task
in one call (the projection, the ascent direction, the n-gram counter, ROUGE-N's clipped overlap) and the
package's own log-softmax and cross-entropy functions (chapters 9 and 10), which would compute task 4.

* task 2 (``pgd_step``): ``torch.renorm`` projects every example onto the L2 ball in one call and
  ``F.normalize`` computes the L2 ascent direction; both are refused.
* task 3 (``corpus_bleu``): the grading guard only sees torch calls, so sacrebleu is stopped by the scan
  (any ``.corpus_bleu``, ``.corpus_score``, ``.sentence_bleu`` or ``.sentence_score`` attribute) and by
  the hidden inputs: ragged reference lists (sacrebleu wants the same number of reference streams for
  every segment) and tokens that contain spaces (joining tokens with spaces changes the n-grams).
  ``from sacrebleu import corpus_bleu`` (or ``BLEU``) is refused as well, since sacrebleu is one of the
  libraries the scan tracks (``scan.LIBRARIES``), so mapping tokens to space-free strings first does not help.
* task 4 (``perplexity``): every function that computes a log-softmax or a cross-entropy.
"""

BLOCKED = [
    "genai_foundations.algorithms.adversarial.project",
    "genai_foundations.algorithms.adversarial.ascent_direction",
    "genai_foundations.algorithms.adversarial.random_start",
    "genai_foundations.algorithms.adversarial.robust_accuracy",
    "genai_foundations.evaluation.text_metrics.ngrams",
    "genai_foundations.evaluation.text_metrics.closest_reference_length",
    "genai_foundations.evaluation.text_metrics.perplexity_from_nats",
    "genai_foundations.evaluation.text_metrics.rouge_n",
    "genai_foundations.architectures.activations.log_softmax",
    "genai_foundations.architectures.activations.softmax",
    "genai_foundations.architectures.losses.cross_entropy_from_logits",
    "genai_foundations.architectures.losses.cross_entropy_from_probs",
    "genai_foundations.architectures.losses.cross_entropy",
    "genai_foundations.algorithms.decoding.sequence_log_prob",
]

SACREBLEU = ("Tensor.corpus_bleu", "Tensor.corpus_score", "Tensor.sentence_bleu", "Tensor.sentence_score",
             "sacrebleu.corpus_bleu", "sacrebleu.sentence_bleu", "sacrebleu.BLEU", "sacrebleu.metrics.BLEU")
LOG_SOFTMAX = ("torch.nn.functional.cross_entropy", "torch.nn.functional.nll_loss", "torch.nn.functional.log_softmax",
               "torch.log_softmax", "torch.special.log_softmax", "Tensor.log_softmax", "torch.logsumexp",
               "Tensor.logsumexp", "torch.special.logsumexp", "torch.nn.functional.kl_div",
               "torch.distributions.Categorical", "torch.nn.CrossEntropyLoss", "torch.nn.NLLLoss")

FORBIDDEN = {
    "test_fgsm": [],
    "test_pgd_step": ["torch.renorm", "Tensor.renorm", "torch.nn.functional.normalize"],
    "test_corpus_bleu": list(SACREBLEU),
    "test_perplexity": list(LOG_SOFTMAX),
}
