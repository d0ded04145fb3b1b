"""What the checks of one spec share: the source, the reporter, the names defined so far."""

from __future__ import annotations

from dataclasses import dataclass

from odedsl.lang.constants import Constants
from odedsl.lang.diagnostics import Reporter
from odedsl.lang.model import TimeDomain
from odedsl.lang.networks import Networks
from odedsl.lang.source import Source
from odedsl.lang.symbols import Symbols


@dataclass
class Env:
    source: Source
    reporter: Reporter
    symbols: Symbols
    constants: Constants
    networks: Networks
    domain: TimeDomain | None = None

    @classmethod
    def create(cls, source: Source, reporter: Reporter) -> Env:
        symbols = Symbols(reporter)
        constants = Constants(reporter, symbols.describe)
        return cls(source, reporter, symbols, constants, Networks(reporter))
