"""The sections of a model: known names, each at most once, blocks and loops only where they
belong. Each section's statements are checked by the module that owns the section."""

from __future__ import annotations

from dataclasses import dataclass, field

from odedsl.lang import nodes
from odedsl.lang.builtins import SECTIONS
from odedsl.lang.diagnostics import Note, Reporter, did_you_mean

NESTED_BLOCKS: dict[str, tuple[str, ...]] = {"solver": ("eval",)}
"""Blocks allowed inside a section."""
LOOP_SECTIONS = ("likelihood",)
"""Sections that may hold ``for t in ts ... end``."""


@dataclass
class Sections:
    """The sections of a model by name."""

    blocks: dict[str, nodes.Block] = field(default_factory=dict)

    def __contains__(self, name: str) -> bool:
        return name in self.blocks

    def body(self, name: str) -> tuple[nodes.Item, ...]:
        block = self.blocks.get(name)
        return block.body if block else ()

    def statements(self, name: str) -> list[nodes.Statement]:
        """The statements of a section, nested blocks and loops left out."""
        return [s for s in self.body(name) if isinstance(s, nodes.Statement)]


def collect_sections(model: nodes.Model, reporter: Reporter) -> Sections:
    sections = Sections()
    for item in model.body:
        if isinstance(item, nodes.Block):
            _section(item, sections, reporter)
        elif isinstance(item, nodes.Loop):
            reporter.error(
                "E022",
                "a `for` loop must be inside `likelihood`",
                item.loc.to(item.iterable.loc),
            )
        else:
            reporter.error(
                "E022",
                "statements belong inside a section",
                item.loc,
                help="put it in a section, e.g. `constants ... end` or `dynamics ... end`",
            )
    return sections


def _section(block: nodes.Block, sections: Sections, reporter: Reporter) -> None:
    if block.name not in SECTIONS:
        reporter.error(
            "E020",
            f"unknown section `{block.name}`",
            block.name_loc,
            help=did_you_mean(block.name, SECTIONS) or "sections are " + ", ".join(SECTIONS),
        )
        return
    first = sections.blocks.get(block.name)
    if first is not None:
        reporter.error(
            "E021",
            f"section `{block.name}` appears twice",
            block.name_loc,
            help="merge the two into one",
            notes=[Note("first here", first.name_loc)],
        )
        return
    sections.blocks[block.name] = block
    for item in block.body:
        _nested(item, block, sections, reporter)


def _nested(item: nodes.Item, section: nodes.Block, sections: Sections, reporter: Reporter) -> None:
    if isinstance(item, nodes.Block):
        allowed = NESTED_BLOCKS.get(section.name, ())
        if item.name in SECTIONS:
            reporter.error(
                "E022",
                f"section `{item.name}` is inside section `{section.name}`",
                item.name_loc,
                help=f"is the `end` of `{section.name}` missing before it?",
                notes=[Note(f"`{section.name}` opens here", section.name_loc)],
            )
            _section(item, sections, reporter)  # checked as if in place, to find more errors
        elif item.name not in allowed:
            hint = did_you_mean(item.name, allowed)
            reporter.error(
                "E022",
                f"a block `{item.name}` cannot be inside `{section.name}`",
                item.name_loc,
                help=hint
                or (
                    f"`{section.name}` holds statements only"
                    if not allowed
                    else f"`{section.name}` may hold " + ", ".join(f"`{a}`" for a in allowed)
                ),
            )
        else:
            for inner in item.body:
                if not isinstance(inner, nodes.Statement):
                    _refuse_nesting(inner, item.name, reporter)
    elif isinstance(item, nodes.Loop):
        if section.name not in LOOP_SECTIONS:
            reporter.error(
                "E022",
                f"a `for` loop cannot be inside `{section.name}`",
                item.loc.to(item.iterable.loc),
                help="loops over observation times belong in `likelihood`",
            )
            return
        for inner in item.body:
            if not isinstance(inner, nodes.Statement):
                _refuse_nesting(inner, "for", reporter)


def _refuse_nesting(item: nodes.Block | nodes.Loop, outer: str, reporter: Reporter) -> None:
    what = f"block `{item.name}`" if isinstance(item, nodes.Block) else "`for` loop"
    at = item.name_loc if isinstance(item, nodes.Block) else item.loc.to(item.iterable.loc)
    reporter.error("E022", f"a {what} cannot be inside `{outer}`", at)
