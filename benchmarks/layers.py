"""The book's from-scratch layers next to ``torch.nn``: what the library's fused kernels buy (chapters 13, 15).

    python benchmarks/layers.py [--quick] [--seeds 0 1 2] [--threads 1] [--repeats 30] [--device cpu] [--out DIR]

Compared, at the sizes the chapters train:

* recurrent layers (chapter 15, the character models: inputs of 32 features, 128 hidden units,
  windows of 64 characters, batches of 32): the package's :class:`~genai_foundations.architectures.
  recurrent.Recurrent`, whose RNN, LSTM and GRU cells are unrolled step by step in Python, against
  ``torch.nn.RNN`` / ``LSTM`` / ``GRU`` holding the same weights (``Recurrent.from_torch``);
* convolutions (chapter 13): :func:`~genai_foundations.architectures.convolution.conv2d` (unfold and
  one matrix product) against ``torch.nn.functional.conv2d`` for the layers of the digits CNN, the
  PixelCNN and one layer of the CIFAR parameter table, and
  :func:`~genai_foundations.architectures.convolution.conv_transpose2d` (one strided addition per
  filter tap) against ``torch.nn.functional.conv_transpose2d`` for the up-sampling layers of the GAN
  chapter's digits generator and of a DCGAN.

For every layer and seed the inputs and weights are drawn from the seed; before anything is timed,
the outputs of both implementations and the gradients of a fixed random read-out of them (with
respect to the input and every weight) must agree to float32 round-off (relative difference
below 1e-4), or the script stops. A timed call is one forward and one backward pass. After a
warm-up, ours and PyTorch's run alternately (so a change of the machine's load hits both alike),
and the median over the repeats of each is kept, both in wall-clock time and in CPU time
(``time.process_time``, which other processes' load inflates much less). The table gives the
mean ± std over seeds of those medians and of the ratio ours / PyTorch; the JSON keeps every
seed's numbers, the configuration of every layer and the number of autograd operations each
implementation records for one call.

This is the teaching exception of issue 14: our layers are written to be read, and the gap is
the measurement the chapters point to, not something to close.
"""

from __future__ import annotations

import os
import statistics
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

from common import parser, pm, write_results
from genai_foundations.architectures import convolution as conv
from genai_foundations.architectures.recurrent import Recurrent
from genai_foundations.runtime import get_device, seed_everything

#: Largest accepted max |ours - torch| / max |torch| for outputs and gradients (float32 round-off).
AGREEMENT = 1e-4


@dataclass(frozen=True)
class RecurrentCase:
    """One recurrent layer: ``torch.nn.<MODE>(input_size, hidden_size, batch_first=True)`` on (batch, steps, input)."""

    label: str
    mode: str
    input_size: int = 32
    hidden_size: int = 128
    steps: int = 64
    batch: int = 32
    kind: str = field(default="recurrent", init=False)

    def size(self) -> str:
        return f"B={self.batch}, T={self.steps}, I={self.input_size}, H={self.hidden_size}"


@dataclass(frozen=True)
class ConvCase:
    """One convolution: input (batch, c_in, n, n), a k x k filter bank, stride, padding (and output padding)."""

    label: str
    c_in: int
    c_out: int
    n: int
    k: int
    batch: int
    stride: int = 1
    padding: int = 0
    output_padding: int = 0
    transposed: bool = False
    bias: bool = True
    kind: str = field(default="convolution", init=False)

    def size(self) -> str:
        extra = f", output padding {self.output_padding}" if self.output_padding else ""
        return (f"B={self.batch}, {self.c_in}->{self.c_out} ch, {self.n}x{self.n}, {self.k}x{self.k}, "
                f"stride {self.stride}, padding {self.padding}{extra}")


