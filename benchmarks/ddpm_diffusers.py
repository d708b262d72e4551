"""Chapter 4's DDPM next to diffusers: same data, model size, recipe, seeds and machine, in one process.

    python benchmarks/ddpm_diffusers.py [--quick] [--seeds 0 1 2] [--threads 1] [--out FOLDER]

Ours is the chapter's U-Net (``architectures/unet.py``) trained with the
package's loss and sampled with its DDIM sampler (``algorithms/ddpm.py``).
The library is diffusers' ``UNet2DModel`` with ``DDPMScheduler.add_noise`` for
the training targets and ``DDIMScheduler`` for sampling. Both U-Nets are
unconditional, have the same first width (32 channels, so the same 32-wide
sinusoidal time features and 128-wide time embedding), GroupNorm with 8
groups, no attention, and the same number of resolution levels; diffusers'
up path has one more residual block per level than ours (it consumes every
down-path activation as a skip), so its deeper levels get 56 channels instead
of 64 to bring the parameter counts within 10% of each other (both are
recorded).

Two data sets, each with the recipe of the chapter that trains on it:

* 8x8 digits (chapter 4): cosine schedule, Adam at 2e-3 with a one-cycle
  learning rate, batch 128, no weight averaging;
* the 28x28 MNIST subset (chapter 6's pixel-space model): linear schedule,
  Adam at 4e-3 with a 50-step warm-up, gradient clipping at 1, batch 64, an
  exponential moving average of the weights (decay 0.995) used for sampling.

For every data set and seed the two models start from ``torch.manual_seed(seed)``,
see the same batches (one index stream) and, because both losses draw the
step and then the noise from a generator seeded alike, the same noised
inputs. They are trained one after the other in this process (ours first,
then the library's, for each seed), so that the machine's load affects both
alike. Both are then sampled from the same starting noise with 50 DDIM steps
(``eta = 0``, predictions of x_0 clipped to [-1, 1], in batches of a fixed
size), and scored by the Fréchet distance, in the course's classifier
features, of N samples to the held-out images (the digits' 360 test images;
MNIST's 1,000 test images), next to the real-vs-real distance of N training
images (mean of 20 draws), the floor a perfect generator would reach.

Before training, the script checks that the two pipelines agree where they
should: the noise schedules, the noised inputs of the training loss, and
(after training) the samplers, by running the library's network through our
sampler and through diffusers' DDIM loop from the same noise. So the measured
differences come from the networks and their initialisation, not from the
diffusion code.

On MNIST the script also trains an ablation, ``ours, (EMB) 1-1000``: the same
U-Net with the time-feature frequencies of the U-Net chapter's equation (EMB),
1 to 1000 turns over the noise range, instead of its default
``UNET_TIME_FREQUENCIES`` (0.03 to 160, about diffusers' range). The first run
of this benchmark found ours 2.8 times worse than diffusers on MNIST with those
frequencies; the ablation keeps that finding measured in every run.

Reported per run: the Fréchet distance, training steps per second (wall) and
CPU seconds (``time.process_time``, which a loaded machine inflates much
less than the wall time), and images per second when sampling. One table is
printed and written to ``benchmarks/results/ddpm_diffusers.json`` (``--quick``:
a few steps each, to ``_build/bench-quick/``).
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import mean_std, parser, pm, write_results  # noqa: E402  (also puts src/ on the path)

from genai_foundations.algorithms import ddpm  # noqa: E402
from genai_foundations.algorithms.ddpm import NoiseSchedule  # noqa: E402
from genai_foundations.architectures.unet import UNet  # noqa: E402
from genai_foundations.checkpoints import load_checkpoint  # noqa: E402
from genai_foundations.data import load_digits  # noqa: E402
from genai_foundations.data.mnist import load_mnist_split  # noqa: E402
from genai_foundations.evaluation.frechet import extract_features, frechet_distance, real_vs_real_frechet  # noqa: E402
from genai_foundations.training import batches  # noqa: E402

T = 1000
SAMPLE_STEPS = 50


@dataclass(frozen=True)
class Setting:
    """One data set with the recipe of the chapter that trains a DDPM on it."""

    name: str
    schedule: str                  # "cosine" or "linear" (diffusers: "squaredcos_cap_v2" / "linear")
    ours_channels: tuple[int, ...]
    library_channels: tuple[int, ...]
    lr: float
    batch: int
    steps: int
    lr_shape: str                  # "one-cycle" (chapter 4) or "warm-up" (linear warm-up, then constant; chapter 6)
    warmup: int
    ema_decay: float | None
    grad_clip: float | None
    n_eval: int                    # samples scored by the Fréchet distance
    sample_batch: int              # images per sampler call, the same for both
    sample_steps: int = SAMPLE_STEPS
    baseline_draws: int = 20
    emb_ablation: bool = False     # also train ours with (EMB)'s own frequencies, 1 to 1000 (ABLATION)


FULL = {
    "digits": Setting("digits", "cosine", (32, 64, 64), (32, 56, 56), lr=2e-3, batch=128, steps=400,
                      lr_shape="one-cycle", warmup=0, ema_decay=None, grad_clip=None, n_eval=360, sample_batch=120),
    "mnist": Setting("mnist", "linear", (32, 64), (32, 56), lr=4e-3, batch=64, steps=150, lr_shape="warm-up",
                     warmup=50, ema_decay=0.995, grad_clip=1.0, n_eval=200, sample_batch=100, emb_ablation=True),
}
QUICK = {
    "digits": Setting("digits", "cosine", (32, 64, 64), (32, 56, 56), lr=2e-3, batch=32, steps=4,
                      lr_shape="one-cycle", warmup=0, ema_decay=None, grad_clip=None, n_eval=40, sample_batch=20,
                      sample_steps=5, baseline_draws=2),
    "mnist": Setting("mnist", "linear", (32, 64), (32, 56), lr=4e-3, batch=8, steps=3, lr_shape="warm-up",
                     warmup=2, ema_decay=0.995, grad_clip=1.0, n_eval=20, sample_batch=10, sample_steps=5,
                     baseline_draws=2, emb_ablation=True),
}


# ---------------------------------------------------------------------------------------------------------------
# The two pipelines
# ---------------------------------------------------------------------------------------------------------------
def our_schedule(setting: Setting) -> NoiseSchedule:
    return NoiseSchedule.cosine(T) if setting.schedule == "cosine" else NoiseSchedule.linear(T)


def diffusers_schedule_name(setting: Setting) -> str:
    return {"cosine": "squaredcos_cap_v2", "linear": "linear"}[setting.schedule]


#: (EMB)'s own frequency range, which the U-Net used before this benchmark (the ablation's time features).
EMB_FREQUENCIES = (1.0, 1000.0)
#: The name of the ablation in the runs and the table.
ABLATION = "ours, (EMB) 1-1000"


def our_unet(setting: Setting, time_frequencies: tuple[float, float] | None = None) -> UNet:
    """The chapter's U-Net; ``time_frequencies=None`` keeps its default (``UNET_TIME_FREQUENCIES``)."""
    extra = {} if time_frequencies is None else {"time_frequencies": time_frequencies}
    return UNet(in_channels=1, channels=setting.ours_channels, emb_dim=4 * setting.ours_channels[0], **extra)


