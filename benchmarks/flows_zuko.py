"""Normalizing flows (chapter 1) next to zuko: RealNVP and MAF of the same depth and width, trained alike.

    python benchmarks/flows_zuko.py [--quick] [--seeds 0 1 2] [--threads 1] [--out DIR]

What is compared. Our flows (``genai_foundations.algorithms.flows``: affine couplings with
alternating masks, and MADE-based affine autoregressive layers with alternating orders) and
``zuko.flows.RealNVP`` / ``zuko.flows.MAF`` with the same number of transforms, the same
conditioner networks (two hidden layers of the same width, ReLU), the same masks and orders
and a standard normal base. Each library keeps its own details: our scales are soft-clamped
with ``3 tanh(s / 3)`` and our last conditioner layers start at zero (every layer starts as the
identity); zuko bounds the log-scale by ``s / (1 + |s| / 6.9)`` and starts from PyTorch's
default initialisation.

On which data, how.

* moons and two spirals (``data.toy2d``): the chapter's recipe (section 1.9): 8 transforms,
  hidden width 64, 20,000 training points (drawn with seed ``10 + seed``), mini-batches of
  512, Adam at 3e-3 with cosine decay, 2000 steps. Test NLL in nats per point on 5000
  held-out points (seed 1000, the same for every run).
* the 8x8 digits (``data.digits``, 1437 training, 360 test images): dequantised as the
  chapter does (``flows.dequantize`` with 17 levels), then the chapter's fixed
  ``LogitTransform(0.05)`` (its log-det counted), then a flow on the 64 flattened values:
  8 transforms, hidden width 128, batches of 128, Adam with the chapter's one-cycle schedule
  and gradient clipping at 10, 1000 steps; the peak learning rate is 1e-3 (the chapter's
  4e-3 suits its small convolutional flow; these MLP flows, 7-9 times larger, overfit the
  1437 images at 4e-3, ours and zuko's alike: test 2.6-2.8 bits/dim in a pilot, against
  2.2 at 1e-3). Bits/dim as the chapter computes them (``flows.flow_nll_bits_per_dim``,
  an upper bound on the discrete NLL) on the test images, averaged over 5 dequantisation
  draws; the NLL in nats per image is the same number times ``64 ln 2``. zuko has no
  convolutional flows, so the chapter's own digits model (``flows.digits_flow``) has no
  counterpart here; the MLP flows are the matched comparison.

For every seed, dataset and family the two implementations train one after the other in
this process (the order alternates with the seed), on the same training set, the same
mini-batches and the same dequantisation noise, from ``torch.manual_seed(seed)``. Reported per
run: the test NLL, the training wall seconds and CPU seconds (``time.process_time``, which a
loaded machine inflates much less than the wall time). Parameter counts are reported as
stored: our couplings feed the whole masked vector to their MLP and mask the outputs,
so their MLPs store weights that read the changed coordinates (always zero there) and write
the kept ones (masked away); the parameters actually used match zuko's.

Full run: 411 CPU seconds on one thread of the 2-core CPU (budget 12 minutes; measured while
other jobs loaded the machine, it took 18 min 49 s of wall time at 36 % of a core); ``--quick``
(about 8 CPU seconds) runs every comparison with 30 steps and one seed and writes to
``_build/bench-quick/``. Prints one table and writes ``benchmarks/results/flows_zuko.json``.
"""

from __future__ import annotations

import contextlib
import io
import math
import time
from dataclasses import asdict, dataclass
from typing import Callable

import torch
from torch import nn

from common import mean_std, parser, pm, write_results  # noqa: E402  (puts src/ on the path)

from genai_foundations.algorithms import flows  # noqa: E402
from genai_foundations.algorithms.flows import (  # noqa: E402
    AffineCoupling, AutoregressiveAffineFlow, FlowSequence, StandardNormal)
from genai_foundations.data import load_digits, make_moons, make_spirals  # noqa: E402
from genai_foundations.runtime import eval_mode  # noqa: E402
from genai_foundations.training import batches, fit  # noqa: E402

IMPLEMENTATIONS = ("ours", "zuko")
FAMILIES = ("RealNVP", "MAF")
LEVELS, PIXELS = 17, 64            # the digits' grey levels and dimensions
TEST_SEED = 1000                   # the held-out 2-D points, the same for every run


