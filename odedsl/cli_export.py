"""``odedsl export RUN --format pt2|torchscript|onnx -o FILE``: a run's trained model as an
artefact that loads without odedsl (:mod:`odedsl.export`)."""

from __future__ import annotations

import argparse
import json

from odedsl.cli_runs import _add_run_folder, _add_settings, _command, _settings, _threads


def add_export(commands: argparse._SubParsersAction) -> None:
    from odedsl.export import DEFAULT_POINTS, DEFAULT_STEPS, FORMATS

    parser = _command(
        commands,
        "export",
        run_export,
        help="write a run's model as a self-contained artefact",
        description="Write the trained model of RUN to FILE as an artefact that loads with "
        "torch alone (onnxruntime for onnx): a flow's log_prob and sample, a supervised "
        "model's forward (logits or mean), a trajectory or latent model's predict. Every "
        "solve is a fixed grid of --steps steps of --method; the artefact's odedsl.json says "
        "what it computes and which odedsl settings give the same numbers.",
        examples=(
            "odedsl export runs/cnf_moons --format pt2 -o moons.pt2",
            "odedsl export runs/latent_spirals --format torchscript -o spirals.pt --steps 64",
        ),
    )
    _add_run_folder(parser)
    parser.add_argument("--format", choices=FORMATS, default="pt2", help="default: pt2")
    parser.add_argument("-o", "--out", required=True, metavar="FILE", help="the artefact")
    parser.add_argument(
        "--method",
        help="the fixed-step method (euler, midpoint, heun, rk4); default: the evaluation "
        "solver's when fixed-step, else the training solver's, else rk4",
    )
    parser.add_argument(
        "--steps",
        type=int,
        help="steps of each solve; default: the solve's span over the spec's step_size, "
        f"else {DEFAULT_STEPS}",
    )
    parser.add_argument(
        "--points",
        type=int,
        default=DEFAULT_POINTS,
        help="points of an input series when the spec leaves its length free "
        f"(default {DEFAULT_POINTS}; pad shorter series with NaN)",
    )
    parser.add_argument(
        "--which", choices=("best", "latest"), default="best", help="the checkpoint (best.pt)"
    )
    _add_settings(parser)  # evaluation settings only, as for `odedsl eval` (eval_trace=...)


def run_export(args: argparse.Namespace) -> int:
    from odedsl import workflow
    from odedsl.export.artefacts import export_model

    _threads(args)
    description = export_model(
        workflow.load(args.run_dir, args.which, _settings(args.set)),
        args.out,
        args.format,
        method=args.method,
        steps=args.steps,
        points=args.points,
    )
    solve = description["solve"]
    print(f"wrote {args.out} ({args.format}): {', '.join(description['methods'])}; {solve['grid']}")
    print(f"equals odedsl with {json.dumps(description['same_as'])}")
    return 0
