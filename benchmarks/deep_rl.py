"""Our deep-RL implementations next to stable-baselines3: same tasks, seeds, steps, hyper-parameters, machine.

    python benchmarks/deep_rl.py [--quick] [--seeds 0 1 2] [--algos ppo,sac,td3] [--impls ours,sb3]
                                 [--steps-scale 1.0] [--threads 1] [--out DIR] [--note TEXT]

For every algorithm and seed it trains ours (``genai_foundations.rl``) and
stable-baselines3's with the same hyper-parameters and network sizes, one
after the other in this process (one PyTorch thread each), then scores both
policies with the same 10 deterministic evaluation episodes
(``evaluation.evaluate_policy``, episode ``i`` seeded ``10_000 + seed + i``).
Reported per run: the final return (mean and std over the 10 episodes), the
training wall time and environment steps per second (evaluation excluded), and
the CPU seconds of training (``time.process_time``), which a loaded machine
inflates much less than the wall time.
The chapter's targets are asserted at ``--steps-scale 1`` on our runs: PPO
reaches 500 on CartPole-v1 within 100k steps; SAC and TD3 beat -200 on
Pendulum-v1 within 20k steps. Prints one table and writes
``benchmarks/results/deep_rl.json`` (rewritten after every run, ``"complete": false``
until the last, so that an interrupted run keeps what it measured).

``--quick`` (``make bench-quick``) trains each algorithm for :data:`QUICK_STEPS` steps
(enough for PPO's first updates and for SAC's and TD3's first gradient steps after
their 1,000 random ones), on the first seed only, scores 2 episodes and writes to
``_build/bench-quick/``: it checks that the comparison runs, not what it finds.
"""

from __future__ import annotations

import contextlib
import io
import time

import numpy as np
import torch

from common import mean_std, parser, pm, write_results
from genai_foundations.rl.evaluation import evaluate_policy
from genai_foundations.rl.ppo import PPOConfig, train_ppo
from genai_foundations.rl.sac import SACConfig, train_sac
from genai_foundations.rl.td3 import TD3Config, train_td3

TASKS = {"ppo": ("CartPole-v1", 100_000), "sac": ("Pendulum-v1", 20_000), "td3": ("Pendulum-v1", 20_000)}
TARGETS = {"ppo": 500.0, "sac": -200.0, "td3": -200.0}  # PPO: reaches (>= 500 - 1e-6); SAC/TD3: beats (>)
#: ``--quick``: PPO's first two updates (8 envs x 32 steps each); SAC and TD3 past their 1,000 random steps.
QUICK_STEPS = {"ppo": 512, "sac": 1_100, "td3": 1_100}
IMPL_NAMES = {"ours": "ours", "sb3": "stable-baselines3"}