@dataclass(frozen=True)
class Recipe:
    """One dataset's model size and training recipe (the same for both implementations)."""

    transforms: int
    hidden: int
    steps: int
    batch: int
    lr: float
    schedule: str                  # "cosine" (2-D, chapter section 1.9) or "one-cycle" (digits, section 1.10)
    grad_clip: float | None
    train_size: int                # 2-D only (the digits have their fixed split)
    test_size: int                 # 2-D only
    dequantisation_draws: int      # digits only: test bits/dim averaged over this many noise draws


FULL = {"2d": Recipe(8, 64, 2000, 512, 3e-3, "cosine", None, 20_000, 5000, 0),
        "digits": Recipe(8, 128, 1000, 128, 1e-3, "one-cycle", 10.0, 0, 0, 5)}
QUICK = {"2d": Recipe(8, 64, 30, 512, 3e-3, "cosine", None, 2000, 500, 0),
         "digits": Recipe(8, 128, 30, 128, 1e-3, "one-cycle", 10.0, 0, 0, 1)}
TOY = {"moons": make_moons, "spirals": make_spirals}


# ---------------------------------------------------------------------------------------------------------------
# The two implementations behind one interface: a module and its log-density
# ---------------------------------------------------------------------------------------------------------------
def _orders(dim: int, count: int) -> list[list[int]]:
    """Ascending, descending, ascending, ...: the orders of zuko's MAF (and of our ``maf_2d``)."""
    return [list(range(dim)) if i % 2 == 0 else list(range(dim - 1, -1, -1)) for i in range(count)]


def build_ours(family: str, dim: int, transforms: int, hidden: int) -> FlowSequence:
    """Our RealNVP or MAF on ``dim``-vectors; in 2-D exactly the chapter's ``realnvp_2d`` / ``maf_2d``."""
    if dim == 2:
        return (flows.realnvp_2d if family == "RealNVP" else flows.maf_2d)(transforms, hidden=hidden)
    if family == "RealNVP":   # parity masks: keep the even coordinates, then the odd ones (zuko's masks)
        layers = [AffineCoupling(mask, hidden=hidden) for mask in flows.alternating_masks(dim, transforms, "parity")]
    else:
        layers = [AutoregressiveAffineFlow(dim, hidden, 2, order=order) for order in _orders(dim, transforms)]
    return FlowSequence(layers, StandardNormal(dim))


def build_zuko(family: str, dim: int, transforms: int, hidden: int) -> nn.Module:
    """zuko's RealNVP or MAF with the same transforms and hidden layers (default masks and orders match ours)."""
    import zuko

    cls = zuko.flows.RealNVP if family == "RealNVP" else zuko.flows.MAF
    return cls(dim, transforms=transforms, hidden_features=(hidden, hidden))


def log_density(impl: str, model: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """``x -> log p(x)`` per example, shape (B,), for either implementation."""
    if impl == "ours":
        return model.log_prob
    return lambda x: model().log_prob(x)   # a zuko Flow builds its distribution on call


def used_parameters(model: nn.Module) -> int:
    """Parameters that can influence the output: the stored count, less our couplings' dead MLP weights.

    In an :class:`AffineCoupling` with the default MLP on (D,) vectors, the first layer's
    columns for the changed coordinates only ever see zeros, and the last layer's rows for
    the kept coordinates (of both s and t) are masked away; neither gets a gradient.
    """
    total = sum(p.numel() for p in model.parameters())
    for layer in model.modules():
        if isinstance(layer, AffineCoupling) and layer.mask.dim() == 1 and isinstance(layer.conditioner, nn.Sequential):
            linears = [m for m in layer.conditioner if isinstance(m, nn.Linear)]
            changed = int((layer.mask == 0).sum())
            kept = layer.mask.numel() - changed
            total -= linears[0].out_features * changed                  # columns reading the changed coordinates
            total -= 2 * kept * (linears[-1].in_features + 1)           # s and t rows (and biases) of kept ones
    return total


# ---------------------------------------------------------------------------------------------------------------
# Data, training and scoring
# ---------------------------------------------------------------------------------------------------------------
def _scheduler(optimizer: torch.optim.Optimizer, recipe: Recipe) -> torch.optim.lr_scheduler.LRScheduler:
    if recipe.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, recipe.steps)
    if recipe.schedule == "one-cycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=recipe.lr, total_steps=recipe.steps,
                                                   pct_start=0.1)
    raise ValueError(f"unknown schedule {recipe.schedule!r}; use 'cosine' or 'one-cycle'")


