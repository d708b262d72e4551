"""Exercise 15 (rnn): the library shortcuts each graded test cell forbids.

The hidden tests stay in ``solutions/rnn/rnn.ipynb`` (written with
``check_function``); they import the package's ``rnn_cell``, ``lstm_cell``,
``gru_cell``, ``unroll``, ``bits_per_token`` and ``sequence_loss``, so these
are absent from the student's sandbox. This module names, per test cell, the
library entry points that would do the task in one call. The runtime guard
matches the last component of each name (so ``torch._VF.lstm_cell``,
``torch.ops.aten.lstm_cell`` and ``torch._C._VariableFunctions.lstm_cell``
are all ``lstm_cell``) when the student's own code calls it, directly or
through a torch module such as ``torch.nn.LSTMCell`` (whose ``forward`` calls
``_VF.lstm_cell``); the scan of the submitted code catches the spellings,
including the module classes.

What stays allowed: ``torch.sigmoid``, ``torch.tanh``, ``torch.logsumexp``,
matrix products, ``chunk``, ``torch.stack``, indexing and ``F.embedding``.
The unroll task forbids only ``scan``: its hidden tests hand the student's
loop the package's cells and ``torch.nn.LSTMCell`` / ``GRUCell`` as cells, and
the guard counts the frames of those test lambdas as the student's own, so
the recurrent functions must stay allowed there.

Not stoppable from here (reported): the package's ``RecurrentLanguageModel``
built with ``backend="torch"`` runs ``torch.nn.LSTM`` / ``GRU`` / ``RNN`` from
package frames, which the guard exempts, and the scan does not see package
names; blocking it needs the sandbox stub to block classes imported by hidden
tests, not only functions.
"""

from __future__ import annotations

# PyTorch's recurrent modules and the kernels behind them (every cell and sequence variant, quantized and fused
# versions included), for the three cell tasks and the character model.
RECURRENT_LIBRARY = (
    "torch.rnn_tanh_cell", "torch.rnn_relu_cell", "torch.lstm_cell", "torch.gru_cell",
    "torch.rnn_tanh", "torch.rnn_relu", "torch.lstm", "torch.gru",
    "torch.quantized_rnn_tanh_cell", "torch.quantized_rnn_relu_cell", "torch.quantized_lstm_cell",
    "torch.quantized_gru_cell", "torch.quantized_lstm", "torch.quantized_gru",
    "torch.mkldnn_rnn_layer", "torch._thnn_fused_lstm_cell", "torch._thnn_fused_gru_cell",
    "torch.nn.RNNCell", "torch.nn.LSTMCell", "torch.nn.GRUCell", "torch.nn.RNN", "torch.nn.LSTM", "torch.nn.GRU",
)
# The library cross-entropy and (log-)softmax: task 5 asks for the log-probabilities written out.
LOSS_LIBRARY = (
    "torch.nn.functional.cross_entropy", "torch.nn.functional.nll_loss", "torch.nn.functional.log_softmax",
    "torch.log_softmax", "Tensor.log_softmax", "torch._log_softmax", "torch.special.log_softmax",
    "torch.nn.functional.softmax", "torch.softmax", "Tensor.softmax", "torch._softmax", "torch.special.softmax",
    "torch.nn.CrossEntropyLoss", "torch.nn.NLLLoss", "torch.nn.LogSoftmax", "torch.nn.Softmax",
)
# A library loop over time.
SCAN = ("torch._higher_order_ops.scan.scan", "torch._higher_order_ops.associative_scan.associative_scan")
# Switches that turn the runtime guard off: the guard cannot see itself go, so only the scan of the submitted code
# can catch them. "torch._C.X" catches imports and torch._C.X; "Tensor.X" makes the scan flag an attribute .X
# read from any object (``T = __import__("torch"); T._C.X`` too).
_SWITCHES = {"torch._C": ("DisableTorchFunction", "DisableTorchFunctionSubclass", "_pop_torch_function_stack",
                          "_set_torch_function_state", "_set_skip_next_torch_function", "_skip_one_hop_torch_function"),
             "torch.overrides": ("_pop_mode", "_pop_mode_temporarily")}
GUARD_SWITCHES = tuple(f"{module}.{name}" for module, names in _SWITCHES.items() for name in names) + tuple(
    f"Tensor.{name}" for names in _SWITCHES.values() for name in names)

FORBIDDEN = {
    "test_rnn_cell": list(RECURRENT_LIBRARY + GUARD_SWITCHES),
    "test_lstm_cell": list(RECURRENT_LIBRARY + GUARD_SWITCHES),
    "test_gru_cell": list(RECURRENT_LIBRARY + GUARD_SWITCHES),
    "test_unroll": list(SCAN + GUARD_SWITCHES),
    "test_char_model_bits": list(RECURRENT_LIBRARY + LOSS_LIBRARY + SCAN + GUARD_SWITCHES),
}

# The package's language model runs torch's fused recurrent layers from package code, which the runtime
# guard allows; it is of no use to an answer, so it is absent from the sandbox altogether.
BLOCKED = ["genai_foundations.architectures.recurrent.RecurrentLanguageModel"]
