"""Signals: a launcher passes SIGINT/SIGTERM on to its workers once each, and restores itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from odedsl.training.signals import StopRequest, forwarding_signals

COUNTING_CHILD = """
import signal, sys, time
got = []
signal.signal(signal.SIGINT, lambda signum, frame: got.append(signum))
signal.signal(signal.SIGTERM, lambda signum, frame: got.append(signum))
print("ready", flush=True)
deadline = time.monotonic() + 20
while not got and time.monotonic() < deadline:
    time.sleep(0.01)
time.sleep(0.3)  # a duplicate would arrive meanwhile
print(*got, flush=True)
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_forwarded_signal_reaches_every_worker_once(signum):
    children = [
        subprocess.Popen([sys.executable, "-c", COUNTING_CHILD], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    for child in children:
        assert child.stdout.readline() == "ready\n"
    before = signal.getsignal(signum)
    with forwarding_signals([child.pid for child in children]):
        os.kill(os.getpid(), signum)  # this process survives: the handler passes it on
    assert signal.getsignal(signum) is before
    for child in children:
        out, _ = child.communicate(timeout=30)
        assert out.split() == [str(int(signum))]


def test_stop_request_records_the_first_signal_and_a_second_sigint_aborts():
    before = signal.getsignal(signal.SIGINT)
    with StopRequest() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.signal_name == "SIGTERM"
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before
