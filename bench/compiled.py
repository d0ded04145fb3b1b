"""Eager against compiled (``solver compile = true``) solves of the reference specs.

``python bench/compiled.py``: per spec, the median time of a training step (``loss``, its
backward pass and the optimizer's step) and of an evaluation (``evaluate`` on one batch),
eagerly and compiled, timed in turn within each repeat on one thread, with the seconds the
compiled model spent compiling (first training step and first evaluation, with a fresh
inductor cache, as on a new machine). Writes the table into ``docs/benchmarks.md``.

``python bench/compiled.py --main-job``: the main job, ``odedsl train specs/cnf_moons.ode``,
run eagerly and with ``--set compile=true`` at the same time (two processes of one thread
each, so that the load of the machine hits both alike), each with a fresh inductor cache;
reports their wall times, compile seconds and test NLL.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # a fresh inductor cache, as on a new machine (before torch loads)
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", tempfile.mkdtemp(prefix="inductor-"))
    os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))

from _common import interleaved_medians, markdown_table

from odedsl.compiler import build_data, compile, train_config
from odedsl.solvers import compiling
from odedsl.solvers.compiling import compile_seconds
from odedsl.training.optimizers import build_optimizer

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"
SECTION = "## Compiled solves"
MAIN_JOB = "### The main job"
PER_STEP = "### Per training step and evaluation"
WARM_JOB = "### Warm cache: the main job again"


def one_thread_environment(cache: str) -> dict[str, str]:
    """The environment of a timed child process: one thread, its own inductor cache."""
    return {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "TORCHINDUCTOR_CACHE_DIR": cache,
        "PYTHONPATH": str(ROOT),
    }


def main_job(steps: int | None, cache: str | None) -> str:
    """Run the main job eagerly and compiled side by side; its markdown section. ``cache``:
    the compiled run's inductor cache (warm when it holds the graphs already), else fresh."""
    runs = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name, extra in (("eager", []), ("compiled", ["--set", "compile=true"])):
            out = Path(scratch) / name
            command = [sys.executable, "-m", "odedsl", "train", "specs/cnf_moons.ode"]
            command += ["--out", str(out), *extra]
            if steps is not None:
                command += ["--steps", str(steps)]
            fresh = str(Path(scratch) / f"cache-{name}")
            env = one_thread_environment(cache if cache and name == "compiled" else fresh)
            log = open(Path(scratch) / f"{name}.log", "w")  # noqa: SIM115 (closed below)
            runs[name] = (
                subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log),
                time.perf_counter(),
                out,
                log,
            )
        ends: dict[str, float] = {}
        while len(ends) < len(runs):  # each run's own end, whichever ends first
            for name, (process, *_) in runs.items():
                if name not in ends and process.poll() is not None:
                    ends[name] = time.perf_counter()
            time.sleep(0.5)
        rows = {}
        for name, (process, start, out, log) in runs.items():
            status = process.returncode
            wall = ends[name] - start
            log.close()
            if status != 0:
                raise SystemExit(f"{name} run failed:\n{Path(log.name).read_text()[-3000:]}")
            summary = json.loads((out / "summary.json").read_text())
            evaluation = json.loads((out / "eval.json").read_text())
            rows[name] = dict(
                wall=wall,
                train=summary["seconds"],
                compile=summary.get("compile_seconds", 0.0)
                + evaluation.get("compile_seconds", 0.0),
                nll=evaluation["nll"],
            )
    load = os.getloadavg()[0]
    lines = [
        WARM_JOB if cache else MAIN_JOB,
        "",
        f"Command: `python bench/compiled.py --main-job{' --cache DIR' if cache else ''}` "
        f"({steps or 'all'} steps; the two runs "
        f"at once, one thread each, {'a warm' if cache else 'a fresh'} inductor cache; 1-minute "
        "load average at the end "
        f"{load:.1f} on 2 cores).",
        "",
        "| run | wall s | training s | compile s | test NLL |",
        "|---|---|---|---|---|",
    ]
    for name, row in rows.items():
        lines.append(
            f"| {name} | {row['wall']:.0f} | {row['train']:.0f} | {row['compile']:.0f} | "
            f"{row['nll']:.4f} |"
        )
    ratio = rows["eager"]["wall"] / rows["compiled"]["wall"]
    lines += ["", f"Wall time eager / compiled: {ratio:.2f}×.", ""]
    return "\n".join(lines)


SPECS = ("cnf_moons", "latent_spirals", "odenet_digits", "sysid_oscillator")


def first_batch(source: Any) -> Any:
    """One training batch of a data source of ``odedsl.training``."""
    if hasattr(source, "sampler"):  # streaming (2-D densities): a fresh draw
        return source.batch(0, torch.Generator().manual_seed(0))
    return next(iter(source))


