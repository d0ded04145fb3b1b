"""The commands of ``odedsl`` that compile and run models: train, eval, sample, plot, show.

Each command imports torch only when it runs, so ``odedsl check`` stays fast. Exit codes: 0
success, 1 a spec, data or run error (one clear message on stderr), 2 a usage error,
130 an interrupted training run (its checkpoint saved).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a tool killed by a closed pipe

_NUMBER = re.compile(r"[+-]?(\d[\d_]*\.?\d*|\.\d+)([eE][+-]?\d+)?")


class UsageError(Exception):
    """A command-line argument is malformed (exit code 2)."""


def parse_setting(text: str) -> tuple[str, Any]:
    """``key=value`` from ``--set``, the value written as in a spec: ``1e-3``, ``500``,
    ``:rk4``, ``true``/``false`` or ``"text"``."""
    key, sep, raw = text.partition("=")
    key, raw = key.strip(), raw.strip()
    if not sep or not key.isidentifier() or not raw:
        raise UsageError(f"--set {text!r}: expected key=value, e.g. --set rtol=1e-3")
    if raw.startswith(":") and raw[1:].isidentifier():
        return key, raw[1:]
    if raw in ("true", "false"):
        return key, raw == "true"
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return key, raw[1:-1]
    if _NUMBER.fullmatch(raw):
        number = float(raw.replace("_", ""))
        is_int = number.is_integer() and not any(c in raw for c in ".eE")
        return key, int(number) if is_int else number
    raise UsageError(
        f"--set {text!r}: {raw!r} is not a value; write a number (1e-3), a symbol (:rk4), "
        'true/false or a quoted string ("path")'
    )


def _settings(items: list[str] | None) -> dict[str, Any]:
    return dict(parse_setting(item) for item in items or [])


def _threads(args: argparse.Namespace) -> None:
    """One torch thread unless ``--threads`` says otherwise: an ODE model's per-step tensors
    are too small to share between threads, and on a busy machine extra threads contend for
    the cores; large convolutional models may gain from ``--threads 2``."""
    import os

    import torch

    threads = getattr(args, "threads", None)
    threads = 1 if threads is None else threads
    if threads < 1:
        raise UsageError(f"--threads {threads}: give at least 1")
    os.environ["OMP_NUM_THREADS"] = str(threads)  # inherited by data-parallel workers
    torch.set_num_threads(threads)


def run_train(args: argparse.Namespace) -> int:
    from odedsl import workflow

    if args.steps is not None and args.epochs is not None:
        raise UsageError("give --steps or --epochs, not both")
    if args.resume is None and args.spec is None:
        raise UsageError("give a SPEC to train, or --resume RUN to continue a run")
    _threads(args)
    _check_nproc(args.nproc, args.force)
    common = {"nproc": args.nproc, "device": args.device, "stream": sys.stdout}
    if args.resume is not None:
        if args.set or args.seed is not None or args.out is not None:
            raise UsageError("--resume continues a run as it was: drop --set, --seed and --out")
        if args.tensorboard:
            raise UsageError("--resume keeps the run's own TensorBoard setting: drop --tensorboard")
        if args.spec is not None:
            workflow.require_same_spec(args.resume, args.spec)
        folder = workflow.resume(args.resume, steps=args.steps, epochs=args.epochs, **common)
        _next_commands(folder)
        return 0
    folder = workflow.train(
        args.spec,
        out=args.out,
        steps=args.steps,
        epochs=args.epochs,
        seed=args.seed,
        overrides=_settings(args.set),
        tensorboard=args.tensorboard,
        **common,
    )
    _next_commands(folder)
    return 0


def _next_commands(folder: Path) -> None:
    """Where the run is, and the commands that use it (from the process that wrote it)."""
    import os

    if os.environ.get("RANK", "0") != "0":
        return
    from odedsl.training import RunFolder

    config = RunFolder(folder).read_config()
    unit = "epochs" if config.epochs is not None else "steps"
    longer = f"--{unit} {2 * (config.epochs or config.steps or 0)}"
    print(f"run folder: {folder}")
    print(f"next: odedsl eval {folder}  (the test metrics again; --set eval_rtol=1e-7)")
    print(f"      odedsl plot {folder}  (redraw the pictures)")
    print(f"      odedsl sample {folder} -n 1000 -o samples.npy  (flows, trajectory models)")
    print(f"      odedsl train --resume {folder} {longer}  (train on)")


def _check_nproc(nproc: int, force: bool) -> None:
    from odedsl.training.memory import cores

    if nproc < 1:
        raise UsageError(f"--nproc {nproc}: give at least 1")
    available = cores()
    if nproc > available and not force:
        raise UsageError(
            f"--nproc {nproc}: more processes than the {available} cores here; give "
            f"--nproc {available} or fewer, or add --force"
        )


def run_eval(args: argparse.Namespace) -> int:
    from odedsl import workflow

    _threads(args)
    results = workflow.evaluate(args.run_dir, which=args.which, settings=_settings(args.set))
    if args.json:
        print(json.dumps(results))
    else:
        for key, value in results.items():
            if isinstance(value, dict):
                value = ", ".join(
                    f"{k} {v:.6g}" if isinstance(v, float) else f"{k} {v}" for k, v in value.items()
                )
            print(f"{key:12} {value:.6g}" if isinstance(value, float) else f"{key:12} {value}")
    return 0


def run_sample(args: argparse.Namespace) -> int:
    import numpy as np

    from odedsl import workflow

    _threads(args)
    if args.n < 1:
        raise UsageError(f"-n {args.n}: the number of samples must be at least 1")
    samples = workflow.sample(args.run_dir, args.n, seed=args.seed)
    out = Path(args.output)
    if out.suffix != ".npy":
        raise UsageError(f"-o {args.output}: the output is a numpy file; name it FILE.npy")
    np.save(out, samples)
    print(f"wrote {len(samples)} samples of shape {tuple(samples.shape[1:])} to {out}")
    return 0


def run_plot(args: argparse.Namespace) -> int:
    from odedsl import workflow

    _threads(args)
    for path in workflow.plot(args.run_dir):
        print(path)
    return 0


def run_show(args: argparse.Namespace) -> int:
    from odedsl.compiler import compile, generated_code

    model = compile(args.spec, **_settings(args.set))
    if args.code:
        print(generated_code(model))
        return 0
    from odedsl.lang.summary import summarize

    print(summarize(model.spec))
    print()
    print(model)
    return 0


def _command(
    commands: argparse._SubParsersAction,
    name: str,
    run: Callable[[argparse.Namespace], int],
    *,
    help: str,
    description: str,
    examples: tuple[str, ...],
) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` ends with its examples."""
    heading = "example:" if len(examples) == 1 else "examples:"
    parser = commands.add_parser(
        name,
        help=help,
        description=description,
        epilog="\n  ".join([heading, *examples]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(run=run)
    return parser


def _add_run_folder(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN", help="a run folder written by `odedsl train`")


def _add_settings(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a solver or training setting as in a spec, e.g. --set rtol=1e-3 "
        "--set method=:rk4 (repeatable)",
    )


def _add_train(commands: argparse._SubParsersAction) -> None:
    parser = _command(
        commands,
        "train",
        run_train,
        help="train a spec into a run folder",
        description="Compile SPEC and train it, writing a run folder (spec, config.json, "
        "checkpoint.pt, metrics.jsonl, summary.json, eval.json, pictures). With eval_every "
        "(--set eval_every=N) the validation split is scored every N steps and best.pt keeps "
        "the best; patience stops early. The test split is scored once, at the end "
        "(eval.json). Ctrl-C saves a checkpoint; --resume continues exactly.",
        examples=(
            "odedsl train specs/cnf_moons.ode",
            "odedsl train specs/cnf_moons.ode --steps 500 --set lr=1e-2 --out runs/quick",
            "odedsl train --resume runs/quick --steps 1000",
            "odedsl train specs/cnf_moons.ode --nproc 2",
            "odedsl train specs/cnf_moons.ode --set eval_every=250 --set patience=4",
        ),
    )
    parser.add_argument("spec", nargs="?", metavar="SPEC", help="the .ode spec to train")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, help="train for N steps in all")
    length.add_argument("--epochs", type=int, help="train for N epochs in all")
    parser.add_argument("--out", help="the run folder (default: runs/<spec name>)")
    _add_settings(parser)
    parser.add_argument("--seed", type=int, help="the random seed (default: the spec's)")
    parser.add_argument("--resume", metavar="RUN", help="continue the run in folder RUN")
    parser.add_argument("--device", choices=("cpu", "cuda"), help="where to train")
    parser.add_argument(
        "--nproc", type=int, default=1, help="data-parallel processes (at most the cores)"
    )
    parser.add_argument("--force", action="store_true", help="allow --nproc above the cores")
    parser.add_argument("--threads", type=int, help="torch threads per process (default 1)")
    parser.add_argument(
        "--tensorboard",
        action="store_true",
        help="also write the logged scalars to RUN/tensorboard/ (pip install "
        "'odedsl[tensorboard]'; a resumed run keeps the setting)",
    )


def _add_eval(commands: argparse._SubParsersAction) -> None:
    parser = _command(
        commands,
        "eval",
        run_eval,
        help="held-out metrics of a trained run",
        description="Evaluate a run's model on the test split: nll (flows, nats), kl (density "
        "matching), test_error (classifiers), rmse (regressions, trajectory and latent models), "
        "with the solver's "
        "evaluations, the seconds taken, and which split and checkpoint they come from.",
        examples=(
            "odedsl eval runs/cnf_moons --json",
            "odedsl eval runs/cnf_moons --set eval_rtol=1e-7 --set eval_atol=1e-7",
            "odedsl eval runs/latent_spirals --set refine=0",
        ),
    )
    _add_run_folder(parser)
    parser.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="evaluate with another evaluation setting: eval_<solver option> (--set "
        "eval_rtol=1e-7) or, for latent models, refine (repeatable)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument(
        "--which",
        choices=("best", "latest"),
        default="best",
        help="best.pt (the best validation score; the last checkpoint when there is none) or "
        "the last checkpoint",
    )
    parser.add_argument("--threads", type=int, help="torch threads (default 1)")


def _add_sample(commands: argparse._SubParsersAction) -> None:
    parser = _command(
        commands,
        "sample",
        run_sample,
        help="draw samples from a trained flow or trajectory model",
        description="Draw N samples from a trained flow, or N draws of a trajectory model's "
        "observations at 100 times from t0 to the test data's last time, and save them as a "
        ".npy file.",
        examples=("odedsl sample runs/cnf_moons -n 1000 -o samples.npy",),
    )
    _add_run_folder(parser)
    parser.add_argument("-n", type=int, required=True, help="how many samples")
    parser.add_argument("-o", "--output", required=True, metavar="FILE.npy")
    parser.add_argument("--seed", type=int, default=0)


def _add_plot(commands: argparse._SubParsersAction) -> None:
    parser = _command(
        commands,
        "plot",
        run_plot,
        help="draw a run's pictures",
        description="Draw the run's training curves and its model's pictures into the run "
        "folder (for 2-D flows: samples beside data, the density, the flow over time).",
        examples=("odedsl plot runs/cnf_moons",),
    )
    _add_run_folder(parser)


def _add_show(commands: argparse._SubParsersAction) -> None:
    parser = _command(
        commands,
        "show",
        run_show,
        help="show the compiled model, or its generated torch code",
        description="Compile SPEC and print its summary and modules, or with --code the "
        "torch code generated from it (dynamics, traces, likelihoods).",
        examples=("odedsl show specs/cnf_moons.ode --code",),
    )
    parser.add_argument("spec", metavar="SPEC")
    parser.add_argument("--code", action="store_true", help="print the generated code")
    _add_settings(parser)


RUN_COMMANDS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    _add_train,
    _add_eval,
    _add_sample,
    _add_plot,
    _add_show,
)
