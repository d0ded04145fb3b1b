"""Networks: layer constructors resolved to sizes, shapes pushed through layers at each call,
and parameters counted as the PyTorch layers hold them.

Counting (``count_parameters``): Linear(in, out) ``in*out + out``; Conv2d(in, out, k)
``in*out*k*k + out`` (ConcatConv has ``in + 1`` input channels); GroupNorm over C channels
``2*C``; RNN(in => h => out) = Linear(in + h -> h) + Linear(h -> out); GRU = GRUCell(in, h)
``3*h*(in + h + 2)`` + Linear(h -> out); ODERNN = GRU plus its hidden dynamics
MLP(h => h => h) ``2*(h*h + h)``; PlanarFlow(D, depth = K) ``(2*D + 1)*K`` (w, u in R^D
and b per layer).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from odedsl.lang import nodes
from odedsl.lang.arguments import INVALID, argument_value, bind_arguments
from odedsl.lang.builtins import ACTIVATIONS, FLOW_LAYERS, LAYERS, SEQUENCE_LAYERS
from odedsl.lang.constants import Constants
from odedsl.lang.diagnostics import Note, Reporter, did_you_mean
from odedsl.lang.model import Layer, Network, Shape
from odedsl.lang.shapes import numel, show
from odedsl.lang.source import Span

_SIZE_NAMES = {
    "Dense": ("in", "out"),
    "Conv": ("in", "out"),
    "ConcatConv": ("in", "out"),
    "RNN": ("in", "hidden", "out"),
    "GRU": ("in", "hidden", "out"),
    "ODERNN": ("in", "hidden", "out"),
}
_KEEPS_SHAPE = frozenset({"Activation", "GroupNorm"})


@dataclass
class LayerSpec:
    """A layer as written, its sizes folded: ``args`` as documented on :class:`Layer`."""

    kind: str
    args: dict[str, object]
    loc: Span
    children: list[LayerSpec] = field(default_factory=list)

    def walk(self) -> list[LayerSpec]:
        return [self, *(layer for child in self.children for layer in child.walk())]


def describe(layer: LayerSpec | Layer) -> str:
    """A layer in the spec's own notation, with its sizes resolved: ``MLP(1 => 32 => 64)``."""
    a = layer.args
    if layer.kind == "Activation":
        return str(a["fn"])
    if layer.kind == "MLP":
        return "MLP(" + " => ".join(map(str, a["sizes"])) + ")"  # type: ignore[call-overload]
    if layer.kind in _SIZE_NAMES:
        sizes = " => ".join(str(a[n]) for n in _SIZE_NAMES[layer.kind])
        extra = f", {a['kernel']}" if "kernel" in a else ""
        extra += "".join(
            f", {key} = {a[key]}"
            for key, plain in (("stride", 1), ("pad", 0))
            if a.get(key, plain) != plain
        )
        return f"{layer.kind}({sizes}{extra})"
    if layer.kind == "GroupNorm":
        return f"GroupNorm({a['groups']})"
    if layer.kind in FLOW_LAYERS:
        return f"{layer.kind}({a['dim']}, depth = {a['depth']})"
    if layer.kind == "Chain":
        return "Chain(" + ", ".join(describe(c) for c in layer.children) + ")"
    return f"{layer.kind}()"


class LayerMismatch(Exception):
    """A layer cannot take the shape it is given: ``reason`` and the layer's ``loc``."""

    def __init__(self, reason: str, loc: Span) -> None:
        super().__init__(reason)
        self.reason, self.loc = reason, loc


# -- building layers from the spec -------------------------------------------------------------


def build_layer(expr: nodes.Expr, constants: Constants, reporter: Reporter) -> LayerSpec | None:
    """The layer ``expr`` constructs, or None after reporting why it constructs none."""
    if isinstance(expr, nodes.Name):
        if expr.id in ACTIVATIONS:
            return LayerSpec("Activation", {"fn": expr.id}, expr.loc)
        if expr.id in LAYERS:
            reporter.error(
                "E046",
                f"`{expr.id}` is a layer constructor: call it",
                expr.loc,
                help=f"write `{LAYERS[expr.id].example}`",
            )
            return None
        _unknown_layer(expr.id, expr.loc, reporter)
        return None
    if not (isinstance(expr, nodes.Call) and isinstance(expr.func, nodes.Name)):
        reporter.error(
            "E046",
            "a network is built from layers, such as `MLP(2 => 64 => 2)`",
            expr.loc,
            help="layers: " + ", ".join(LAYERS),
        )
        return None
    name = expr.func.id
    if name == "Chain":
        return _chain(expr, constants, reporter)
    if name in ACTIVATIONS and not expr.args and not expr.keywords:
        return LayerSpec("Activation", {"fn": name}, expr.loc)
    if name not in LAYERS:
        _unknown_layer(name, expr.func.loc, reporter)
        return None
    return _constructor(expr, name, constants, reporter)