def library_unet(setting: Setting, size: int):
    from diffusers import UNet2DModel

    levels = len(setting.library_channels)
    return UNet2DModel(sample_size=size, in_channels=1, out_channels=1, block_out_channels=setting.library_channels,
                       layers_per_block=1, down_block_types=("DownBlock2D",) * levels,
                       up_block_types=("UpBlock2D",) * levels, norm_num_groups=8, add_attention=False)


class LibraryAsOurs(nn.Module):
    """diffusers' ``UNet2DModel`` called the way our sampler calls a denoiser: ``model(x_t, t / T, y)``.

    Our step t = 1..T is diffusers' timestep t - 1 = 0..T-1 (its ``alphas_cumprod[t - 1]`` is our
    :math:`\\bar\\alpha_t`), so the fraction t / T becomes the integer timestep round(t / T * T) - 1.
    """

    def __init__(self, unet: nn.Module):
        super().__init__()
        self.unet = unet

    def forward(self, x: torch.Tensor, time: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if y is not None:
            raise ValueError("the benchmark's models are unconditional")
        timestep = torch.round(torch.as_tensor(time, dtype=torch.float64) * T).long() - 1
        return self.unet(x, timestep).sample


def library_loss(unet: nn.Module, scheduler, x0: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The training loss as diffusers' examples write it: add_noise at a uniform timestep, MSE on the noise."""
    timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (x0.shape[0],), generator=generator)
    noise = torch.randn(x0.shape, generator=generator)
    noisy = scheduler.add_noise(x0, noise, timesteps)
    return F.mse_loss(unet(noisy, timesteps).sample, noise)


@torch.no_grad()
def library_sample(unet: nn.Module, scheduler, x_T: torch.Tensor, steps: int) -> torch.Tensor:
    """diffusers' DDIM loop (eta = 0, x_0 clipped, epsilon recomputed from the clipped x_0, as our sampler does)."""
    scheduler.set_timesteps(steps)
    x = x_T
    unet.eval()
    for t in scheduler.timesteps:
        eps = unet(x, t).sample
        x = scheduler.step(eps, t, x, eta=0.0, use_clipped_model_output=True).prev_sample
    return x


def library_ddim(setting: Setting):
    from diffusers import DDIMScheduler

    # "trailing" spacing starts at the last timestep (pure noise), as our sampling_timesteps does;
    # set_alpha_to_one makes the last update land on x_0.
    return DDIMScheduler(num_train_timesteps=T, beta_schedule=diffusers_schedule_name(setting), clip_sample=True,
                         set_alpha_to_one=True, timestep_spacing="trailing")


def library_ddpm(setting: Setting):
    from diffusers import DDPMScheduler

    return DDPMScheduler(num_train_timesteps=T, beta_schedule=diffusers_schedule_name(setting))


# ---------------------------------------------------------------------------------------------------------------
# Training and sampling, the same loop for both
# ---------------------------------------------------------------------------------------------------------------
def train(model: nn.Module, loss_fn: Callable[[torch.Tensor, torch.Generator], torch.Tensor], images: torch.Tensor,
          setting: Setting, seed: int) -> dict:
    """Adam with the setting's learning-rate shape, clipping and weight averaging; returns timings and losses.

    Batches come from :func:`genai_foundations.training.batches` seeded with ``seed``; the loss draws its
    step and noise from a second generator seeded with ``seed + 1``. With ``ema_decay`` the averaged
    weights (warm-up corrected, as chapter 6's ``train_denoiser``) are loaded into the model at the end.
    """
    stream = batches(images, batch_size=setting.batch, generator=torch.Generator().manual_seed(seed))
    noise_gen = torch.Generator().manual_seed(seed + 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=setting.lr)
    if setting.lr_shape == "one-cycle":
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=setting.lr, total_steps=setting.steps,
                                                        pct_start=0.1)
    elif setting.lr_shape == "warm-up":
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: min(1.0, (k + 1) / max(1, setting.warmup)))
    else:
        raise ValueError(f"unknown lr_shape {setting.lr_shape!r}")
    params = list(model.parameters())
    averaged = [p.detach().clone() for p in params] if setting.ema_decay is not None else None
    losses = []
    model.train()
    wall, cpu = time.perf_counter(), time.process_time()
    for step in range(setting.steps):
        loss = loss_fn(next(stream)[0], noise_gen)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if setting.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(params, setting.grad_clip)
        optimizer.step()
        scheduler.step()
        if averaged is not None:
            decay = min(setting.ema_decay, (1 + step) / (10 + step))
            with torch.no_grad():
                torch._foreach_lerp_(averaged, [p.detach() for p in params], 1 - decay)
        losses.append(float(loss.detach()))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if not all(math.isfinite(v) for v in losses):
        raise FloatingPointError("a training loss was not finite")
    if averaged is not None:
        with torch.no_grad():
            for p, a in zip(params, averaged):
                p.copy_(a)
    model.eval()
    tail = losses[-min(50, len(losses)):]
    return {"train_wall_s": wall, "train_cpu_s": cpu, "steps_per_s": setting.steps / wall,
            "steps_per_cpu_s": setting.steps / cpu, "first_loss": losses[0], "final_loss": sum(tail) / len(tail)}


