"""torchdiffeq's own examples run with torchdiffeq and with odedsl: time and final loss.

Each example is copied from torchdiffeq's ``examples/`` folder (given as the argument; it is
torchdiffeq's, never part of this repository) into a scratch folder twice: once unchanged,
once with ``from torchdiffeq import`` rewritten to ``from odedsl import``, the one-line
change the README promises. Both copies run as child processes on one thread with the same
seeds (torch, numpy, random: 0) and the same reduced iteration counts, interleaved
(torchdiffeq, odedsl, torchdiffeq, odedsl, ...); the table gives the median wall time of the
example's own run (imports excluded) and its loss as it prints it, first and last.

    PYTHONPATH=$PWD python bench/torchdiffeq_examples.py /work/tdq/examples \\
        [--torchdiffeq-path /work/tdq] [--repeats 1] [--only ode_demo,latent_ode] [--json F]

``--torchdiffeq-path`` puts a torchdiffeq checkout first on the torchdiffeq children's path
(default: the installed torchdiffeq).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FILES = ("ode_demo.py", "latent_ode.py", "bouncing_ball.py", "learn_physics.py")
MARK = "__EXAMPLE_SECONDS__"


@dataclass(frozen=True)
class Example:
    """One run of an example: its file, arguments, and how to read its final figure."""

    name: str
    file: str
    argv: tuple[str, ...]
    metric: str
    pattern: str  # regex whose group 1 is the figure (first and last match shown)


EXAMPLES = (
    Example(
        "ode_demo",
        "ode_demo.py",
        ("--niters", "200", "--test_freq", "50"),
        "total loss, iter 50 → 200",
        r"Total Loss ([-+0-9.eE]+)",
    ),
    Example(
        "ode_demo --adjoint",
        "ode_demo.py",
        ("--niters", "200", "--test_freq", "50", "--adjoint"),
        "total loss, iter 50 → 200",
        r"Total Loss ([-+0-9.eE]+)",
    ),
    Example(
        "latent_ode",
        "latent_ode.py",
        ("--niters", "30"),
        "running avg ELBO, iter 1 → 30",
        r"running avg elbo: ([-+0-9.eE]+)",
    ),
    Example(
        "latent_ode --adjoint",
        "latent_ode.py",
        ("--niters", "30", "--adjoint", "True"),
        "running avg ELBO, iter 1 → 30",
        r"running avg elbo: ([-+0-9.eE]+)",
    ),
    Example(
        "bouncing_ball",
        "bouncing_ball.py",
        ("4",),
        "gradient check (4 bounces)",
        r"(Gradient check passed)",
    ),
    Example(
        "learn_physics",
        "learn_physics.py",
        ("--num_iterations", "11", "--save", "figs"),
        "loss, iter 0 → 10",
        r"^\d+ ([-+0-9.eE]+) \d+$",
    ),
)

CHILD = f"""
import random, runpy, sys, time
import numpy, torch
torch.set_num_threads(1)
random.seed(0); numpy.random.seed(0); torch.manual_seed(0)
path, argv = sys.argv[1], sys.argv[2:]
sys.argv = [path, *argv]
sys.path.insert(0, __import__("os").path.dirname(path))
start = time.perf_counter()
runpy.run_path(path, run_name="__main__")
print("{MARK}", time.perf_counter() - start)
"""


def prepare(examples_dir: Path, scratch: Path) -> dict[str, Path]:
    """Copies of the examples for each library: unchanged, and with the import rewritten."""
    folders = {}
    for library in ("torchdiffeq", "odedsl"):
        folder = scratch / library
        folder.mkdir()
        for name in FILES:
            text = (examples_dir / name).read_text()
            if library == "odedsl":
                text = text.replace("from torchdiffeq import", "from odedsl import")
            (folder / name).write_text(text)
        folders[library] = folder
    return folders


def run_child(library: str, folder: Path, example: Example, tdq_path: str | None) -> dict:
    """Run one example in its folder; return seconds and the final figure (or the error)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLBACKEND="Agg")
    paths = [str(REPO)] if library == "odedsl" else ([tdq_path] if tdq_path else [])
    env["PYTHONPATH"] = os.pathsep.join([*paths, env.get("PYTHONPATH", "")]).strip(os.pathsep)
    command = [sys.executable, "-c", CHILD, str(folder / example.file), *example.argv]
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
    out = done.stdout
    seconds = re.findall(rf"{MARK} ([0-9.]+)", out)
    matches = re.findall(example.pattern, out, flags=re.MULTILINE)
    if done.returncode != 0 or not seconds:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"error": last[:200]}
    figure = (
        None
        if not matches
        else matches[0]
        if len(matches) == 1
        else " → ".join((matches[0], matches[-1]))
    )
    return {"seconds": float(seconds[-1]), "figure": figure}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("examples_dir", type=Path, help="torchdiffeq's examples/ folder")
    parser.add_argument("--torchdiffeq-path", help="a torchdiffeq checkout to use instead")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--only", help="comma-separated example names")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    missing = [f for f in FILES if not (args.examples_dir / f).is_file()]
    if missing:
        parser.error(f"{args.examples_dir} lacks {', '.join(missing)}")
    chosen = [e for e in EXAMPLES if not args.only or e.name in args.only.split(",")]

    results: dict[str, dict[str, list[dict]]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        folders = prepare(args.examples_dir, Path(scratch))
        for example in chosen:
            results[example.name] = {"torchdiffeq": [], "odedsl": []}
            for _ in range(args.repeats):
                for library in ("torchdiffeq", "odedsl"):
                    run = run_child(library, folders[library], example, args.torchdiffeq_path)
                    results[example.name][library].append(run)
                    print(f"{example.name:22s} {library:11s} {run}", file=sys.stderr, flush=True)

    print(
        "| example | figure | torchdiffeq | odedsl | time torchdiffeq (s) | time odedsl (s) "
        "| odedsl / torchdiffeq |"
    )
    print("|---|---|---|---|---|---|---|")
    for example in chosen:
        cells = {}
        for library, runs in results[example.name].items():
            good = [r for r in runs if "error" not in r]
            cells[library] = (
                (statistics.median(r["seconds"] for r in good), good[-1]["figure"])
                if good
                else (None, f"fails: {runs[-1]['error']}")
            )
        (t_tdq, f_tdq), (t_ours, f_ours) = cells["torchdiffeq"], cells["odedsl"]
        ratio = f"{t_ours / t_tdq:.2f}" if t_tdq and t_ours else "–"
        print(
            f"| {example.name} | {example.metric} | {f_tdq} | {f_ours} | "
            f"{'–' if t_tdq is None else f'{t_tdq:.1f}'} | "
            f"{'–' if t_ours is None else f'{t_ours:.1f}'} | {ratio} |"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
