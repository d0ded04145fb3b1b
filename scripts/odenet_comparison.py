"""The Neural ODE paper's Table 1 on scikit-learn's 8×8 digits: ResNet, RK-Net and ODE-Net.

All three share the ODE-Net spec's stem, head, data (the fixed 25 % test split of 450 images;
of the other 75 %, 180 validation and 1167 training images) and training recipe (optimizer,
schedule, epochs, batch); they differ in the middle:

- ResNet: ``--depth`` residual blocks (6, as in the paper) of the ODE block's width;
- RK-Net: the ODE block solved by fixed-step RK4 (``--rk-step``, default 0.5 as in the spec),
  gradients by backpropagation through the solver (``gradient = :direct``);
- ODE-Net: the spec as written (adjoint gradients).

Each (model, seed) trains in a fresh subprocess with one thread, through ``odedsl.training``
(the loop behind ``odedsl train``). Selection never sees the test split: the validation split
is scored every ``--eval-every`` epochs (and at the end; only at the end without the flag),
``best.pt`` keeps the lowest validation error (the earliest of equal ones), and the test split
is scored once, from ``best.pt``; the last checkpoint's test error is reported beside it
(``test_error_final``). Reported per model: test error per seed and mean,
parameters, peak training memory (the process's peak resident set over the training steps,
VmHWM after resetting it through /proc/self/clear_refs, minus the resident set when the loop
starts; one warm-up pass comes first and glibc unmaps freed blocks of 64 KiB or more, see
``WORKER_ENVIRONMENT``), median seconds per epoch (wall-clock and CPU, between epoch ends, the
final evaluation excluded) and mean solver evaluations per step. The same run
also trains the issue's reference configuration (dopri5 at rtol = atol = 1e-3, adjoint) for
``--reference-epochs`` epochs per seed, interleaved with the other runs, so that the ratio of
the ODE-Net's time per epoch to the reference's is measured on the same machine at the same time.

    OMP_NUM_THREADS=1 python scripts/odenet_comparison.py --seeds 3 4 5 --eval-every 5
    OMP_NUM_THREADS=1 python scripts/odenet_comparison.py --seeds 0 --epochs 2 --json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from odedsl.cli_runs import parse_setting

DIGITS_SPEC = Path(__file__).resolve().parents[1] / "specs" / "odenet_digits.ode"
MODELS = ("resnet", "rknet", "odenet")
LABELS = {"resnet": "ResNet", "rknet": "RK-Net", "odenet": "ODE-Net", "reference": "reference"}
REFERENCE = {"method": "dopri5", "rtol": 1e-3, "atol": 1e-3, "gradient": "adjoint"}
"""The issue's reference configuration: the spec's network with this solver."""
MIB = 2**20
WORKER_ENVIRONMENT = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MALLOC_MMAP_THRESHOLD_": "65536",
}
"""One thread; glibc maps every block of 64 KiB or more on its own and unmaps it when freed, so
the resident set follows the live tensors instead of the allocator's retained free space."""


# -- one training run (in its own process) --------------------------------------------------------