def sample_all(sampler: Callable[[torch.Tensor], torch.Tensor], x_T: torch.Tensor, batch: int) -> tuple[torch.Tensor, dict]:
    """Run ``sampler`` on ``x_T`` in chunks of ``batch``; returns the images and the sampling speed."""
    wall, cpu = time.perf_counter(), time.process_time()
    with torch.no_grad():
        images = torch.cat([sampler(x_T[i : i + batch]) for i in range(0, len(x_T), batch)])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return images, {"sample_wall_s": wall, "sample_cpu_s": cpu, "images_per_s": len(x_T) / wall,
                    "images_per_cpu_s": len(x_T) / cpu}


# ---------------------------------------------------------------------------------------------------------------
# Data and the measuring instrument
# ---------------------------------------------------------------------------------------------------------------
def load_setting_data(setting: Setting) -> dict:
    """Training images, the classifier and the reference features and real-vs-real baseline at N."""
    if setting.name == "digits":
        train_images, test_images = load_digits("train").images, load_digits("test").images
        classifier = load_checkpoint("digits-classifier")
    elif setting.name == "mnist":
        train_images, test_images = load_mnist_split("train")[0], load_mnist_split("test")[0]
        classifier = load_checkpoint("mnist-classifier")
    else:
        raise ValueError(f"unknown data set {setting.name!r}")
    if setting.n_eval > len(train_images):
        raise ValueError(f"n_eval {setting.n_eval} exceeds the {len(train_images)} training images")
    reference = extract_features(classifier, test_images)
    baseline = real_vs_real_frechet(classifier, train_images, reference, setting.n_eval, draws=setting.baseline_draws)
    return {"train": train_images, "classifier": classifier, "reference": reference, "baseline": baseline,
            "size": train_images.shape[-1], "n_test": len(test_images)}