def held_out(spec: Any, size: int) -> Any:
    """One evaluation's worth of the validation split: a batch of ``size`` samples for flows
    and classifiers, the whole split for series."""
    data = build_data(spec, "validation")
    if not isinstance(data, dict):
        return next(iter(data))
    if set(data) == {"x"}:
        return {"x": data["x"][:size]}
    return data


def training_step(model: nn.Module, batch: Any, optimizer: torch.optim.Optimizer):
    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        model.loss(batch).loss.backward()
        optimizer.step()

    return step


def per_step(repeats: int, specs: tuple[str, ...] = SPECS) -> str:
    """The per-spec table (see the module docstring)."""
    compiling.HOT_CALLS = 0  # compile in the first calls, so that their seconds are counted
    rows = []
    for name in specs:
        path = ROOT / "specs" / f"{name}.ode"
        models = {"eager": compile(path), "compiled": compile(path, compile=True)}
        models["compiled"].load_state_dict(models["eager"].state_dict())
        spec = models["eager"].spec
        batch = first_batch(build_data(spec, "train"))
        evaluation = held_out(spec, spec.train.batch)
        config = train_config(spec).optimizer
        runs, compile_cost = {}, {}
        for mode, model in models.items():
            optimizer = build_optimizer(model.parameters(), config)
            train, test = (
                training_step(model, batch, optimizer),
                functools.partial(model.evaluate, evaluation),
            )
            if mode == "compiled":  # the calls that compile: the first two of each
                for what, run in (("train", train), ("eval", test)):
                    before = compile_seconds()
                    run()
                    run()
                    compile_cost[what] = compile_seconds() - before
            runs[f"{mode} train"], runs[f"{mode} eval"] = train, test
        medians = interleaved_medians(runs, repeats)
        method = f"{spec.solver.method} :{spec.solver.gradient}"
        for what, solver in (("train", method), ("eval", spec.eval_solver.method)):
            eager, compiled = medians[f"eager {what}"], medians[f"compiled {what}"]
            rows.append(
                (
                    name,
                    what,
                    solver,
                    eager * 1e3,
                    compiled * 1e3,
                    eager / compiled,
                    compile_cost[what],
                )
            )
        print(rows[-2], rows[-1], flush=True)
    load = os.getloadavg()[0]
    table = markdown_table(
        ("spec", "step", "solver", "eager ms", "compiled ms", "eager / compiled", "compile s"),
        rows,
    )
    return (
        f"{PER_STEP}\n\n"
        f"Command: `python bench/compiled.py` (torch {torch.__version__}, CPU, 1 thread, float32; "
        f"median of {repeats} interleaved repeats; compile seconds of the first two calls, "
        f"fresh inductor cache; 1-minute load average at the end {load:.1f} on the shared "
        '2-core machine). "train" is `loss`, its backward pass and the optimizer\'s step on '
        'one training batch; "eval" is `evaluate` on one batch of the validation split (the '
        "whole split for series).\n\n"
        f"{table}\n"
    )


def write_section(name: str, text: str) -> None:
    """Replace subsection ``name`` of the ``SECTION`` of ``docs/benchmarks.md`` by ``text``
    (adding the section or subsection when missing)."""
    doc = DOCS.read_text()
    if SECTION not in doc:
        doc = doc.rstrip("\n") + f"\n\n{SECTION}\n\n"
    head, rest = doc.split(SECTION, 1)
    end = rest.find("\n## ")
    body, tail = (rest, "") if end < 0 else (rest[: end + 1], rest[end + 1 :])
    if name in body:
        before, after = body.split(name, 1)
        stop = after.find("\n### ")
        after = "" if stop < 0 else after[stop + 1 :]
        body = before + text + ("\n" + after if after else "")
    else:
        body = body.rstrip("\n") + "\n\n" + text
    DOCS.write_text(head + SECTION + body.rstrip("\n") + "\n" + ("\n" + tail if tail else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--main-job", action="store_true", help="time odedsl train cnf_moons")
    parser.add_argument("--steps", type=int, default=None, help="training steps (main job)")
    parser.add_argument("--specs", nargs="+", default=list(SPECS), help="reference specs")
    parser.add_argument("--cache", help="the compiled main job's inductor cache folder")
    parser.add_argument("--repeats", type=int, default=15, help="timed repeats (per step)")
    args = parser.parse_args()
    if args.main_job:
        text = main_job(args.steps, args.cache)
        print(text)
        write_section(WARM_JOB if args.cache else MAIN_JOB, text)
        return
    text = per_step(args.repeats, tuple(args.specs))
    print(text)
    write_section(PER_STEP, text)


if __name__ == "__main__":
    main()