def _unknown_layer(name: str, loc: Span, reporter: Reporter) -> None:
    reporter.error(
        "E045",
        f"unknown layer `{name}`",
        loc,
        help=did_you_mean(name, [*LAYERS, *ACTIVATIONS])
        or "layers are " + ", ".join(LAYERS) + "; activations " + ", ".join(ACTIVATIONS),
    )


def _chain(call: nodes.Call, constants: Constants, reporter: Reporter) -> LayerSpec | None:
    if call.keywords:
        reporter.error("E061", "`Chain` takes layers only", call.keywords[0].name_loc)
    if not call.args:
        reporter.error("E044", "`Chain` needs at least one layer", call.loc)
        return None
    children = [build_layer(arg, constants, reporter) for arg in call.args]
    if None in children or call.keywords:
        return None
    for child in children:
        flows = [c for c in child.walk() if c.kind in FLOW_LAYERS]  # type: ignore[union-attr]
        if flows:
            reporter.error(
                "E046",
                f"`{flows[0].kind}` is a whole discrete flow: it stands alone, not in a `Chain`",
                flows[0].loc,
                help=f"define it as its own network, `f = {LAYERS[flows[0].kind].example}`",
            )
            return None
    for position, child in enumerate(children):
        if position > 0 and any(c.kind in SEQUENCE_LAYERS for c in child.walk()):  # type: ignore[union-attr]
            reporter.error(
                "E046",
                f"`{child.kind}` reads a sequence and must come first in a `Chain`",  # type: ignore[union-attr]
                child.loc,  # type: ignore[union-attr]
            )
            return None
    return LayerSpec("Chain", {}, call.loc, children)  # type: ignore[arg-type]


def _constructor(
    call: nodes.Call, name: str, constants: Constants, reporter: Reporter
) -> LayerSpec | None:
    kind = LAYERS[name]
    low, high = kind.sizes
    positional = list(call.args)
    args: dict[str, object] = {}
    if high:
        if not positional or not isinstance(positional[0], nodes.Pair):
            reporter.error(
                "E044",
                f"`{name}` needs its sizes first, as in `{kind.example}`",
                positional[0].loc if positional else call.loc,
            )
            return None
        size_exprs = _pair_items(positional.pop(0))
        if not low <= len(size_exprs) <= high:
            count = f"{low}" if low == high else f"at least {low}"
            reporter.error(
                "E044",
                f"`{name}` takes {count} sizes `a => b`, but {len(size_exprs)} are given",
                call.args[0].loc,
                help=f"for example `{kind.example}`",
            )
            return None
        sizes = [constants.size(e, f"a size of `{name}`") for e in size_exprs]
        if None in sizes:
            return None
        if name == "MLP":
            args["sizes"] = tuple(sizes)
        else:
            args.update(zip(_SIZE_NAMES[name], sizes, strict=True))
    bound = bind_arguments(call, kind.args, name, reporter, positional)
    if bound is None:
        return None
    for arg in kind.args:
        if arg.name in bound:
            value = argument_value(
                bound[arg.name], arg, constants, reporter, what=f"`{arg.name}` of `{name}`"
            )
            if value is INVALID:
                return None
            args[arg.name] = value
        else:
            args[arg.name] = arg.default
    return LayerSpec(name, args, call.loc)


def _pair_items(expr: nodes.Expr) -> list[nodes.Expr]:
    items = []
    while isinstance(expr, nodes.Pair):
        items.append(expr.left)
        expr = expr.right
    return [*items, expr]


# -- shapes and parameters -------------------------------------------------------------------


