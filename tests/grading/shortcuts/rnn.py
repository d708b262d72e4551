"""Shortcut answers for exercise 15 (rnn): each would pass a naive grader (values and gradients).

Left out because the grading cannot stop them today (see ``genai_grading.assignments.rnn``):
* tasks 1, 2, 3 and 5 through the package's ``RecurrentLanguageModel(..., backend="torch")`` called with
  ``torch.func.functional_call`` (its ``forward`` runs ``torch.nn.RNN`` / ``LSTM`` / ``GRU`` from package frames,
  which the guard exempts; scored 11 of 13). The hidden tests already import the class; it becomes absent from
  the sandbox once the grader's ``hidden_test_references`` also collects classes (tried: then 0 of 13);
* the guard switched off with a name the scan cannot follow, e.g.
  ``getattr(vars(__import__("torch"))["_C"], "Disable" + "TorchFunction")`` around ``vars(torch)["lstm_" + "cell"]``.
"""

SHORTCUTS = {
    # the library cell, reached through the torch._VF alias
    "rnn_cell": (
        "def rnn_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh):\n"
        "    return torch._VF.rnn_tanh_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh)"),
    # the library cell, looked up by a computed name through the dispatcher
    "lstm_cell": (
        "def lstm_cell(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):\n"
        "    h_new, c_new = getattr(torch.ops.aten, 'lstm' + '_cell')(x, [h, c], weight_ih, weight_hh, bias_ih, bias_hh)\n"
        "    return h_new, c_new"),
    # torch.nn.GRUCell holding the given weights (functional_call keeps the gradients with respect to them)
    "gru_cell": (
        "from torch.func import functional_call\n"
        "def gru_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh):\n"
        "    cell = torch.nn.GRUCell(x.shape[-1], h.shape[-1]).to(x.dtype)\n"
        "    weights = {'weight_ih': weight_ih, 'weight_hh': weight_hh, 'bias_ih': bias_ih, 'bias_hh': bias_hh}\n"
        "    return functional_call(cell, weights, (x, h))"),
    # the package's reference, unwrapped (it is absent from the sandbox)
    "unroll": (
        "import inspect\n"
        "from genai_foundations.architectures import recurrent as _rec\n"
        "def unroll(cell, xs, state):\n"
        "    return inspect.unwrap(_rec.unroll)(cell, xs, state)"),
    # the whole model with torch.lstm and the library cross-entropy
    "char_model_bits": (
        "import torch.nn.functional as F\n"
        "def char_model_bits(ids, model):\n"
        "    w = [model[k] for k in ('weight_ih', 'weight_hh', 'bias_ih', 'bias_hh')]\n"
        "    zeros = model['embedding'].new_zeros(1, ids.shape[0], model['weight_hh'].shape[1])\n"
        "    hs, _, _ = torch.lstm(F.embedding(ids[:, :-1], model['embedding']), (zeros, zeros), w, True, 1, 0.0,\n"
        "                          False, False, True)\n"
        "    logits = F.linear(hs, model['head_weight'], model['head_bias'])\n"
        "    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1)) / math.log(2)"),
}
EXPECTED_ZERO = ["test_rnn_cell", "test_lstm_cell", "test_gru_cell", "test_unroll", "test_char_model_bits"]