def agreement_checks(setting: Setting, data: dict) -> dict:
    """Largest differences between the two pipelines' schedules and noised training inputs (should be ~1e-7)."""
    ours, lib = our_schedule(setting), library_ddpm(setting)
    schedule_gap = (ours.alphas_cumprod - lib.alphas_cumprod.double()).abs().max().item()
    x0 = data["train"][:16]
    gen_ours, gen_lib = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    t_ours = torch.randint(1, T + 1, (16,), generator=gen_ours)
    noise_ours = torch.randn(x0.shape, generator=gen_ours)
    t_lib = torch.randint(0, T, (16,), generator=gen_lib)
    noise_lib = torch.randn(x0.shape, generator=gen_lib)
    same_draws = bool(torch.equal(t_ours, t_lib + 1) and torch.equal(noise_ours, noise_lib))
    noised_gap = (ddpm.q_sample(x0, t_ours, noise_ours, ours) - lib.add_noise(x0, noise_lib, t_lib)).abs().max().item()
    if schedule_gap > 1e-6 or noised_gap > 1e-5 or not same_draws:
        raise AssertionError(f"{setting.name}: pipelines disagree (schedule {schedule_gap:.1e}, noised inputs "
                             f"{noised_gap:.1e}, same random draws {same_draws})")
    return {"schedule_max_abs_diff": schedule_gap, "noised_input_max_abs_diff": noised_gap,
            "same_timesteps_and_noise": same_draws}


def sampler_agreement(setting: Setting, lib_model: nn.Module, size: int) -> float:
    """Our DDIM sampler and diffusers' DDIM loop on the same network and noise: largest difference of the images."""
    x_T = torch.randn(8, 1, size, size, generator=torch.Generator().manual_seed(123))
    ours = ddpm.sample(LibraryAsOurs(lib_model), our_schedule(setting), tuple(x_T.shape), steps=setting.sample_steps,
                       eta=0.0, x_T=x_T, clip_x0=True)
    theirs = library_sample(lib_model, library_ddim(setting), x_T, setting.sample_steps)
    gap = (ours - theirs).abs().max().item()
    if gap > 1e-3:
        raise AssertionError(f"{setting.name}: our sampler and diffusers' DDIM differ by {gap:.2e} on one network")
    return gap


# ---------------------------------------------------------------------------------------------------------------
# One seed of one data set: ours, then the library's
# ---------------------------------------------------------------------------------------------------------------
def run_pair(setting: Setting, data: dict, seed: int) -> tuple[list[dict], float]:
    size = data["size"]
    schedule = our_schedule(setting)
    x_T = torch.randn(setting.n_eval, 1, size, size, generator=torch.Generator().manual_seed(10_000 + seed))
    rows = []

    def score(images: torch.Tensor) -> float:
        return frechet_distance(extract_features(data["classifier"], images), data["reference"])

    def run_ours(impl: str, time_frequencies: tuple[float, float] | None) -> None:
        """Train, sample and score the chapter's U-Net (with the given time features) as ``impl``."""
        torch.manual_seed(seed)
        model = our_unet(setting, time_frequencies)
        stats = train(model, lambda x0, g: ddpm.ddpm_loss(model, x0, schedule, generator=g), data["train"],
                      setting, seed)
        images, speed = sample_all(lambda x: ddpm.sample(model, schedule, tuple(x.shape), steps=setting.sample_steps,
                                                         eta=0.0, x_T=x, clip_x0=True), x_T, setting.sample_batch)
        rows.append({"dataset": setting.name, "impl": impl, "seed": seed, "fd": score(images), **stats, **speed,
                     "parameters": sum(p.numel() for p in model.parameters())})

    run_ours("ours", None)
    if setting.emb_ablation:
        run_ours(ABLATION, EMB_FREQUENCIES)  # (EMB)'s frequencies 1 to 1000: what the lower default range buys

    torch.manual_seed(seed)
    lib = library_unet(setting, size)
    ddpm_scheduler, ddim_scheduler = library_ddpm(setting), library_ddim(setting)
    stats = train(lib, lambda x0, g: library_loss(lib, ddpm_scheduler, x0, g), data["train"], setting, seed)
    images, speed = sample_all(lambda x: library_sample(lib, ddim_scheduler, x, setting.sample_steps), x_T,
                               setting.sample_batch)
    rows.append({"dataset": setting.name, "impl": "diffusers", "seed": seed, "fd": score(images), **stats, **speed,
                 "parameters": sum(p.numel() for p in lib.parameters())})
    for row in rows:
        print(f"  {row['dataset']:<6} {row['impl']:<18} seed {seed}: Fréchet {row['fd']:.2f}, "
              f"{row['steps_per_s']:.2f} steps/s ({row['train_cpu_s']:.0f} CPU s), "
              f"{row['images_per_s']:.1f} images/s; loss {row['first_loss']:.3f} -> {row['final_loss']:.3f}", flush=True)
    return rows, sampler_agreement(setting, lib, size)