_LOGIT = flows.LogitTransform(0.05)   # the digits flow's first layer, fixed, in front of both implementations


def digits_log_prob(log_p: Callable[[torch.Tensor], torch.Tensor], y: torch.Tensor) -> torch.Tensor:
    """Log-density of dequantised digits ``y`` (B, 64) in [0, 1): the logit map's log-det plus the flow's."""
    v, logdet = _LOGIT(y)
    return log_p(v) + logdet


def digits_bits_per_dim(log_p: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor,
                        generator: torch.Generator) -> torch.Tensor:
    """Mean bits/dim of integer images (B, 64) under one dequantisation draw (the chapter's training loss)."""
    y = flows.dequantize(images, LEVELS, generator)
    return flows.flow_nll_bits_per_dim(digits_log_prob(log_p, y), PIXELS, bin_width=1 / LEVELS).mean()


def train_and_score(impl: str, family: str, dataset: str, seed: int, recipe: Recipe,
                    train: torch.Tensor, test: torch.Tensor) -> dict:
    """Train one flow on ``train`` and score it on ``test``; returns the run's record."""
    dim = train.shape[1]
    torch.manual_seed(seed)
    model = (build_ours if impl == "ours" else build_zuko)(family, dim, recipe.transforms, recipe.hidden)
    log_p = log_density(impl, model)
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    stream_gen = torch.Generator().manual_seed(seed)           # mini-batches (and dequantisation noise)
    stream = batches(train, batch_size=recipe.batch, generator=stream_gen)
    if dataset == "digits":
        def loss(step: int) -> torch.Tensor:
            return digits_bits_per_dim(log_p, next(stream)[0], stream_gen)
    else:
        def loss(step: int) -> torch.Tensor:
            return -log_p(next(stream)[0]).mean()

    wall, cpu = time.perf_counter(), time.process_time()
    history = fit(loss, optimizer, recipe.steps, desc=f"{impl} {family} {dataset} seed {seed}",
                  scheduler=_scheduler(optimizer, recipe), grad_clip=recipe.grad_clip)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu

    with eval_mode(model), torch.no_grad():
        if dataset == "digits":
            draws = [digits_bits_per_dim(log_p, test, torch.Generator().manual_seed(30 + k)).item()
                     for k in range(recipe.dequantisation_draws)]
            bits = sum(draws) / len(draws)
            nll = bits * PIXELS * math.log(2)
        else:
            nll, bits = -log_p(test).mean().item(), None
    recipe_fields = {f"recipe_{k}": v for k, v in asdict(recipe).items()}
    return {"dataset": dataset, "family": family, "impl": impl, "seed": seed, "dim": dim,
            "parameters": sum(p.numel() for p in model.parameters()), "used_parameters": used_parameters(model),
            "test_nll_nats": nll, "test_bits_per_dim": bits, "final_train_loss": history.final(50),
            "wall_seconds": round(wall, 3), "cpu_seconds": round(cpu, 3), **recipe_fields}


def load_data(dataset: str, seed: int, recipe: Recipe) -> tuple[torch.Tensor, torch.Tensor]:
    """Training and test tensors (N, D): a fresh 2-D training set per seed, fixed test sets; integer digits."""
    if dataset == "digits":
        train = load_digits("train", value_range="raw").images.flatten(1)
        test = load_digits("test", value_range="raw").images.flatten(1)
        return train, test
    if dataset not in TOY:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {sorted(TOY) + ['digits']}")
    return TOY[dataset](recipe.train_size, seed=10 + seed), TOY[dataset](recipe.test_size, seed=TEST_SEED)


