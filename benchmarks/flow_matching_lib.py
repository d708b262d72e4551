"""Our flow matching (chapter 2) next to Meta's ``flow_matching`` library: same networks, data, seeds and steps.

    python benchmarks/flow_matching_lib.py [--quick] [--seeds 0 1 2] [--threads 1]

The library provides probability paths and ODE solvers, not networks, so both
sides train the *same* network class from the *same* initial weights on the
*same* mini-batches, times and noise draws; what differs is the code that turns
them into a training target and a sample:

* ours: :func:`genai_foundations.algorithms.flow_matching.cfm_loss` (the linear
  path, label dropout inside) for training and
  :func:`~genai_foundations.algorithms.flow_matching.sample` (Euler,
  :func:`~genai_foundations.algorithms.solvers.euler_ode`) for sampling;
* the library: ``flow_matching.path.CondOTProbPath().sample(x_0=noise,
  x_1=data, t)`` and the mean squared error against its ``dx_t`` (the recipe
  of the library's examples), and ``flow_matching.solver.ODESolver`` with
  ``method="euler"`` on the same uniform time grid (torchdiffeq underneath).
  Classifier-free guidance and label dropout, which the library leaves to the
  user, are written here in a few lines, with the same two network calls and
  the same random draws as ours.

Two tasks, each with the chapter's recipe (``book/algorithms/flow-matching.ipynb``):

* the checkerboard: :class:`~genai_foundations.architectures.mlp.TimeConditionedMLP`
  (hidden 128, depth 3), Adam with a one-cycle schedule (peak 3e-3), batch
  512, 3,000 steps on 20,000 points; 1,000 samples with 50 Euler steps, scored
  by the W2 ratio (:func:`~genai_foundations.evaluation.sample_distance.sample_quality_ratio`:
  W2 to 1,000 held-out points over the W2 of 1,000 other real points; 1 is
  as good as real data);
* the 8x8 digits: the chapter's class-conditional
  :class:`~genai_foundations.architectures.unet.UNet` (channels 16, 32),
  Adam one-cycle (peak 2e-3), batch 128, label dropout 0.2, 1,000 steps; 360
  samples (the test split's labels) with 20 Euler steps and guidance w = 2,
  scored by the Fréchet distance to the 360 test digits in the features of the
  course's digits classifier, next to the real-vs-real baseline (20 draws of
  360 training digits), and by the share the classifier reads as the
  requested digit.

Speed: training steps per second (wall clock and CPU seconds, the data
pipeline included and identical on both sides) and samples per second (the
median of ``--sample-repeats`` timed runs of the whole sampler). The two sides
run in this process on one PyTorch thread, interleaved: training alternates
blocks of ``--block-steps`` steps (50) between them, and the timed sampler runs
alternate too, the side that goes first switching every turn (A B B A ...),
so that the changing load of a shared machine falls on both alike.
Because the draws are shared, the two loss
curves should agree to float rounding: the largest difference is recorded,
and a difference above 1e-4 stops the run, since it would mean that the two
codes do not compute the same thing. Prints one table and writes
``benchmarks/results/flow_matching_lib.json`` (``--quick``: tiny settings,
written to ``_build/bench-quick/``).
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402  (benchmarks/common.py also puts src/ on the path)
import torch  # noqa: E402

from genai_foundations.algorithms import flow_matching as fm  # noqa: E402
from genai_foundations.architectures.classifiers import predict  # noqa: E402
from genai_foundations.architectures.mlp import TimeConditionedMLP  # noqa: E402
from genai_foundations.architectures.unet import UNet  # noqa: E402
from genai_foundations.checkpoints import load_checkpoint  # noqa: E402
from genai_foundations.data import load_digits, make_checkerboard  # noqa: E402
from genai_foundations.evaluation.frechet import extract_features, frechet_distance, real_vs_real_frechet  # noqa: E402
from genai_foundations.evaluation.sample_distance import sample_quality_ratio  # noqa: E402
from genai_foundations.training import batches  # noqa: E402

IMPLS = ("ours", "flow_matching")
LOSS_TOLERANCE = 1e-4


@dataclass(frozen=True)
class Task:
    """One comparison's settings (the chapter's recipe, or a scaled-down quick variant)."""

    name: str
    steps: int                 # optimiser steps
    batch_size: int
    lr: float                  # peak of the one-cycle schedule
    data_size: int             # training points (checkerboard only; digits use the whole train split)
    num_samples: int           # samples scored
    sample_steps: int          # Euler steps
    guidance: float = 1.0      # classifier-free guidance weight (digits)
    p_uncond: float = 0.0      # label dropout while training (digits)


FULL = {"checkerboard": Task("checkerboard", steps=3000, batch_size=512, lr=3e-3, data_size=20_000,
                             num_samples=1000, sample_steps=50),
        "digits": Task("digits", steps=1000, batch_size=128, lr=2e-3, data_size=1437, num_samples=360,
                       sample_steps=20, guidance=2.0, p_uncond=0.2)}
QUICK = {"checkerboard": replace(FULL["checkerboard"], steps=60, data_size=2000, num_samples=300),
         "digits": replace(FULL["digits"], steps=20, num_samples=120, sample_steps=10)}


# ---------------------------------------------------------------------------------------------------------------
# The library's side: its path for the targets, its ODE solver for sampling
# ---------------------------------------------------------------------------------------------------------------
def library_loss(path, model: torch.nn.Module, z: torch.Tensor, y: torch.Tensor | None, p_uncond: float,
                 null_label: int | None, generator: torch.Generator) -> torch.Tensor:
    """The CFM loss as the library's examples write it: ``path.sample`` gives ``x_t`` and the target ``dx_t``.

    Draws t, the noise and the label-dropout coins from ``generator`` in the
    order :func:`fm.cfm_loss` draws them, so both sides see the same numbers.
    """
    t = torch.rand(z.shape[0], generator=generator)
    noise = torch.randn(z.shape, generator=generator)
    sample = path.sample(x_0=noise, x_1=z, t=t)
    if y is not None and p_uncond > 0:
        drop = torch.rand(z.shape[0], generator=generator) < p_uncond
        y = torch.where(drop, torch.full_like(y, null_label), y)
    prediction = model(sample.x_t, sample.t) if y is None else model(sample.x_t, sample.t, y)
    return torch.mean((prediction - sample.dx_t) ** 2)


def library_velocity(model: torch.nn.Module, guidance: float):
    """Our network as the ``velocity_model`` of ``ODESolver``: the solver passes one time, the network wants (B,).

    With labels (``y`` among the solver's extras) and ``guidance`` other than 1
    it returns the guided field :math:`(1 - w) u(x, t, \\varnothing) + w u(x, t, y)`
    (two network calls, as ours).
    """
    from flow_matching.utils import ModelWrapper

    class Velocity(ModelWrapper):
        def forward(self, x: torch.Tensor, t: torch.Tensor, **extras) -> torch.Tensor:
            time = t.reshape(1).expand(x.shape[0])
            y = extras.get("y")
            if y is None:
                return self.model(x, time)
            if guidance == 1.0:
                return self.model(x, time, y)
            return (1 - guidance) * self.model(x, time, None) + guidance * self.model(x, time, y)

    return Velocity(model)


# ---------------------------------------------------------------------------------------------------------------
# One training run and one sampler, for either side
# ---------------------------------------------------------------------------------------------------------------
def make_network(task: Task, seed: int) -> torch.nn.Module:
    """The chapter's network for ``task``, initialised from ``seed`` (the same weights for both sides)."""
    torch.manual_seed(seed)
    if task.name == "checkerboard":
        return TimeConditionedMLP(dim=2, hidden=128, depth=3, time_dim=32)
    return UNet(in_channels=1, channels=(16, 32), emb_dim=64, num_classes=10)


class Training:
    """One side's training run, advanced a block of steps at a time so that the two sides can interleave."""

    def __init__(self, impl: str, task: Task, data: tuple[torch.Tensor, ...], seed: int):
        from flow_matching.path import CondOTProbPath

        self.impl, self.task, self.seed = impl, task, seed
        self.model = make_network(task, seed)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=task.lr)
        self.schedule = torch.optim.lr_scheduler.OneCycleLR(self.optimizer, max_lr=task.lr, total_steps=task.steps,
                                                            pct_start=0.1)
        self.generator = torch.Generator().manual_seed(seed)
        self.stream = batches(*data, batch_size=task.batch_size, generator=self.generator)
        self.path = CondOTProbPath()
        self.null_label = getattr(self.model, "null_label", None) if task.p_uncond > 0 else None
        self.losses: list[float] = []
        self.wall = self.cpu = 0.0

    def run(self, steps: int) -> None:
        """``steps`` optimiser steps (the loop of ``training.fit`` without its progress bar), timed."""
        task, model, generator = self.task, self.model, self.generator
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(steps):
            self.optimizer.zero_grad(set_to_none=True)
            z, *labels = next(self.stream)
            y = labels[0] if labels else None
            if self.impl == "ours":
                loss = fm.cfm_loss(model, z, y=y, p_uncond=task.p_uncond, generator=generator)
            else:
                loss = library_loss(self.path, model, z, y, task.p_uncond, self.null_label, generator)
            loss.backward()
            self.optimizer.step()
            self.schedule.step()
            self.losses.append(loss.item())
        self.wall += time.perf_counter() - wall
        self.cpu += time.process_time() - cpu
        if not all(map(math.isfinite, self.losses[-steps:])):
            raise FloatingPointError(f"{self.impl} on {task.name}, seed {self.seed}: the loss became non-finite")

    def summary(self) -> dict:
        """Training time and speed (wall and CPU) and the mean loss of the last 50 steps."""
        steps = len(self.losses)
        return {"train_wall_s": self.wall, "train_cpu_s": self.cpu, "steps_per_s": steps / self.wall,
                "steps_per_cpu_s": steps / self.cpu, "final_loss": statistics.fmean(self.losses[-50:])}