def natural_input(spec: LayerSpec) -> Shape | None:
    """The input shape a layer declares through its sizes (spatial sizes unknown)."""
    a = spec.args
    if spec.kind in ("Dense", "MLP"):
        return (a["sizes"][0] if spec.kind == "MLP" else a["in"],)  # type: ignore[index]
    if spec.kind in ("Conv", "ConcatConv"):
        return (a["in"], None, None)  # type: ignore[return-value]
    if spec.kind in SEQUENCE_LAYERS:
        return (None, a["in"])  # type: ignore[return-value]
    if spec.kind in FLOW_LAYERS:
        return (a["dim"],)  # type: ignore[return-value]
    if spec.kind == "Chain":
        for child in spec.children:
            found = natural_input(child)
            if found is not None or child.kind not in _KEEPS_SHAPE:
                return found
    return None


def resolve(spec: LayerSpec, shape: Shape | None) -> Layer:
    """The layer with shapes and parameter counts for input ``shape`` (None: unknown);
    raises :class:`LayerMismatch` when a layer cannot take what it is given."""
    if spec.kind == "Chain":
        children = []
        current = shape
        for child in spec.children:
            layer = resolve(child, current)
            children.append(layer)
            current = layer.out_shape
        counts = [c.parameter_count for c in children]
        total = None if None in counts else sum(counts)  # type: ignore[arg-type]
        return Layer("Chain", {}, tuple(children), shape, current, total, spec.loc)
    out, args = _apply(spec, shape)
    return Layer(spec.kind, args, (), shape, out, count_parameters(spec.kind, args), spec.loc)


def _apply(spec: LayerSpec, shape: Shape | None) -> tuple[Shape | None, dict[str, object]]:
    a = dict(spec.args)
    kind = spec.kind
    if kind == "Activation" or (shape is None and kind not in ("GroupNorm",)):
        return shape if kind == "Activation" else None, a
    if kind in ("Dense", "MLP"):
        size_in, size_out = (
            (a["sizes"][0], a["sizes"][-1]) if kind == "MLP" else (a["in"], a["out"])
        )  # type: ignore[index]
        if shape == () and size_in == 1:
            return (size_out,), a  # type: ignore[return-value]
        if not shape or shape[-1] not in (None, size_in):
            raise LayerMismatch(f"`{describe(spec)}` expects Real[{size_in}]", spec.loc)
        return (*shape[:-1], size_out), a  # type: ignore[return-value]
    if kind in ("Conv", "ConcatConv"):
        if len(shape) != 3 or shape[0] not in (None, a["in"]):
            raise LayerMismatch(f"`{describe(spec)}` expects Real[{a['in']}, H, W]", spec.loc)
        spatial = tuple(_conv_size(d, a, spec) for d in shape[1:])
        return (a["out"], *spatial), a  # type: ignore[return-value]
    if kind == "GroupNorm":
        channels = shape[0] if shape else None
        if shape is not None and not shape:
            raise LayerMismatch("`GroupNorm` expects channels, not a scalar", spec.loc)
        if channels is not None and channels % a["groups"] != 0:  # type: ignore[operator]
            raise LayerMismatch(
                f"`GroupNorm({a['groups']})` needs channels divisible by {a['groups']}, "
                f"but gets {channels}",
                spec.loc,
            )
        a["channels"] = channels
        return shape, a
    if kind == "GlobalMeanPool":
        if len(shape) != 3:
            raise LayerMismatch("`GlobalMeanPool()` expects Real[C, H, W]", spec.loc)
        return (shape[0],), a
    if kind == "Flatten":
        return (numel(shape),), a
    if kind in FLOW_LAYERS:
        if shape != (a["dim"],):
            raise LayerMismatch(f"`{describe(spec)}` expects Real[{a['dim']}]", spec.loc)
        return shape, a
    if len(shape) != 2 or shape[1] not in (None, a["in"]):
        raise LayerMismatch(f"`{describe(spec)}` reads a sequence Real[N, {a['in']}]", spec.loc)
    return (a["out"],), a  # type: ignore[return-value]


def _conv_size(size: int | None, a: dict[str, object], spec: LayerSpec) -> int | None:
    if size is None:
        return None
    kernel, stride, pad = a["kernel"], a["stride"], a["pad"]
    out = (size + 2 * pad - kernel) // stride + 1  # type: ignore[operator]
    if out < 1:
        raise LayerMismatch(
            f"`{describe(spec)}` has a kernel larger than its padded input ({size} + 2*{pad})",
            spec.loc,
        )
    return out