class SB3Policy(torch.nn.Module):
    """Gives a stable-baselines3 model the ``act(obs, deterministic)`` of our policies, for the same evaluation."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.dummy = torch.nn.Parameter(torch.zeros(1), requires_grad=False)

    def act(self, obs: torch.Tensor, deterministic: bool = True) -> torch.Tensor:
        action, _ = self.model.predict(obs.cpu().numpy(), deterministic=deterministic)
        return torch.as_tensor(action)


def _linear(start: float):
    return lambda progress_remaining: progress_remaining * start


def train_sb3(algo: str, steps: int, seed: int):
    """stable-baselines3's agent with our configuration's hyper-parameters; returns (policy, seconds)."""
    import stable_baselines3 as sb3
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.noise import NormalActionNoise

    env_id = TASKS[algo][0]
    if algo == "ppo":
        c = PPOConfig()
        model = sb3.PPO("MlpPolicy", make_vec_env(env_id, n_envs=c.num_envs, seed=seed), n_steps=c.n_steps,
                        batch_size=c.minibatch_size, n_epochs=c.epochs, gamma=c.gamma, gae_lambda=c.lam,
                        learning_rate=_linear(c.lr), clip_range=_linear(c.clip), ent_coef=c.entropy_coef,
                        vf_coef=c.value_coef, max_grad_norm=c.max_grad_norm,
                        policy_kwargs={"net_arch": {"pi": list(c.hidden), "vf": list(c.hidden)}},
                        seed=seed, device="cpu", verbose=0)
    elif algo == "sac":
        c = SACConfig()
        model = sb3.SAC("MlpPolicy", env_id, learning_rate=c.lr, buffer_size=steps, learning_starts=c.learning_starts,
                        batch_size=c.batch_size, tau=c.tau, gamma=c.gamma, ent_coef=f"auto_{c.init_alpha}",
                        policy_kwargs={"net_arch": list(c.hidden)}, seed=seed, device="cpu", verbose=0)
    else:
        c = TD3Config()
        model = sb3.TD3("MlpPolicy", env_id, learning_rate=c.lr, buffer_size=steps, learning_starts=c.learning_starts,
                        batch_size=c.batch_size, tau=c.tau, gamma=c.gamma, policy_delay=c.policy_delay,
                        target_policy_noise=c.target_noise, target_noise_clip=c.noise_clip,
                        action_noise=NormalActionNoise(np.zeros(1), np.full(1, c.exploration_noise * 2.0)),
                        policy_kwargs={"net_arch": list(c.hidden)}, seed=seed, device="cpu", verbose=0)
    started = time.perf_counter()
    model.learn(total_timesteps=steps)
    return SB3Policy(model), time.perf_counter() - started


def train_ours(algo: str, steps: int, seed: int):
    env_id = TASKS[algo][0]
    fn = {"ppo": train_ppo, "sac": train_sac, "td3": train_td3}[algo]
    result = fn(env_id, steps, seed, "cpu")
    return result.policy, result.wall_seconds


def table_from(result: dict) -> dict:
    """The table of the results page from a result's per-run ``rows``: mean ± std over seeds per algorithm and impl.

    Works on every version of ``deep_rl.json`` (the rows' keys have not changed).
    """
    rows, table_rows = result["rows"], []
    cpu_of = {}
    for r in rows:
        cpu_of.setdefault((r["algo"], r["impl"]), []).append(r["cpu_seconds"])
    for algo in dict.fromkeys(r["algo"] for r in rows):
        for impl in dict.fromkeys(r["impl"] for r in rows if r["algo"] == algo):
            sel = [r for r in rows if r["algo"] == algo and r["impl"] == impl]
            sb3 = cpu_of.get((algo, "sb3"))
            share = f"{np.mean(cpu_of[algo, impl]) / np.mean(sb3):.0%}" if sb3 else "n/a"
            target = ("reach " if algo == "ppo" else "beat ") + f"{TARGETS[algo]:g}"
            table_rows.append([algo.upper(), sel[0]["env"], IMPL_NAMES.get(impl, impl), f"{sel[0]['steps']:,}",
                               pm((r["return_mean"] for r in sel), 1), target,
                               pm((r["cpu_seconds"] for r in sel), 1), share,
                               pm((r["steps_per_second"] for r in sel), 0)])
    seeds = sorted({r["seed"] for r in rows})
    note = (f"Same hyper-parameters and network sizes for both; return = mean of {result['evaluation_episodes']} "
            f"deterministic evaluation episodes per run; mean ± std over seeds {seeds}; CPU and wall time of "
            f"training only.")
    if result.get("note"):
        note += " " + result["note"].rstrip(".") + "."
    return {"title": "Deep RL: ours against stable-baselines3 (same tasks, seeds, steps, hyper-parameters)",
            "columns": ["algorithm", "environment", "implementation", "steps", "return", "target",
                        "training CPU s", "CPU time vs SB3", "steps / s (wall)"],
            "rows": table_rows, "note": note}


def main() -> None:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--algos", default="ppo,sac,td3", help="comma-separated subset of ppo,sac,td3")
    p.add_argument("--steps-scale", type=float, default=1.0, help="multiply every step budget (pilots: 0.1)")
    p.add_argument("--impls", default="ours,sb3", help="comma-separated subset of ours,sb3")
    p.add_argument("--note", default="", help="recorded as is, e.g. the machine's load during the run")
    args = p.parse_args()
    if args.quick:
        args.seeds = args.seeds[:1]
    seeds = args.seeds
    algos = [a.strip() for a in args.algos.split(",")]
    impls = [i.strip() for i in args.impls.split(",")]
    if unknown := set(algos) - set(TASKS):
        raise SystemExit(f"unknown algos {sorted(unknown)}; choose from {sorted(TASKS)}")
    if unknown := set(impls) - set(IMPL_NAMES):
        raise SystemExit(f"unknown impls {sorted(unknown)}; choose from {sorted(IMPL_NAMES)}")
    torch.set_num_threads(args.threads)
    episodes = 2 if args.quick else 10

    rows: list[dict] = []

    def summarise() -> list[dict]:
        summary = []
        for algo in algos:
            for impl in impls:
                sel = [r for r in rows if r["algo"] == algo and r["impl"] == impl]
                if not sel:
                    continue
                mean, std = mean_std(r["return_mean"] for r in sel)  # sample std, as every table's "±"
                summary.append({"algo": algo, "impl": impl, "seeds": len(sel), "return_mean": mean,
                                "return_std_over_seeds": std,
                                "wall_seconds": float(np.mean([r["wall_seconds"] for r in sel])),
                                "steps_per_second": float(np.mean([r["steps_per_second"] for r in sel])),
                                "cpu_seconds": float(np.mean([r["cpu_seconds"] for r in sel])),
                                "steps_per_cpu_second": float(np.mean([r["steps_per_cpu_second"] for r in sel]))})
        return summary

    def write(complete: bool):
        detail = {"complete": complete, "algos": algos, "steps_scale": args.steps_scale,
                  "evaluation_episodes": episodes, "note": args.note, "rows": rows, "summary": summarise(),
                  "targets": {a: TARGETS[a] for a in algos}}
        quiet = contextlib.redirect_stdout(io.StringIO()) if not complete else contextlib.nullcontext()
        with quiet:  # the table is printed once, at the end
            return write_results("deep_rl", args, table=table_from(detail), packages=["gymnasium", "stable-baselines3"],
                                 **detail)

    print(f"{'algo':5} {'env':12} {'impl':5} {'seed':>4} {'steps':>7} {'return':>16} {'wall s':>8} {'steps/s':>8} {'cpu s':>7}",
          flush=True)
    for algo in algos:
        env_id, full_steps = TASKS[algo]
        steps = QUICK_STEPS[algo] if args.quick else max(1, int(round(full_steps * args.steps_scale)))
        for seed in seeds:
            for impl in impls:
                cpu_started = time.process_time()
                policy, seconds = (train_ours if impl == "ours" else train_sb3)(algo, steps, seed)
                cpu_seconds = time.process_time() - cpu_started  # less sensitive to other processes' load
                returns = evaluate_policy(policy, env_id, episodes, seed=10_000 + seed, device="cpu")
                row = {"algo": algo, "env": env_id, "impl": impl, "seed": seed, "steps": steps,
                       "return_mean": float(returns.mean()), "return_std": float(returns.std()),
                       "wall_seconds": round(seconds, 2), "steps_per_second": round(steps / seconds, 1),
                       "cpu_seconds": round(cpu_seconds, 2), "steps_per_cpu_second": round(steps / cpu_seconds, 1)}
                rows.append(row)
                print(f"{algo:5} {env_id:12} {impl:5} {seed:>4} {steps:>7} "
                      f"{row['return_mean']:>8.1f} ± {row['return_std']:<5.1f} {seconds:>8.1f} "
                      f"{row['steps_per_second']:>8.0f} {cpu_seconds:>7.1f}", flush=True)
                write(complete=False)  # a partial result survives an interrupted run
    print()
    write(complete=True)
    if args.steps_scale >= 1.0 and "ours" in impls and not args.quick:
        failed = [r for r in rows if r["impl"] == "ours" and not (
            r["return_mean"] >= TARGETS[r["algo"]] - 1e-6 if r["algo"] == "ppo" else r["return_mean"] > TARGETS[r["algo"]])]
        if failed:
            raise SystemExit(f"target missed: {failed}")
        print("targets met: PPO 500 on CartPole-v1 (100k steps); SAC and TD3 > -200 on Pendulum-v1 (20k steps)")


if __name__ == "__main__":
    main()