# ---------------------------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------------------------
def table_from(runs: list[dict]) -> dict:
    """Mean ± std over seeds for every dataset, family and implementation; CPU time of ours relative to zuko's."""
    rows = []
    for dataset in dict.fromkeys(r["dataset"] for r in runs):
        for family in FAMILIES:
            cpu_of = {impl: [r["cpu_seconds"] for r in runs if (r["dataset"], r["family"], r["impl"]) ==
                             (dataset, family, impl)] for impl in IMPLEMENTATIONS}
            for impl in IMPLEMENTATIONS:
                sel = [r for r in runs if (r["dataset"], r["family"], r["impl"]) == (dataset, family, impl)]
                if not sel:
                    continue
                params = f"{sel[0]['parameters']:,}"
                if sel[0]["used_parameters"] != sel[0]["parameters"]:
                    params += f" ({sel[0]['used_parameters']:,} used)"
                bits = pm((r["test_bits_per_dim"] for r in sel), 3) if dataset == "digits" else "-"
                share = (f"{mean_std(cpu_of['ours'])[0] / mean_std(cpu_of['zuko'])[0]:.2f}"
                         if impl == "ours" and cpu_of["ours"] and cpu_of["zuko"] else "-")
                rows.append([dataset, family, impl, params, pm((r["test_nll_nats"] for r in sel), 3), bits,
                             pm((r["wall_seconds"] for r in sel), 1), pm((r["cpu_seconds"] for r in sel), 1), share])
    seeds = sorted({r["seed"] for r in runs})
    steps = {r["dataset"]: r["recipe_steps"] for r in runs}
    points = next((r["recipe_test_size"] for r in runs if r["dataset"] != "digits"), 0)
    note = (f"Mean ± std over seeds {seeds}; the same data, mini-batches, optimiser, schedule and steps "
            f"({', '.join(f'{k} {v}' for k, v in steps.items())}) for both implementations, trained one after the "
            f"other in one process on one thread. Test NLL: nats per point (2-D, {points} held-out points) or per "
            "image (digits, 360 test images, dequantised; bits/dim is the same number over 64 ln 2, an upper "
            "bound on the discrete NLL). Wall and CPU seconds of training only; 'CPU ours/zuko' is the ratio of "
            "the mean CPU seconds. Parameters as stored; our couplings store MLP weights that never receive a "
            "non-zero input or reach the output ('used' counts the rest).")
    return {"title": "Normalizing flows (chapter 1): ours against zuko (same depth, width, data, steps, seeds)",
            "columns": ["data", "flow", "implementation", "parameters", "test NLL (nats)", "test bits/dim",
                        "training wall s", "training CPU s", "CPU ours/zuko"],
            "rows": rows, "note": note}


def main() -> None:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--datasets", nargs="+", default=["moons", "spirals", "digits"],
                   help="subset of moons, spirals, digits")
    p.add_argument("--note", default="", help="recorded as is, e.g. the machine's load during the run")
    args = p.parse_args()
    if args.quick:
        args.seeds = args.seeds[:1]
    if unknown := set(args.datasets) - set(TOY) - {"digits"}:
        raise SystemExit(f"unknown datasets {sorted(unknown)}; choose from moons, spirals, digits")
    torch.set_num_threads(args.threads)
    recipes = QUICK if args.quick else FULL

    runs: list[dict] = []
    started = time.perf_counter()

    def write(complete: bool) -> None:
        total = time.perf_counter() - started
        quiet = contextlib.nullcontext() if complete else contextlib.redirect_stdout(io.StringIO())
        with quiet:  # the table is printed once, at the end; a partial result survives an interrupted run
            write_results("flows_zuko", args, table=table_from(runs), packages=["zuko"], complete=complete, runs=runs,
                          recipes={k: asdict(v) for k, v in recipes.items()}, datasets=args.datasets,
                          total_wall_seconds=round(total, 1), note=args.note,
                          test_set={"2d": f"{recipes['2d'].test_size} points drawn with seed {TEST_SEED}",
                                    "digits": "load_digits('test'), 360 images"})

    for seed in args.seeds:
        for dataset in args.datasets:
            recipe = recipes["digits" if dataset == "digits" else "2d"]
            train, test = load_data(dataset, seed, recipe)
            for family in FAMILIES:
                order = IMPLEMENTATIONS if seed % 2 == 0 else IMPLEMENTATIONS[::-1]   # neither always goes first
                for impl in order:
                    run = train_and_score(impl, family, dataset, seed, recipe, train, test)
                    runs.append(run)
                    bits = f" {run['test_bits_per_dim']:.3f} bits/dim" if run["test_bits_per_dim"] is not None else ""
                    print(f"  -> test NLL {run['test_nll_nats']:.3f} nats{bits}, wall {run['wall_seconds']:.1f} s, "
                          f"CPU {run['cpu_seconds']:.1f} s", flush=True)
                    write(complete=False)
    print(f"all runs: {time.perf_counter() - started:.0f} s wall\n")
    write(complete=True)


if __name__ == "__main__":
    main()