class EpochClock:
    """A progress reporter of ``odedsl.training.train`` that stamps epoch ends, collects the
    solver's evaluations per step and measures the memory the training steps take: the peak
    resident set up to the last step's end (before the final evaluation) minus the resident
    set when the loop starts (the run folder, optimizer and first checkpoint are set up)."""

    def __init__(self, steps_per_epoch: int) -> None:
        self.steps_per_epoch = steps_per_epoch
        self.stamps: list[tuple[float, float]] = []
        self.nfe: dict[str, list[float]] = {"nfe_forward": [], "nfe_backward": []}
        self.total = 0
        self.baseline = 0
        self.memory = 0
        self.exact_peak = False

    def start(self, total: int, initial: int) -> None:
        self.total = total
        self.baseline = current_rss_bytes()
        self.exact_peak = reset_peak_memory()
        self.stamps.append((time.perf_counter(), time.process_time()))

    def update(self, step: int, values: Mapping[str, float]) -> None:
        for key, seen in self.nfe.items():
            if key in values:
                seen.append(float(values[key]))
        if step % self.steps_per_epoch == 0:
            self.stamps.append((time.perf_counter(), time.process_time()))
        if step == self.total:
            self.memory = peak_rss_bytes() - self.baseline

    def note(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass

    def epoch_seconds(self, clock: int) -> list[float]:
        """Seconds of each epoch: wall-clock (``clock`` 0) or this process's CPU time (1)."""
        return [b[clock] - a[clock] for a, b in zip(self.stamps, self.stamps[1:], strict=False)]


def _status_kib(field: str) -> int | None:
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


def reset_peak_memory() -> bool:
    """Reset the process's peak resident set (Linux); False where that is impossible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return _status_kib("VmHWM") is not None


def current_rss_bytes() -> int:
    kib = _status_kib("VmRSS")
    if kib is None:
        import resource

        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib * 1024


def peak_rss_bytes() -> int:
    kib = _status_kib("VmHWM")
    if kib is None:
        import resource

        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib * 1024


def block_width(model: nn.Module) -> tuple[int, int]:
    """Channels and GroupNorm groups of a compiled ODE-Net's dynamics."""
    norm = next((m for m in model.dynamics.modules() if isinstance(m, nn.GroupNorm)), None)
    if norm is None:
        raise ValueError("the ResNet copies the ODE block's GroupNorm; the dynamics have none")
    return norm.num_channels, norm.num_groups


def overrides_for(job: Mapping[str, Any]) -> dict[str, Any]:
    """The spec overrides of a job's model."""
    changes: dict[str, Any] = {**job["settings"], "seed": job["seed"]}
    if job["epochs"] is not None:
        changes["epochs"] = job["epochs"]
    if job["model"] == "rknet":
        changes.update(method="rk4", step_size=job["rk_step"], gradient="direct")
    elif job["model"] == "reference":
        changes.update(REFERENCE, epochs=job["reference_epochs"])
    return changes


def build(job: Mapping[str, Any]) -> tuple[nn.Module, Any, Any, Any, Any, dict[str, Any]]:
    """Model, training, validation and test data, training configuration (``best.pt`` chosen
    by the validation error) and the spec overrides."""
    from odedsl.compiler import build_data, train_config
    from odedsl.compiler import compile as compile_spec
    from odedsl.models.resnet import ResNetClassifier

    changes = overrides_for(job)
    model = compile_spec(Path(job["spec"]), **changes)
    spec = model.spec
    if job["model"] == "resnet":
        channels, groups = block_width(model)
        model = ResNetClassifier(
            model.initial,
            model.observations[0].reader,
            channels=channels,
            depth=job["depth"],
            groups=groups,
        )
    config = train_config(spec, best_metric="test_error")
    splits = [build_data(spec, split) for split in ("train", "validation", "test")]
    return model, *splits, config, changes


def warm_up(model: nn.Module, data: Any) -> None:
    """One forward and backward pass, gradients dropped after: the one-time costs of a first
    pass (autograd's engine, kernels' workspaces) are then out of the memory measured."""
    model.loss(next(iter(data))).loss.backward()
    model.zero_grad(set_to_none=True)


def train_one(job: Mapping[str, Any]) -> dict[str, Any]:
    """Train one (model, seed) job into ``job["out"]`` and measure it."""
    from odedsl.lang import load_source
    from odedsl.training import RunFolder, train
    from odedsl.training.rng import seed_everything
    from odedsl.training.run import fresh_run
    from odedsl.workflow import OVERRIDES

    torch.set_num_threads(1)
    seed_everything(job["seed"])
    model, data, validation, test, config, changes = build(job)
    folder = Path(job["out"])
    warm_up(model, data)
    clock = EpochClock(len(data))
    with fresh_run(folder):  # a new or empty folder, locked; the overrides are the run's own
        (folder / OVERRIDES).write_text(json.dumps(changes, indent=2))
        train(
            model,
            data,
            config,
            folder,
            spec_text=load_source(Path(job["spec"])).text,
            eval_data=validation,
            progress=clock,
        )
    model.eval()
    final = model.evaluate(test)
    best = RunFolder(folder).read_checkpoint("best")
    model.load_state_dict(best["model"])
    result = model.evaluate(test)
    return {
        **{k: job[k] for k in ("model", "seed")},
        "test_error": result["test_error"],
        "test_loss": result["loss"],
        "best_epoch": best["epoch"],
        "best_validation_error": best["best"]["value"],
        "test_error_final": final["test_error"],
        "parameters": sum(p.numel() for p in model.parameters()),
        "peak_memory_mib": clock.memory / MIB,
        "peak_memory_method": "VmHWM reset" if clock.exact_peak else "ru_maxrss",
        "epoch_seconds": clock.epoch_seconds(0),
        "epoch_cpu_seconds": clock.epoch_seconds(1),
        "nfe_forward": _mean(clock.nfe["nfe_forward"]),
        "nfe_backward": _mean(clock.nfe["nfe_backward"]),
        "run": str(folder),
    }


def _mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


# -- the comparison -------------------------------------------------------------------------


def run_job(job: Mapping[str, Any]) -> dict[str, Any]:
    """Run one job in a fresh single-threaded Python process; its last stdout line is JSON."""
    env = {**os.environ, **WORKER_ENVIRONMENT}
    command = [sys.executable, __file__, "--worker", json.dumps(job)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{LABELS[job['model']]} seed {job['seed']} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def jobs(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every (model, seed) run, interleaved: all models of one seed, then the next seed."""
    common = {
        "spec": str(args.spec),
        "epochs": args.epochs,
        "rk_step": args.rk_step,
        "depth": args.depth,
        "reference_epochs": args.reference_epochs,
        "settings": dict(parse_setting(item) for item in args.set),
    }
    if args.eval_every is not None:
        common["settings"]["eval_every"] = args.eval_every
    kinds = list(args.models) + (["reference"] if args.reference_epochs > 0 else [])
    return [
        {**common, "model": kind, "seed": seed, "out": str(args.out / f"{kind}-seed{seed}")}
        for seed in args.seeds
        for kind in kinds
    ]


def summarize(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per model: errors per seed and mean, parameters, median memory and time per epoch."""
    models: dict[str, Any] = {}
    for kind in [*MODELS, "reference"]:
        rows = [r for r in results if r["model"] == kind]
        if not rows:
            continue
        models[kind] = {
            "test_error": {str(r["seed"]): r["test_error"] for r in rows},
            "test_error_mean": statistics.fmean(r["test_error"] for r in rows),
            "test_error_final": {str(r["seed"]): r["test_error_final"] for r in rows},
            "best_epoch": {str(r["seed"]): r["best_epoch"] for r in rows},
            "parameters": rows[0]["parameters"],
            "peak_memory_mib": statistics.median(r["peak_memory_mib"] for r in rows),
            "seconds_per_epoch": _median_epoch(rows, "epoch_seconds"),
            "cpu_seconds_per_epoch": _median_epoch(rows, "epoch_cpu_seconds"),
            "nfe_forward": _mean([r["nfe_forward"] for r in rows if r["nfe_forward"]]),
            "nfe_backward": _mean([r["nfe_backward"] for r in rows if r["nfe_backward"]]),
        }
    summary: dict[str, Any] = {"models": models}
    if "odenet" in models and "resnet" in models:
        ode, res = models["odenet"], models["resnet"]
        summary["parameter_ratio"] = ode["parameters"] / res["parameters"]
        summary["error_gap_points"] = 100 * (ode["test_error_mean"] - res["test_error_mean"])
    if "odenet" in models and "reference" in models:
        ode, ref = models["odenet"], models["reference"]
        summary["time_ratio_to_reference"] = ode["seconds_per_epoch"] / ref["seconds_per_epoch"]
        ratio = ode["cpu_seconds_per_epoch"] / ref["cpu_seconds_per_epoch"]
        summary["cpu_time_ratio_to_reference"] = ratio
    return summary


def _median_epoch(rows: Sequence[Mapping[str, Any]], key: str) -> float:
    return statistics.median(s for r in rows for s in r[key])


def _cell(value: float | None, form: str) -> str:
    return "–" if value is None else format(value, form)


def markdown(summary: Mapping[str, Any], seeds: Sequence[int]) -> str:
    """The comparison as a markdown table, with the ratios below it."""
    head = ["model", *(f"seed {s}" for s in seeds), "mean", "parameters"]
    head += ["peak memory (MiB)", "s / epoch (CPU s)", "NFE fwd / bwd"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for kind, row in summary["models"].items():
        trained = kind != "reference"
        errors = [row["test_error"].get(str(s)) if trained else None for s in seeds]
        mean = row["test_error_mean"] if trained else None
        nfe = f"{_cell(row['nfe_forward'], '.1f')} / {_cell(row['nfe_backward'], '.1f')}"
        cells = [LABELS[kind], *(_cell(None if e is None else 100 * e, ".2f") for e in errors)]
        cells += [_cell(None if mean is None else 100 * mean, ".2f"), f"{row['parameters']:,}"]
        seconds = f"{row['seconds_per_epoch']:.2f} ({row['cpu_seconds_per_epoch']:.2f})"
        cells += [f"{row['peak_memory_mib']:.1f}", seconds, nfe]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        "Test errors in % of best.pt (the best validation error); memory and time per epoch "
        "are medians over the seeds."
    )
    for kind, row in summary["models"].items():
        if kind == "reference":
            continue
        finals = " / ".join(_cell(100 * row["test_error_final"][str(s)], ".2f") for s in seeds)
        epochs = " / ".join(str(row["best_epoch"][str(s)]) for s in seeds)
        lines.append(f"{LABELS[kind]}: best.pt from epoch {epochs}; last checkpoint {finals}.")
    if "parameter_ratio" in summary:
        lines.append(
            f"ODE-Net parameters / ResNet's: {100 * summary['parameter_ratio']:.1f} %; "
            f"ODE-Net mean error − ResNet's: {summary['error_gap_points']:+.2f} points."
        )
    if "time_ratio_to_reference" in summary:
        lines.append(
            "ODE-Net time per epoch / reference configuration's: "
            f"{summary['time_ratio_to_reference']:.2f} wall-clock, "
            f"{summary['cpu_time_ratio_to_reference']:.2f} CPU time."
        )
    return "\n".join(lines)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", type=Path, default=DIGITS_SPEC)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--epochs", type=int, default=None, help="default: the spec's")
    parser.add_argument("--depth", type=int, default=6, help="the ResNet's residual blocks")
    parser.add_argument("--rk-step", type=float, default=0.5, help="the RK-Net's RK4 step")
    parser.add_argument(
        "--reference-epochs", type=int, default=2, help="0: skip the reference configuration"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a spec override for every model, as in odedsl train (e.g. --set lr=0.05)",
    )
    parser.add_argument(
        "--eval-every",
        type=int,
        default=None,
        metavar="N",
        help="score the validation split every N epochs; best.pt is the best (the test split "
        "is scored once, from it); default: the spec's (at the end only, when it has none)",
    )
    parser.add_argument("--out", type=Path, default=Path("runs/odenet-comparison"))
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(argv)
    if args.worker is not None:
        print(json.dumps(train_one(json.loads(args.worker))))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for job in jobs(args):
        print(f"training {LABELS[job['model']]}, seed {job['seed']}", file=sys.stderr, flush=True)
        results.append(run_job(job))
    summary = summarize(results)
    command = "python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    report = {"command": command, "summary": summary, "runs": results}
    (args.out / "results.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2) if args.json else markdown(summary, args.seeds))
    if not args.json:
        print(f"\ncommand: {command}\nresults: {args.out / 'results.json'}")


if __name__ == "__main__":
    main()