def summary_rows(setting: Setting, data: dict, runs: list[dict]) -> list[list[str]]:
    table = []
    base_mean, base_std = mean_std(data["baseline"])
    for impl in ("ours", "diffusers") + ((ABLATION,) if setting.emb_ablation else ()):
        sel = [r for r in runs if r["dataset"] == setting.name and r["impl"] == impl]
        table.append([setting.name, impl, f"{sel[0]['parameters']:,}", pm([r["fd"] for r in sel], 2),
                      f"{base_mean:.2f} ± {base_std:.2f}", pm([r["steps_per_s"] for r in sel], 2),
                      pm([r["train_cpu_s"] for r in sel], 1), pm([r["images_per_s"] for r in sel], 1),
                      pm([r["images_per_cpu_s"] for r in sel], 1)])
    ours = [r for r in runs if r["dataset"] == setting.name and r["impl"] == "ours"]
    lib = [r for r in runs if r["dataset"] == setting.name and r["impl"] == "diffusers"]
    ratio = lambda key: pm([a[key] / b[key] for a, b in zip(ours, lib)], 2)  # noqa: E731  (paired by seed)
    table.append([setting.name, "ours / diffusers", "", ratio("fd"), "", ratio("steps_per_s"), ratio("train_cpu_s"),
                  ratio("images_per_s"), ratio("images_per_cpu_s")])
    return table


def main() -> None:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--datasets", nargs="+", default=["digits", "mnist"], choices=["digits", "mnist"])
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    settings = QUICK if args.quick else FULL
    started = time.perf_counter()
    runs, checks, baselines, table = [], {}, {}, []
    for name in args.datasets:
        setting = settings[name]
        data = load_setting_data(setting)
        checks[name] = agreement_checks(setting, data)
        baselines[name] = data["baseline"]
        gaps = []
        for seed in args.seeds:
            rows, gap = run_pair(setting, data, seed)
            runs += rows
            gaps.append(gap)
        checks[name]["sampler_max_abs_diff"] = max(gaps)
        table += summary_rows(setting, data, runs)
    settings_used = {name: asdict(settings[name]) for name in args.datasets}
    n_eval = ", ".join(f"{name} {settings[name].n_eval}" for name in args.datasets)
    note = (f"Unconditional U-Nets, same data, seeds, batches, noise, optimizer and schedule; Fréchet distance of N "
            f"samples ({n_eval}) to the test images in the course classifier's features, with the real-vs-real "
            f"distance of N training images (mean ± std of the draws). Sampling: {SAMPLE_STEPS if not args.quick else 'few'} "
            f"DDIM steps, the same starting noise. Speeds on one CPU thread; CPU s = time.process_time of training. "
            f"Last row: ratios paired by seed (Fréchet < 1 and steps/s > 1 favour ours).")
    write_results("ddpm_diffusers", args, packages=["diffusers"],
                  table={"title": "DDPM: chapter 4's U-Net and sampler vs diffusers (UNet2DModel + DDPM/DDIM schedulers)",
                         "columns": ["data", "implementation", "parameters", "Fréchet distance", "real vs real",
                                     "train steps/s", "train CPU s", "sampling images/s", "images per CPU s"],
                         "rows": table, "note": note},
                  settings=settings_used, sample_steps={n: settings[n].sample_steps for n in args.datasets},
                  checks=checks, real_vs_real=baselines, runs=runs,
                  total_wall_s=time.perf_counter() - started)


if __name__ == "__main__":
    main()
