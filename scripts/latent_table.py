"""Reproduce the Neural ODE paper's Table 2: predictive RMSE on irregularly observed spirals.

For each number of observed points (30 / 50 / 100 of 100) and each seed, trains

- the latent ODE of ``specs/latent_spirals.ode`` with its default recipe (``odedsl.train``; the
  spec's data line gets ``observed = N``; ``s`` is the training seed: initial weights, batch
  order and posterior noise; the data are the spec's own draw), and
- the paper's RNN baseline (:class:`odedsl.models.rnn_baseline.RNNBaseline`: 25 hidden units,
  time gaps as extra input) on the same data with the same optimiser, learning rate, schedule,
  batch size and number of steps as the spec (``s`` seeds its initial weights),

and scores both on the held-out test split (once: with ``--eval-every N`` the latent ODE's
``best.pt`` is chosen on the validation split's RMSE, scored every N steps; the RNN is taken
as it ends): RMSE over the next 100 points of the noiseless curve
(starts in {100, …, 199}), as ``odedsl eval`` reports it (with the spec's ``refine``, from
the refined posterior mean; then also from the encoder's mean as it is, a row of its own).
Prints a markdown table per model (RMSE per seed, mean, training seconds); ``--json PATH``
writes every run's figures.

``--poisson`` instead trains ``specs/poisson_events.ode`` and reports the learned intensity's
error against the true λ(t) = 2·exp(z1(t)) of the EventSeries test split.

    OMP_NUM_THREADS=1 python scripts/latent_table.py --json /tmp/latent_table.json
    OMP_NUM_THREADS=1 python scripts/latent_table.py --observed 30 --seeds 3 4 5 --eval-every 2000
    OMP_NUM_THREADS=1 python scripts/latent_table.py --poisson
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import odedsl
from odedsl.compiler import build_data
from odedsl.data import load
from odedsl.data.events import HORIZON, event_intensity
from odedsl.models.rnn_baseline import RNNBaseline
from odedsl.models.series import Observations, forecast_rmse, gather_at, union_grid

ROOT = Path(__file__).resolve().parents[1]
SPIRALS = ROOT / "specs" / "latent_spirals.ode"
EVENTS = ROOT / "specs" / "poisson_events.ode"
PAPER = {
    "latent ODE": {30: 0.1642, 50: 0.1502, 100: 0.1346},
    "RNN": {30: 0.3937, 50: 0.3202, 100: 0.1813},
}
INTENSITY_POINTS = 200
ENCODER_ROW = "latent ODE, encoder's mean"
"""The row of a spec with ``refine``: its forecasts from the unrefined posterior mean."""


def spec_for(text: str, observed: int) -> str:
    """The spec with its data line set to ``observed`` points (everything else unchanged)."""
    line = re.search(r"~\s*(Spirals2D|EventSeries)\(([^)]*)\)", text)
    if line is None:
        raise ValueError("the spec has no Spirals2D / EventSeries data line")
    arguments = re.sub(r"observed\s*=\s*\d+", f"observed = {observed}", line.group(2))
    if arguments == line.group(2) and f"observed = {observed}" not in arguments:
        arguments += f", observed = {observed}"
    return text[: line.start(2)] + arguments + text[line.end(2) :]


def train_latent(
    spec: Path, observed: int, seed: int, out: Path, eval_every: int | None = None
) -> dict[str, Any]:
    """Train the spec's latent ODE at ``observed`` points with ``seed``; its test RMSE. With
    ``eval_every`` the validation split's RMSE is scored every ``eval_every`` steps and the
    test split is scored once, from ``best.pt`` (the best of them)."""
    out.mkdir(parents=True, exist_ok=True)
    path = out.with_suffix(".ode")
    path.write_text(spec_for(spec.read_text(encoding="utf-8"), observed), encoding="utf-8")
    overrides = {"eval_every": eval_every} if eval_every else None
    odedsl.train(path, out=out, seed=seed, overrides=overrides)
    evaluation = json.loads((out / "eval.json").read_text(encoding="utf-8"))
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    result = {"rmse": evaluation["rmse"], "seconds": summary["seconds"], "run": str(out)}
    for key in ("split", "checkpoint", "step", "selected_by"):
        if key in evaluation:
            result[key] = evaluation[key]
    model = odedsl.load(out)
    if model.refine:  # the same forecast from the encoder's posterior mean as it is
        model.eval()
        unrefined = functools.partial(model.predict, refine=0)
        with torch.no_grad():
            rmse = forecast_rmse(unrefined, build_data(model.spec, "test"), model.log_noise)
        result["rmse_encoder"] = rmse
    return result


def _learning_rate(step: int, steps: int, schedule: Any) -> float:
    """The spec's schedule as a factor of the learning rate at ``step`` of ``steps``."""
    if schedule.kind == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * step / steps))
    if schedule.kind == "step":
        return schedule.factor ** sum(step >= at for at in schedule.milestones)
    return 1.0


