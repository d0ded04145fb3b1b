"""`odedsl check` and the command line: summaries, diagnostics, exit codes, bad files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from odedsl import __version__
from odedsl.cli import main

ROOT = Path(__file__).parents[2]
SPECS = sorted((ROOT / "specs").glob("*.ode"))
BAD = ROOT / "tests" / "lang" / "golden" / "E030_unknown_name.ode"
WARNED = ROOT / "tests" / "lang" / "golden" / "W001_unused_parameter.ode"


def test_check_summarises_every_valid_spec(capsys) -> None:
    assert main(["check", *map(str, SPECS)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    for spec in SPECS:
        assert f"{spec}: " in out
    for line in ("parameters  2,496", "trace", ":symbolic, because", "(flow_ml)", "(latent)"):
        assert line in out
    assert "parameters  20,042 (down 384, f 19,264, head 394)" in out


def test_check_prints_diagnostics_to_stderr_and_exits_1(capsys) -> None:
    assert main(["check", str(SPECS[0]), str(BAD)]) == 1
    out, err = capsys.readouterr()
    assert f"{SPECS[0]}: " in out and str(BAD) not in out
    assert f"{BAD}:16:21: error[E030]: unknown name `gat`" in err
    assert "^^^" in err and "= help: did you mean `gate`?" in err


def test_warnings_go_to_stderr_and_do_not_fail(capsys) -> None:
    assert main(["check", str(WARNED)]) == 0
    out, err = capsys.readouterr()
    assert "warning[W001]: parameter `w` is never used" in err
    assert f"{WARNED}: G (flow_density)" in out


@pytest.mark.parametrize("argv", [["--version"], ["check", "--help"], ["--help"]])
def test_version_and_help_exit_0(argv, capsys) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 0
    if argv == ["--version"]:
        assert capsys.readouterr().out.strip() == f"odedsl {__version__}"


@pytest.mark.parametrize("argv", [[], ["check"], ["frobnicate"], ["check", "--bogus", "x.ode"]])
def test_usage_errors_exit_2(argv, capsys) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    assert "usage: odedsl" in capsys.readouterr().err


def _write(path: Path, content: bytes | None) -> Path:
    if content is not None:
        path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    ("name", "content", "code", "message"),
    [
        ("missing.ode", None, "E001", "no such file"),
        ("binary.ode", bytes(range(256)) * 40, "E002", "binary file"),
        ("latin1.ode", "model Modèle\n".encode("latin-1"), "E003", "not UTF-8"),
        ("huge.ode", b"# padding\n" * (1 << 20), "E004", "too large"),
        ("empty.ode", b"", "E005", "empty"),
        ("blank.ode", b"\n  \n# only a comment\n", "E005", "empty"),
    ],
)
def test_unusable_files_give_one_clear_line(tmp_path, capsys, name, content, code, message):
    path = _write(tmp_path / name, content)
    assert main(["check", str(path)]) == 1
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert out == "" and len(lines) == 1
    assert lines[0].startswith(str(path)) and f"error[{code}]" in lines[0] and message in lines[0]
    assert "Traceback" not in err


def test_not_utf8_error_points_at_the_byte(tmp_path, capsys) -> None:
    path = _write(tmp_path / "latin1.ode", b"model M\n  x = \xe9\n")
    assert main(["check", str(path)]) == 1
    assert f"{path}:2:7: error[E003]" in capsys.readouterr().err


def test_a_directory_is_not_a_spec(tmp_path, capsys) -> None:
    assert main(["check", str(tmp_path)]) == 1
    assert "error[E001]: cannot read the spec: it is a directory" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_special_files_are_refused_by_type_before_opening(tmp_path, capsys, kind) -> None:
    # A FIFO blocked `odedsl check` until a writer came; /dev/zero was read for ever.
    if kind == "fifo":
        path, words = tmp_path / "spec.ode", "a FIFO (named pipe)"
        os.mkfifo(path)
    else:
        path, words = Path("/dev/zero"), "a character device"
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path}: error[E001]: cannot read the spec: it is {words}, not a file" in err


def test_a_closed_output_pipe_stops_quietly() -> None:
    # `odedsl check spec | head -0`: the reader is gone before odedsl writes; like Unix tools,
    # odedsl stops without a message or traceback and exits 141 (128 + SIGPIPE).
    read, write = os.pipe()
    os.close(read)
    with os.fdopen(write, "wb") as closed:
        result = subprocess.run(
            [sys.executable, "-m", "odedsl", "check", str(SPECS[0])],
            stdout=closed,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    assert (result.returncode, result.stderr) == (141, "")


def test_python_dash_m_runs_check_without_importing_torch() -> None:
    code = (
        "import sys; from odedsl.cli import main; rc = main(['check', sys.argv[1]]); "
        "assert 'torch' not in sys.modules and 'numpy' not in sys.modules, 'heavy import'; "
        "sys.exit(rc)"
    )
    quick = subprocess.run(
        [sys.executable, "-c", code, str(SPECS[0])], capture_output=True, text=True, timeout=60
    )
    assert quick.returncode == 0, quick.stderr
    module = subprocess.run(
        [sys.executable, "-m", "odedsl", "check", str(BAD)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert module.returncode == 1 and "error[E030]" in module.stderr
    assert "Traceback" not in module.stderr
