"""``odedsl predict``: forecasts of a trained latent or trajectory model on new series
(:mod:`odedsl.forecast`), written to CSV or NPZ."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from odedsl.cli_runs import UsageError, _add_run_folder, _command, _threads

if TYPE_CHECKING:
    import numpy as np


def parse_times(text: str) -> np.ndarray:
    """``--times``: a file of times (``.npy``, or text with numbers separated by commas or
    white space), ``START:STOP:COUNT`` (COUNT evenly spaced times, both ends included) or a
    comma-separated list ``0.5,1,2``."""
    import numpy as np

    path = Path(text)
    if path.is_file():
        try:
            if path.suffix == ".npy":
                return np.load(path, allow_pickle=False).astype(np.float64).reshape(-1)
            return np.array(path.read_text(encoding="utf-8").replace(",", " ").split(), float)
        except (OSError, ValueError) as error:
            raise UsageError(f"--times {text}: unreadable file of times ({error})") from None
    try:
        if ":" in text:
            start, stop, count = text.split(":")
            if not count.strip().isdigit() or int(count) < 1:
                raise ValueError(f"COUNT {count!r} is not a positive whole number")
            return np.linspace(float(start), float(stop), int(count))
        return np.array([float(item) for item in text.split(",")], dtype=np.float64)
    except ValueError as error:
        raise UsageError(
            f"--times {text!r}: not a file, START:STOP:COUNT or a list 0.5,1,2 ({error})"
        ) from None


def run_predict(args: argparse.Namespace) -> int:
    from odedsl.forecast import forecast, write_forecast

    _threads(args)
    out = Path(args.output)
    if out.suffix.lower() not in (".csv", ".npz"):
        raise UsageError(f"-o {args.output}: the output is a .csv or an .npz file")
    result = forecast(args.run_dir, parse_times(args.times), args.input)
    write_forecast(result, out)
    spread = "mean and std" if result.std is not None else "mean"
    print(
        f"wrote forecasts ({spread}) of {len(result.series)} series at {len(result.times)} "
        f"times to {out}",
        file=sys.stdout,
    )
    return 0


def _add_predict(commands: argparse._SubParsersAction) -> None:
    parser = _command(
        commands,
        "predict",
        run_predict,
        help="forecast new series with a trained latent or trajectory model",
        description="Read the observed series of FILE (a CSV or NPZ in the form of the spec's "
        "data: the same time, series and value columns or arrays), forecast each at the "
        "given times from the run's best model, and write the mean (and the observation's "
        "standard deviation, where the model has one) to a .csv or .npz file. A trajectory "
        "model that starts from a learned state forecasts one curve and takes no --input.",
        examples=(
            "odedsl predict runs/latent_oscillations --input new.csv --times 0:20:201 "
            "-o forecast.csv",
            "odedsl predict runs/sysid_oscillator --times 0,1,2.5 -o forecast.npz",
        ),
    )
    _add_run_folder(parser)
    parser.add_argument("--input", metavar="FILE", help="the observed series (.csv or .npz)")
    parser.add_argument(
        "--times",
        required=True,
        help="the times to forecast at: START:STOP:COUNT, a list 0.5,1,2, or a file of times",
    )
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="OUT.csv or OUT.npz")
    parser.add_argument("--threads", type=int, help="torch threads (default 1)")


PREDICT_COMMANDS = (_add_predict,)