def train_rnn(spec: Path, observed: int, seed: int) -> dict[str, Any]:
    """The RNN baseline on the spec's data, optimiser, schedule, batch and steps."""
    checked = odedsl.check(spec_for(spec.read_text(encoding="utf-8"), observed))
    train = checked.train
    torch.manual_seed(seed)
    model = RNNBaseline(2, 25, noise=0.3, cell="rnn")
    data = build_data(checked, "train")
    optimizer = torch.optim.Adam(model.parameters(), lr=train.optimizer.lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: _learning_rate(step, train.steps, train.schedule)
    )
    start, step = time.perf_counter(), 0
    while step < train.steps:
        for batch in data:
            loss = model.loss(batch).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            step += 1
            if step == train.steps:
                break
    seconds = time.perf_counter() - start
    model.eval()
    rmse = model.evaluate(build_data(checked, "test"))["rmse"]
    return {"rmse": rmse, "seconds": round(seconds, 3)}


def table(results: list[dict[str, Any]], seeds: list[int], observed: list[int]) -> str:
    """Markdown: one row per model and observed count, RMSE per seed, mean, paper, seconds."""
    head = ["model", "observed"] + [f"seed {s}" for s in seeds] + ["mean", "paper", "train s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    rows = [("latent ODE", "rmse", "latent ODE"), ("latent ODE", "rmse_encoder", ENCODER_ROW)]
    for model, key, label in [*rows, ("RNN", "rmse", "RNN")]:
        for n in observed:
            runs = {
                r["seed"]: r
                for r in results
                if r["model"] == model and r["observed"] == n and key in r
            }
            if not runs:
                continue
            cells = [f"{runs[s][key]:.4f}" if s in runs else "–" for s in seeds]
            mean = statistics.mean(r[key] for r in runs.values())
            seconds = statistics.median(r["seconds"] for r in runs.values())
            row = [label, str(n), *cells, f"{mean:.4f}", f"{PAPER[model][n]:.4f}", f"{seconds:.0f}"]
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def poisson(spec: Path, out: Path, seed: int) -> dict[str, Any]:
    """Train the Poisson-process spec; the intensity error on its test split, along each
    series' posterior-mean path on ``INTENSITY_POINTS`` times of [0, 5]."""
    out.mkdir(parents=True, exist_ok=True)
    odedsl.train(spec, out=out, seed=seed)
    model = odedsl.load(out)
    checked = model.spec
    arguments = {k: v for k, v in checked.data.args.items() if k not in ("n", "seed", "split")}
    size, seed = int(checked.data.args["n"]), int(checked.data.args.get("seed", 0))
    test = load("EventSeries", split="test", n=size, seed=seed, **arguments)
    like = model.log_noise
    grid = torch.linspace(0.0, HORIZON, INTENSITY_POINTS, dtype=like.dtype)
    with torch.no_grad():
        mean, _ = model.encode(Observations.of(test["ts"], test["x"], None, like))
        times = grid.expand(len(mean), -1)
        on = union_grid(model.t0, [(times, None, "grid")], like)
        path = model.solve(mean[None], on.times, model.eval_solver)
        z = model.field.latent(gather_at(path, on.index[0]))[0]
        learned = model.field.log_intensity(z).exp().numpy()
    truth = event_intensity(test["z0"][:, None, :], grid.numpy())
    constant = test["event_counts"].mean() / HORIZON
    error = np.abs(learned - truth)
    return {
        "intensity_mae": float(error.mean()),
        "intensity_relative_l1": float(error.sum() / truth.sum()),
        "intensity_rmse": float(np.sqrt(((learned - truth) ** 2).mean())),
        "constant_rate_relative_l1": float(np.abs(constant - truth).sum() / truth.sum()),
        "true_mean_intensity": float(truth.mean()),
        "test_series": len(truth),
        "run": str(out),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--observed", type=int, nargs="+", default=[30, 50, 100])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--models", nargs="+", default=["latent", "rnn"], choices=["latent", "rnn"])
    parser.add_argument("--spec", type=Path, default=SPIRALS)
    parser.add_argument("--out", type=Path, default=Path("runs/latent_table"))
    parser.add_argument(
        "--eval-every",
        type=int,
        metavar="N",
        help="latent ODE: score the validation split every N steps; best.pt is the best, "
        "and the test split is scored once, from it",
    )
    parser.add_argument("--json", type=Path, help="write every run's figures here")
    parser.add_argument("--poisson", action="store_true", help="the Poisson intensity instead")
    parser.add_argument("--merge", type=Path, nargs="+", help="print the table of --json files")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.merge:
        reports = [json.loads(path.read_text(encoding="utf-8")) for path in args.merge]
        for report in reports:
            print(f"`{report['command']}`")
        runs = [run for report in reports for run in report["runs"]]
        seeds = sorted({run["seed"] for run in runs})
        print("\n" + table(runs, seeds, sorted({run["observed"] for run in runs})))
        return
    command = "python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    if args.poisson:
        report = {"command": command, **poisson(EVENTS, args.out / "poisson", args.seeds[0])}
        print(json.dumps(report, indent=2))
        if args.json:
            args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
        return
    results = []
    for n in args.observed:
        for seed in args.seeds:
            for kind in args.models:
                if kind == "latent":
                    folder = args.out / f"latent-o{n}-s{seed}"
                    run = train_latent(args.spec, n, seed, folder, args.eval_every)
                else:
                    run = train_rnn(args.spec, n, seed)
                name = "latent ODE" if kind == "latent" else "RNN"
                results.append({"model": name, "observed": n, "seed": seed, **run})
                print(json.dumps(results[-1]), flush=True)
                if args.json:
                    report = {"command": command, "runs": results}
                    args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"\n`{command}`\n")
    print(table(results, args.seeds, args.observed))


if __name__ == "__main__":
    main()
