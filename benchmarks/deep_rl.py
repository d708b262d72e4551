"""Our deep-RL implementations next to stable-baselines3: same tasks, seeds, steps, hyper-parameters, machine.

    python benchmarks/deep_rl.py [--seeds 0,1,2] [--algos ppo,sac,td3] [--steps-scale 1.0] [--threads 1]

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
``benchmarks/results/deep_rl.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from genai_foundations.results import machine  # noqa: E402
from genai_foundations.rl.evaluation import evaluate_policy  # noqa: E402
from genai_foundations.rl.ppo import PPOConfig, train_ppo  # noqa: E402
from genai_foundations.rl.sac import SACConfig, train_sac  # noqa: E402
from genai_foundations.rl.td3 import TD3Config, train_td3  # noqa: E402

TASKS = {"ppo": ("CartPole-v1", 100_000), "sac": ("Pendulum-v1", 20_000), "td3": ("Pendulum-v1", 20_000)}
TARGETS = {"ppo": 500.0, "sac": -200.0, "td3": -200.0}  # PPO: reaches (>= 500 - 1e-6); SAC/TD3: beats (>)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    parser.add_argument("--algos", default="ppo,sac,td3", help="comma-separated subset of ppo,sac,td3")
    parser.add_argument("--steps-scale", type=float, default=1.0, help="multiply every step budget (pilots: 0.1)")
    parser.add_argument("--threads", type=int, default=1, help="PyTorch threads for both libraries")
    parser.add_argument("--impls", default="ours,sb3", help="comma-separated subset of ours,sb3")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "deep_rl.json"))
    parser.add_argument("--note", default="", help="recorded as is, e.g. the machine's load during the run")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    algos = [a.strip() for a in args.algos.split(",")]
    impls = [i.strip() for i in args.impls.split(",")]
    if unknown := set(algos) - set(TASKS):
        raise SystemExit(f"unknown algos {sorted(unknown)}; choose from {sorted(TASKS)}")
    torch.set_num_threads(args.threads)
    import gymnasium
    import stable_baselines3

    rows: list[dict] = []
    out = Path(args.out)

    def summarise() -> list[dict]:
        summary = []
        for algo in algos:
            for impl in impls:
                sel = [r for r in rows if r["algo"] == algo and r["impl"] == impl]
                if not sel:
                    continue
                means = np.array([r["return_mean"] for r in sel])
                summary.append({"algo": algo, "impl": impl, "seeds": len(sel), "return_mean": float(means.mean()),
                                "return_std_over_seeds": float(means.std()),
                                "wall_seconds": float(np.mean([r["wall_seconds"] for r in sel])),
                                "steps_per_second": float(np.mean([r["steps_per_second"] for r in sel])),
                                "cpu_seconds": float(np.mean([r["cpu_seconds"] for r in sel])),
                                "steps_per_cpu_second": float(np.mean([r["steps_per_cpu_second"] for r in sel]))})
        return summary

    def write(complete: bool) -> dict:
        result = {"benchmark": "deep_rl", "complete": complete, "seeds": seeds, "algos": algos,
                  "steps_scale": args.steps_scale, "threads": args.threads, "evaluation_episodes": 10,
                  "note": args.note, "rows": rows, "summary": summarise(),
                  "targets": {a: TARGETS[a] for a in algos},
                  "versions": {"torch": torch.__version__, "gymnasium": gymnasium.__version__,
                               "stable_baselines3": stable_baselines3.__version__,
                               "python": platform.python_version()},
                  "machine": machine("cpu"),
                  "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1) + "\n")
        return result

    print(f"{'algo':5} {'env':12} {'impl':5} {'seed':>4} {'steps':>7} {'return':>16} {'wall s':>8} {'steps/s':>8} {'cpu s':>7}",
          flush=True)
    for algo in algos:
        env_id, full_steps = TASKS[algo]
        steps = max(1, int(round(full_steps * args.steps_scale)))
        for seed in seeds:
            for impl in impls:
                cpu_started = time.process_time()
                policy, seconds = (train_ours if impl == "ours" else train_sb3)(algo, steps, seed)
                cpu_seconds = time.process_time() - cpu_started  # less sensitive to other processes' load
                returns = evaluate_policy(policy, env_id, 10, seed=10_000 + seed, device="cpu")
                row = {"algo": algo, "env": env_id, "impl": impl, "seed": seed, "steps": steps,
                       "return_mean": float(returns.mean()), "return_std": float(returns.std()),
                       "wall_seconds": round(seconds, 2), "steps_per_second": round(steps / seconds, 1),
                       "cpu_seconds": round(cpu_seconds, 2), "steps_per_cpu_second": round(steps / cpu_seconds, 1)}
                rows.append(row)
                print(f"{algo:5} {env_id:12} {impl:5} {seed:>4} {steps:>7} "
                      f"{row['return_mean']:>8.1f} ± {row['return_std']:<5.1f} {seconds:>8.1f} "
                      f"{row['steps_per_second']:>8.0f} {cpu_seconds:>7.1f}", flush=True)
                write(complete=False)  # a partial result survives an interrupted run
    result = write(complete=True)
    print("\nsummary (mean over seeds)")
    print(f"{'algo':5} {'impl':5} {'return (seed means)':>22} {'wall s':>8} {'steps/s':>8} {'cpu s':>7}")
    for entry in result["summary"]:
        print(f"{entry['algo']:5} {entry['impl']:5} {entry['return_mean']:>12.1f} ± "
              f"{entry['return_std_over_seeds']:<7.1f} {entry['wall_seconds']:>8.1f} {entry['steps_per_second']:>8.0f} "
              f"{entry['cpu_seconds']:>7.1f}")
    print(f"wrote {out}")
    if args.steps_scale >= 1.0 and "ours" in impls:
        failed = [r for r in rows if r["impl"] == "ours" and not (
            r["return_mean"] >= TARGETS[r["algo"]] - 1e-6 if r["algo"] == "ppo" else r["return_mean"] > TARGETS[r["algo"]])]
        if failed:
            raise SystemExit(f"target missed: {failed}")
        print("targets met: PPO 500 on CartPole-v1 (100k steps); SAC and TD3 > -200 on Pendulum-v1 (20k steps)")


if __name__ == "__main__":
    main()