def sampler(impl: str, model: torch.nn.Module, task: Task, x0: torch.Tensor,
            y: torch.Tensor | None) -> Callable[[], torch.Tensor]:
    """A function that runs ``impl``'s Euler sampler from ``x0`` (with labels ``y`` and the task's guidance)."""
    if impl == "ours":
        return lambda: fm.sample(model, x0=x0, steps=task.sample_steps, method="euler", y=y, w=task.guidance)
    from flow_matching.solver import ODESolver

    solver = ODESolver(velocity_model=library_velocity(model, task.guidance))
    grid = torch.linspace(0.0, 1.0, task.sample_steps + 1)
    extras = {} if y is None else {"y": y}

    def run() -> torch.Tensor:
        model.eval()
        try:
            return solver.sample(x_init=x0, step_size=None, method="euler", time_grid=grid, **extras)
        finally:
            model.train()

    return run


def timed(run: Callable[[], torch.Tensor]) -> tuple[torch.Tensor, float, float]:
    """``run()``'s output, wall seconds and CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = run()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def count_calls(model: torch.nn.Module, run: Callable[[], torch.Tensor]) -> int:
    """How many times ``run`` calls the network (checks that both samplers take the same number of steps)."""
    calls = [0]
    handle = model.register_forward_pre_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    try:
        run()
    finally:
        handle.remove()
    return calls[0]


# ---------------------------------------------------------------------------------------------------------------
# The two tasks
# ---------------------------------------------------------------------------------------------------------------
class Checkerboard:
    """Data and score of the 2-D task (the chapter's seeds: data seed+1, held-out seed+2, real seed+3, noise seed+4)."""

    def __init__(self, task: Task, seed: int):
        self.task = task
        self.data = (make_checkerboard(task.data_size, seed=seed + 1),)
        self.held_out = make_checkerboard(task.num_samples, seed=seed + 2)
        self.real = make_checkerboard(task.num_samples, seed=seed + 3)
        self.x0 = torch.randn(task.num_samples, 2, generator=torch.Generator().manual_seed(seed + 4))
        self.y = None

    def score(self, samples: torch.Tensor) -> dict:
        quality = sample_quality_ratio(samples, self.held_out, self.real)
        return {"w2_ratio": quality.ratio, "w2": quality.model_distance, "w2_real": quality.real_distance}


class Digits:
    """Data and score of the digits task: Fréchet distance to the test split and the requested-digit rate."""

    classifier = None
    reference = None
    baseline: list[float] = []

    def __init__(self, task: Task, seed: int):
        self.task = task
        train_split, test_split = load_digits("train"), load_digits("test")
        self.data = (train_split.images, train_split.labels)
        if Digits.classifier is None:    # the reference features and the baseline do not depend on the seed
            Digits.classifier = load_checkpoint("digits-classifier", device="cpu")
            Digits.reference = extract_features(Digits.classifier, test_split.images)
            Digits.baseline = real_vs_real_frechet(Digits.classifier, train_split.images, Digits.reference,
                                                   n=task.num_samples, draws=20, seed=0)
        self.y = test_split.labels[:task.num_samples]
        self.x0 = torch.randn(task.num_samples, 1, 8, 8, generator=torch.Generator().manual_seed(seed + 5))

    def score(self, samples: torch.Tensor) -> dict:
        images = samples.clamp(-1, 1)
        fd = frechet_distance(extract_features(Digits.classifier, images), Digits.reference)
        requested = (predict(Digits.classifier, images) == self.y).float().mean().item()
        return {"frechet": fd, "as_requested": requested}


def alternate(first: str, block: int) -> tuple[str, str]:
    """The order of the two sides in ``block``: ``first`` leads in even blocks, the other in odd ones (ABBA)."""
    other = next(impl for impl in IMPLS if impl != first)
    return (first, other) if block % 2 == 0 else (other, first)


def compare(task: Task, seed: int, repeats: int, first: str, block_steps: int) -> list[dict]:
    """Train and sample with both implementations on one task and seed, interleaved block by block."""
    setting = (Checkerboard if task.name == "checkerboard" else Digits)(task, seed)
    trainings = {impl: Training(impl, task, setting.data, seed) for impl in IMPLS}
    for block, start in enumerate(range(0, task.steps, block_steps)):
        for impl in alternate(first, block):
            trainings[impl].run(min(block_steps, task.steps - start))
    samplers = {impl: sampler(impl, trainings[impl].model, task, setting.x0, setting.y) for impl in IMPLS}
    timings: dict[str, list[tuple[float, float]]] = {impl: [] for impl in IMPLS}
    samples = {}
    for repeat in range(repeats):
        for impl in alternate(first, repeat):
            samples[impl], wall, cpu = timed(samplers[impl])
            timings[impl].append((wall, cpu))
    two = None if setting.y is None else setting.y[:2]      # the step count, on two samples (cheap)
    runs = {}
    for impl in IMPLS:
        model = trainings[impl].model
        wall = statistics.median(w for w, _ in timings[impl])
        cpu = statistics.median(c for _, c in timings[impl])
        runs[impl] = {"impl": impl, "task": task.name, "seed": seed, "first": first, **trainings[impl].summary(),
                      "network_calls": count_calls(model, sampler(impl, model, task, setting.x0[:2], two)),
                      "sample_wall_s": wall, "sample_cpu_s": cpu, "samples_per_s": task.num_samples / wall,
                      "samples_per_cpu_s": task.num_samples / cpu, **setting.score(samples[impl])}
    ours, lib = runs["ours"], runs["flow_matching"]
    loss_gap = max(abs(a - b) for a, b in zip(trainings["ours"].losses, trainings["flow_matching"].losses))
    sample_gap = (samples["ours"] - samples["flow_matching"]).abs().max().item()
    if loss_gap > LOSS_TOLERANCE:
        raise RuntimeError(f"{task.name}, seed {seed}: the loss curves differ by {loss_gap:.2e}; the two "
                           "implementations do not compute the same training target")
    if ours["network_calls"] != lib["network_calls"]:
        raise RuntimeError(f"{task.name}: the samplers call the network {ours['network_calls']} and "
                           f"{lib['network_calls']} times; they must take the same steps")
    for r in (ours, lib):
        r.update(max_loss_difference=loss_gap, max_sample_difference=sample_gap)
    print(f"  {task.name:<12} seed {seed}: " + "; ".join(
        f"{r['impl']} {r['steps_per_s']:.1f} steps/s ({r['steps_per_cpu_s']:.1f}/CPU s), "
        f"{r['samples_per_s']:.0f} samples/s ({r['samples_per_cpu_s']:.0f}/CPU s), "
        + (f"W2 ratio {r['w2_ratio']:.3f}" if task.name == "checkerboard" else f"FD {r['frechet']:.2f}")
        for r in (ours, lib)) + f" (loss gap {loss_gap:.1e}, sample gap {sample_gap:.1e})", flush=True)
    return [ours, lib]


def table(runs: list[dict], tasks: dict[str, Task]) -> dict:
    """The printed table: one row per task and implementation, mean ± std over the seeds."""
    rows = []
    for name, task in tasks.items():
        for impl in IMPLS:
            sel = [r for r in runs if r["task"] == name and r["impl"] == impl]
            if name == "checkerboard":
                quality = f"W2 ratio {common.pm([r['w2_ratio'] for r in sel], 3)}"
                reference = "1 (real data)"
            else:
                quality = f"FD {common.pm([r['frechet'] for r in sel], 2)}"
                reference = f"FD {common.pm(Digits.baseline, 2)}"
            rows.append([f"{name} ({task.steps} steps, {task.sample_steps} Euler steps)", impl, quality, reference,
                         common.pm([r["steps_per_s"] for r in sel], 1),
                         common.pm([r["steps_per_cpu_s"] for r in sel], 1),
                         common.pm([r["samples_per_s"] for r in sel], 0)])
    return {"title": "Flow matching (chapter 2): ours vs Meta's flow_matching, same network, data, seeds and steps",
            "columns": ["task", "implementation", "quality", "real data", "train steps/s", "train steps/CPU s",
                        "samples/s"],
            "rows": rows,
            "note": "mean ± std over the seeds; both sides train the same network from the same weights on the same "
                    "draws, so their quality agrees to float rounding and the comparison is the speed of the "
                    "path/loss and solver code. W2 ratio: W2 to held-out data over W2 of real data (1 = as good "
                    "as real data); FD: Fréchet distance in the digits classifier's features (lower is better), "
                    "guidance w = 2. One PyTorch thread on a shared CPU."}


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--sample-repeats", type=int, default=None, help="timed sampler runs (median; default 5, quick 1)")
    p.add_argument("--block-steps", type=int, default=50, help="training steps per turn when the sides alternate")
    p.add_argument("--tasks", nargs="+", choices=sorted(FULL), default=sorted(FULL), help="a subset of the tasks")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    tasks = {name: (QUICK if args.quick else FULL)[name] for name in args.tasks}
    repeats = args.sample_repeats or (1 if args.quick else 5)
    if repeats < 1 or args.block_steps < 1:
        raise SystemExit("--sample-repeats and --block-steps must be at least 1")
    started_wall, started_cpu = time.perf_counter(), time.process_time()
    load_before = os.getloadavg()
    runs = []
    for i, seed in enumerate(args.seeds):
        for task in tasks.values():
            runs += compare(task, seed, repeats, first=IMPLS[i % 2], block_steps=args.block_steps)
    elapsed = time.perf_counter() - started_wall
    speedups = {name: {key: statistics.fmean(
        [o[key] / lib[key] for o, lib in zip([r for r in runs if r["task"] == name and r["impl"] == "ours"],
                                             [r for r in runs if r["task"] == name and r["impl"] == "flow_matching"])])
        for key in ("steps_per_s", "steps_per_cpu_s", "samples_per_s", "samples_per_cpu_s")} for name in tasks}
    common.write_results("flow_matching_lib", args, table=table(runs, tasks), packages=["flow_matching", "torchdiffeq"],
                         tasks={name: asdict(task) for name, task in tasks.items()}, sample_repeats=repeats,
                         block_steps=args.block_steps,
                         runs=runs, ours_over_library=speedups,
                         digits_real_vs_real_frechet=Digits.baseline if "digits" in tasks else None,
                         wall_seconds=elapsed, cpu_seconds=time.process_time() - started_cpu,
                         load_average={"start": load_before, "end": os.getloadavg(), "cores": os.cpu_count()})
    print("ours / library (mean ratio over seeds): " + "; ".join(
        f"{name}: " + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()) for name, ratios in speedups.items()))
    print(f"whole run: {elapsed:.0f} s wall, {time.process_time() - started_cpu:.0f} s CPU")


if __name__ == "__main__":
    main()