def count_parameters(kind: str, a: dict[str, object]) -> int | None:
    """Weights and biases of one (non-Chain) layer, as PyTorch counts them."""
    if kind == "Dense":
        return a["in"] * a["out"] + a["out"]  # type: ignore[operator]
    if kind == "MLP":
        sizes: Sequence[int] = a["sizes"]  # type: ignore[assignment]
        return sum(i * o + o for i, o in pairwise(sizes))
    if kind in ("Conv", "ConcatConv"):
        channels = a["in"] + (kind == "ConcatConv")  # type: ignore[operator]
        return channels * a["out"] * a["kernel"] ** 2 + a["out"]  # type: ignore[operator]
    if kind == "GroupNorm":
        return None if a.get("channels") is None else 2 * a["channels"]  # type: ignore[operator]
    if kind in FLOW_LAYERS:
        return (2 * a["dim"] + 1) * a["depth"]  # type: ignore[operator]
    if kind in SEQUENCE_LAYERS:
        i, h, o = a["in"], a["hidden"], a["out"]
        head = h * o + o  # type: ignore[operator]
        if kind == "RNN":
            return (i + h) * h + h + head  # type: ignore[operator]
        gru = 3 * h * (i + h + 2)  # type: ignore[operator]
        return gru + head + (2 * (h * h + h) if kind == "ODERNN" else 0)  # type: ignore[operator]
    return 0


# -- the networks of a spec --------------------------------------------------------------------


@dataclass
class _Entry:
    spec: LayerSpec
    loc: Span
    takes_time: bool
    sequence: bool
    layer: Layer | None = None
    calls: int = 0