#: The layers compared, at the sizes the chapters use (see the module docstring).
CASES: tuple[RecurrentCase | ConvCase, ...] = (
    RecurrentCase("RNN layer (tanh), chapter 15", "rnn"),
    RecurrentCase("LSTM layer, chapter 15", "lstm"),
    RecurrentCase("GRU layer, chapter 15", "gru"),
    ConvCase("conv2d: digits CNN, layer 1", 1, 16, 8, 3, 64, padding=1, bias=False),
    ConvCase("conv2d: digits CNN, layer 2", 16, 32, 4, 3, 64, padding=1, bias=False),
    ConvCase("conv2d: PixelCNN, first 7x7 layer", 1, 64, 8, 7, 64, padding=3),
    ConvCase("conv2d: PixelCNN block, 3x3", 32, 32, 8, 3, 64, padding=1),
    ConvCase("conv2d: CIFAR table, layer 2", 32, 32, 32, 3, 32, stride=2, padding=1),
    ConvCase("conv_transpose2d: digits GAN generator, last layer", 64, 1, 4, 4, 64, stride=2, padding=1,
             transposed=True, bias=False),
    ConvCase("conv_transpose2d: DCGAN 16x16 -> 32x32", 128, 64, 16, 4, 16, stride=2, padding=1,
             transposed=True, bias=False),
)


def quick_case(case: RecurrentCase | ConvCase) -> RecurrentCase | ConvCase:
    """The same layer on less data (``--quick``): 8 time steps and a batch of at most 8."""
    if isinstance(case, RecurrentCase):
        return RecurrentCase(case.label, case.mode, case.input_size, case.hidden_size, steps=8, batch=8)
    fields = {k: v for k, v in asdict(case).items() if k != "kind"}
    return ConvCase(**{**fields, "batch": min(case.batch, 8)})


Step = Callable[[], list[torch.Tensor]]


def _recurrent_pair(case: RecurrentCase, gen: torch.Generator, device: torch.device) -> tuple[Step, Step, dict]:
    """Forward+backward closures for ours and torch's layer with the same weights; returns (ours, torch, info)."""
    torch_layer = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[case.mode](
        case.input_size, case.hidden_size, batch_first=True)
    with torch.no_grad():
        bound = case.hidden_size ** -0.5
        for p in torch_layer.parameters():
            p.copy_(torch.empty_like(p).uniform_(-bound, bound, generator=gen))
    torch_layer = torch_layer.to(device)
    ours_layer = Recurrent.from_torch(torch_layer)
    x = torch.randn(case.batch, case.steps, case.input_size, generator=gen).to(device).requires_grad_(True)
    readout = torch.randn(case.batch, case.steps, case.hidden_size, generator=gen).to(device)

    def step(layer: nn.Module) -> Step:
        def run() -> list[torch.Tensor]:
            x.grad = None
            layer.zero_grad(set_to_none=True)
            out, _ = layer(x)
            (out * readout).sum().backward()
            return [out.detach(), x.grad, *(p.grad for p in layer.parameters())]
        return run

    info = {"parameters": sum(p.numel() for p in torch_layer.parameters()),
            **_graph_info(ours_layer(x)[0], torch_layer(x)[0])}
    return step(ours_layer), step(torch_layer), info


def _conv_pair(case: ConvCase, gen: torch.Generator, device: torch.device) -> tuple[Step, Step, dict]:
    """Forward+backward closures for our conv and torch's functional conv on the same tensors."""
    shape = (case.c_in, case.c_out) if case.transposed else (case.c_out, case.c_in)
    fan_in = case.c_in * case.k * case.k

    def leaf(*size: int, scale: float = 1.0) -> torch.Tensor:
        return (scale * torch.randn(*size, generator=gen)).to(device).requires_grad_(True)

    weight = leaf(*shape, case.k, case.k, scale=fan_in ** -0.5)
    bias = leaf(case.c_out) if case.bias else None
    x = leaf(case.batch, case.c_in, case.n, case.n)
    if case.transposed:
        kwargs = dict(stride=case.stride, padding=case.padding, output_padding=case.output_padding)
        ours_fn, torch_fn = conv.conv_transpose2d, F.conv_transpose2d
    else:
        kwargs = dict(stride=case.stride, padding=case.padding)
        ours_fn, torch_fn = conv.conv2d, F.conv2d
    out_shape = torch_fn(x.detach(), weight.detach(), None, **kwargs).shape
    readout = torch.randn(out_shape, generator=gen).to(device)
    leaves = [x, weight] + ([bias] if bias is not None else [])

    def step(fn: Callable[..., torch.Tensor]) -> Step:
        def run() -> list[torch.Tensor]:
            for leaf in leaves:
                leaf.grad = None
            out = fn(x, weight, bias, **kwargs)
            (out * readout).sum().backward()
            return [out.detach(), *(leaf.grad for leaf in leaves)]
        return run

    info = {"parameters": weight.numel() + (bias.numel() if bias is not None else 0), "output_shape": list(out_shape),
            **_graph_info(ours_fn(x, weight, bias, **kwargs), torch_fn(x, weight, bias, **kwargs))}
    return step(ours_fn), step(torch_fn), info


def _graph_info(ours_out: torch.Tensor, torch_out: torch.Tensor) -> dict:
    """Size and most frequent operations of both autograd graphs (for the JSON)."""
    info = {}
    for name, out in (("ours", ours_out), ("torch", torch_out)):
        kinds = autograd_ops(out)
        info[f"autograd_ops_{name}"] = sum(kinds.values())
        info[f"autograd_op_kinds_{name}"] = dict(kinds.most_common(5))
    return info


def autograd_ops(output: torch.Tensor) -> Counter:
    """The operations autograd recorded to compute ``output``: how many graph nodes of each kind (leaves left out).

    Every node is one kernel call forward and at least one backward, and each call pays
    PyTorch's fixed per-operation cost: the total says how finely a layer is cut up, the
    kinds show whether a library call ran one fused kernel (e.g. ``MkldnnRnnLayerBackward0``)
    or a chain of small operations.
    """
    if output.grad_fn is None:
        raise ValueError("output has no autograd graph (does anything it depends on require grad?)")
    seen, stack = set(), [output.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        stack.extend(child for child, _ in node.next_functions)
    return Counter(type(node).__name__ for node in seen if type(node).__name__ != "AccumulateGrad")


def relative_gap(ours: list[torch.Tensor], theirs: list[torch.Tensor]) -> float:
    """Largest over the tensors of max |ours - theirs| / max |theirs| (outputs first, then gradients)."""
    if len(ours) != len(theirs):
        raise ValueError(f"{len(ours)} tensors against {len(theirs)}")
    gaps = []
    for a, b in zip(ours, theirs):
        if a is None or b is None or a.shape != b.shape:
            raise ValueError("a gradient is missing or the shapes differ between the implementations")
        gaps.append(((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item())
    return max(gaps)


def time_pair(ours: Step, theirs: Step, repeats: int, warmup: int, device: torch.device) -> dict[str, list[float]]:
    """Alternate the two steps ``repeats`` times after ``warmup`` calls each; seconds (wall and CPU) per call.

    On a GPU every call waits for its kernels to finish before the clock stops.
    """
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(warmup):
        ours()
        theirs()
    times: dict[str, list[float]] = {"ours_wall": [], "ours_cpu": [], "torch_wall": [], "torch_cpu": []}
    for i in range(repeats):
        order = (("ours", ours), ("torch", theirs)) if i % 2 == 0 else (("torch", theirs), ("ours", ours))
        for name, step in order:
            cpu, wall = time.process_time(), time.perf_counter()
            step()
            sync()
            times[f"{name}_wall"].append(time.perf_counter() - wall)
            times[f"{name}_cpu"].append(time.process_time() - cpu)
    return times


def measure(case: RecurrentCase | ConvCase, seed: int, repeats: int, warmup: int,
            device: torch.device = torch.device("cpu")) -> dict:
    """Check that ours and torch agree on ``case`` with the inputs of ``seed``, then time both."""
    gen = seed_everything(seed)
    ours, theirs, info = (_recurrent_pair if isinstance(case, RecurrentCase) else _conv_pair)(case, gen, device)
    gap = relative_gap(ours(), theirs())
    if not gap < AGREEMENT:
        raise SystemExit(f"{case.label} (seed {seed}): ours and torch differ by {gap:.2e} (relative), "
                         f"more than {AGREEMENT:g}: nothing is timed")
    times = time_pair(ours, theirs, repeats, warmup, device)
    medians = {key: statistics.median(values) for key, values in times.items()}
    return {"label": case.label, "seed": seed, "relative_gap": gap, **info,
            **{f"{key}_median_ms": 1e3 * value for key, value in medians.items()},
            "ratio_wall": medians["ours_wall"] / medians["torch_wall"],
            "ratio_cpu": medians["ours_cpu"] / max(medians["torch_cpu"], 1e-9)}


def table_from(result: dict) -> dict:
    """The printed table (mean ± std over seeds of the per-seed medians) from the JSON's ``runs`` and ``cases``."""
    rows = []
    for case in result["cases"]:
        runs = [r for r in result["runs"] if r["label"] == case["label"]]
        if not runs:
            continue
        rows.append([case["label"], case["size"], pm((r["ours_wall_median_ms"] for r in runs), 2),
                     pm((r["torch_wall_median_ms"] for r in runs), 2), pm((r["ratio_wall"] for r in runs), 1),
                     pm((r["ratio_cpu"] for r in runs), 1),
                     f"{runs[0]['autograd_ops_ours']} / {runs[0]['autograd_ops_torch']}",
                     f"{max(r['relative_gap'] for r in runs):.0e}"])
    seeds = sorted({r["seed"] for r in result["runs"]})
    load = ""
    if "load_average_before" in result:
        cores = result["machine"]["cores"]
        load = (f" Load average (1, 5, 15 min) before / after the run: {result['load_average_before']} / "
                f"{result['load_average_after']} on {cores} cores.")
        if max(result["load_average_before"][0], result["load_average_after"][0]) > cores:
            load += (" On a machine this loaded, wall-clock times include waits for a free core, which fall "
                     "unevenly on short and long calls: read the CPU-time ratios.")
    return {
        "title": f"From-scratch layers against torch.nn: forward + backward, median of {result['repeats']} calls, "
                 f"{result['threads']} thread(s), mean ± std over seeds {seeds}",
        "columns": ["layer", "size", "ours (ms)", "torch (ms)", "ours / torch (wall)", "ours / torch (CPU)",
                    "autograd ops ours / torch", "max rel. difference"],
        "rows": rows,
        "note": "Same weights and inputs; outputs and gradients agree to float32 round-off before timing. "
                "On the CPU, torch.nn.LSTM runs oneDNN's fused RNN kernel (one autograd operation for the whole "
                "sequence), while torch.nn.RNN and GRU run a C++ loop over the time steps of small operations "
                "much like ours (their graphs grow with the sequence too): the LSTM gap is what a fused kernel "
                "buys, the RNN and GRU gaps only what moving the loop out of Python buys. F.conv2d calls "
                "oneDNN's convolution and F.conv_transpose2d one library call, whereas our conv2d writes "
                "every receptive field out as a column (unfold) before its one matrix product, and our "
                "conv_transpose2d adds one strided slice per filter tap, each a separate operation forward and "
                "backward. Our layers are written to be read: the gap is the lesson, not a defect to fix." + load,
    }


def main() -> None:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=None, help="timed calls per implementation (default 30, quick 3)")
    p.add_argument("--warmup", type=int, default=None, help="untimed calls first (default 5, quick 1)")
    p.add_argument("--device", default="cpu",
                   help="cpu (default; writes layers.json) or e.g. cuda (writes layers_cuda.json)")
    args = p.parse_args()
    device = get_device(args.device)
    repeats = args.repeats or (3 if args.quick else 30)
    warmup = args.warmup if args.warmup is not None else (1 if args.quick else 5)
    if repeats < 1 or warmup < 0:
        raise SystemExit("--repeats must be at least 1 and --warmup at least 0")
    torch.set_num_threads(args.threads)
    cases = [quick_case(c) for c in CASES] if args.quick else list(CASES)
    started, load_before = time.perf_counter(), os.getloadavg()
    runs = []
    for case in cases:
        for seed in args.seeds:
            run = measure(case, seed, repeats, warmup, device)
            runs.append(run)
            print(f"{case.label:<52} seed {seed}: ours {run['ours_wall_median_ms']:8.2f} ms, torch "
                  f"{run['torch_wall_median_ms']:7.2f} ms, ratio {run['ratio_wall']:6.1f} "
                  f"(CPU {run['ratio_cpu']:6.1f}), rel. difference {run['relative_gap']:.1e}", flush=True)
    result = {"repeats": repeats, "warmup": warmup, "threads": args.threads, "runs": runs,
              "cases": [{**asdict(c), "size": c.size()} for c in cases], "machine": {"cores": os.cpu_count()},
              "load_average_before": [round(x, 2) for x in load_before],
              "load_average_after": [round(x, 2) for x in os.getloadavg()]}
    name = "layers" if device.type == "cpu" else f"layers_{device.type}"
    write_results(name, args, table=table_from(result), packages=[], device=str(device), repeats=repeats, warmup=warmup,
                  agreement_tolerance=AGREEMENT, cases=result["cases"], runs=runs,
                  load_average_before=result["load_average_before"], load_average_after=result["load_average_after"],
                  seconds=round(time.perf_counter() - started, 1))


if __name__ == "__main__":
    main()