class Networks:
    """The networks of a spec and their call sites."""

    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter
        self.entries: dict[str, _Entry] = {}

    def add(self, name: str, spec: LayerSpec, loc: Span) -> None:
        layers = spec.walk()
        entry = _Entry(
            spec,
            loc,
            takes_time=any(layer.kind == "ConcatConv" for layer in layers),
            sequence=any(layer.kind in SEQUENCE_LAYERS for layer in layers),
        )
        try:
            resolve(spec, natural_input(spec))
        except LayerMismatch as mismatch:
            self.reporter.error(
                "E046",
                f"the layers of `{name}` do not fit together: {mismatch.reason}",
                mismatch.loc,
                help="each layer's input size must be the output size of the layer before",
            )
            return
        self.entries[name] = entry

    def __contains__(self, name: str) -> bool:
        return name in self.entries

    def is_flow(self, name: str) -> bool:
        """Whether network ``name`` is a discrete flow (a ``PlanarFlow``)."""
        return self.entries[name].spec.kind in FLOW_LAYERS

    def call(
        self, name: str, args: Sequence[tuple[Shape | None, Span]], call_loc: Span
    ) -> Shape | None:
        """The output shape of ``name`` applied to arguments of these shapes, or None after
        reporting a wrong call form (E044), an input that does not fit (E043) or a discrete
        flow called as a function (E033)."""
        entry = self.entries[name]
        entry.calls += 1
        if self.is_flow(name):
            self.reporter.error(
                "E033",
                f"`{name}` is a discrete flow: it is applied only as the transformation of a "
                f"`flow`, `x = {name}(z)`",
                call_loc,
                notes=[Note(f"`{name}` is defined here", entry.loc)],
            )
            return None
        if len(args) > 1 and not (entry.takes_time or entry.sequence):
            joined = self._joined(name, entry, args, call_loc)
            return None if joined is None else self._resolve(name, entry, joined, call_loc)
        value = self._value_argument(name, entry, args, call_loc)
        if value is None:
            return None
        return self._resolve(name, entry, *value)

    def _joined(
        self,
        name: str,
        entry: _Entry,
        args: Sequence[tuple[Shape | None, Span]],
        call_loc: Span,
    ) -> Shape | None:
        """The input of a plain network called with several arguments, ``f(t, z)``: each
        flattened (a scalar counts 1) and joined in order, checked against the width of
        its first layer."""
        if any(shape is None for shape, _ in args):
            return None
        widths = [numel(shape) for shape, _ in args]  # type: ignore[arg-type]
        total = None if None in widths else sum(widths)  # type: ignore[arg-type]
        first = natural_input(entry.spec)
        defined = [Note(f"`{name}` is defined here", entry.loc)]
        if first is not None and len(first) != 1:
            self.reporter.error(
                "E044",
                f"network `{name}` reads {show(first)}: only a network whose first layer is "
                "dense (`Dense`, `MLP`) joins several inputs",
                call_loc,
                help=f"call it with one argument, `{name}(x)`",
                notes=defined,
            )
            return None
        width = first[0] if first is not None else None
        if total is not None and width is not None and total != width:
            texts = [self._text(loc) or f"argument {k}" for k, (_, loc) in enumerate(args, 1)]
            parts = " + ".join(str(w) for w in widths)
            dense = next((c for c in entry.spec.walk() if c.kind in ("Dense", "MLP")), None)
            layer = f"`{dense.kind}({total} => ...)`" if dense is not None else f"{total} inputs"
            single = [text for text, w in zip(texts, widths, strict=True) if w == width]
            fix = f"declare it with {total} inputs, {layer}"
            if single:
                fix += f", or call `{name}({single[-1]})`"
            self.reporter.error(
                "E043",
                f"network `{name}` reads {width} input{'s' if width != 1 else ''}, but "
                f"`{', '.join(texts)}` join to {total} ({parts})",
                call_loc,
                help=fix,
                notes=defined,
            )
            return None
        return (total,)

    def _text(self, loc: Span) -> str | None:
        """The source text at ``loc`` when it stands on one line."""
        if loc.line != loc.end_line:
            return None
        return self.reporter.source.line(loc.line)[loc.column - 1 : loc.end_column - 1] or None

    def apply_flow(self, name: str) -> Shape:
        """The sample shape of discrete flow ``name``, applied as a flow's transformation."""
        entry = self.entries[name]
        entry.calls += 1
        entry.layer = resolve(entry.spec, natural_input(entry.spec))
        return entry.layer.out_shape  # type: ignore[return-value]

    def _resolve(self, name: str, entry: _Entry, shape: Shape, loc: Span) -> Shape | None:
        try:
            layer = resolve(entry.spec, shape)
        except LayerMismatch as mismatch:
            self.reporter.error(
                "E043",
                f"network `{name}` cannot take {show(shape)}: {mismatch.reason}",
                loc,
                notes=[Note("the layer is defined here", mismatch.loc)],
            )
            return None
        if entry.layer is None:
            entry.layer = layer
        return layer.out_shape

    def _value_argument(
        self,
        name: str,
        entry: _Entry,
        args: Sequence[tuple[Shape | None, Span]],
        call_loc: Span,
    ) -> tuple[Shape, Span] | None:
        """The argument that flows through the layers, after checking the call form."""
        if entry.takes_time:
            form, ok = "f(t, h)", len(args) == 2 and args[0][0] == ()
        elif entry.sequence:
            form, ok = "f(xs) or f(xs, ts)", len(args) in (1, 2)
        else:
            form, ok = "f(x)", len(args) == 1
        if not ok:
            why = "it holds a ConcatConv, which appends the time t as a channel"
            self.reporter.error(
                "E044",
                f"network `{name}` is called as {form.replace('f', name, 1)}",
                call_loc,
                help=why if entry.takes_time else None,
                notes=[Note(f"`{name}` is defined here", entry.loc)],
            )
            return None
        shape, loc = args[1] if entry.takes_time else args[0]
        if shape is None:
            return None
        if entry.sequence and len(args) == 2:
            times, times_loc = args[1]
            if times is not None and (
                len(times) != 1 or len(shape) < 1 or not _same_size(times[0], shape[0])
            ):
                self.reporter.error(
                    "E043",
                    f"network `{name}` reads {show(shape)} with times {show(times)}: "
                    "there must be one time per row",
                    times_loc,
                )
                return None
        return shape, loc

    def checked(self) -> list[Network]:
        """Every network, resolved at its first call (or at its declared input size)."""
        networks = []
        for name, entry in self.entries.items():
            layer = entry.layer or resolve(entry.spec, natural_input(entry.spec))
            networks.append(
                Network(name, layer, entry.takes_time, entry.sequence, entry.calls, entry.loc)
            )
        return networks


def _same_size(a: int | None, b: int | None) -> bool:
    return a is None or b is None or a == b
