"""The `data` section: one data set, the variables it binds with their shapes, the batch and
the augmentation of training images (random crops, rotations, zooms and shifts).

Types are declared on the left of `~`: ``x :: Real[D]`` for one variable, a tuple of types
``(x, y) :: (Real[D], Int)`` for several. A user file (``CSV``, ``NPZ``) needs them; a label is
``Int`` (classes 0, 1, ...) or ``Real`` (regression); the time axis of a series may be a name
that is not a constant, ``(ts, x) :: (Real[N], Real[N, 3])``: any number of points."""

from __future__ import annotations

from dataclasses import dataclass, replace

from odedsl.lang import model as ir
from odedsl.lang import nodes
from odedsl.lang.arguments import INVALID, argument_value, bind_arguments
from odedsl.lang.builtins import (
    AUGMENTATIONS,
    CONSTANTS,
    DATA_OPTIONS,
    DATASETS,
    FILE_SPLITS,
    DataOutput,
    DataSet,
    gives_images,
)
from odedsl.lang.declarations import refuse, type_shape
from odedsl.lang.diagnostics import Note, did_you_mean
from odedsl.lang.env import Env
from odedsl.lang.model import Shape
from odedsl.lang.sections import Sections
from odedsl.lang.shapes import show
from odedsl.lang.source import Span


@dataclass
class DataSection:
    source: ir.DataSource | None
    batch: int | None
    batch_loc: Span | None


def declare_data(env: Env, sections: Sections) -> DataSection:
    found = DataSection(None, None, None)
    first: nodes.Sample | None = None
    options: dict[str, tuple[object, Span]] = {}
    for statement in sections.statements("data"):
        target = statement.target
        if (
            isinstance(statement, nodes.Assign)
            and isinstance(target, nodes.Name)
            and (target.id in DATA_OPTIONS and statement.annotation is None)
        ):
            value = argument_value(
                statement.value,
                DATA_OPTIONS[target.id],
                env.constants,
                env.reporter,
                what=f"`{target.id}`",
                code="E081",
            )
            if value is not INVALID:
                options[target.id] = (value, statement.loc)
        elif isinstance(statement, nodes.Sample):
            if first is not None:
                env.reporter.error(
                    "E073",
                    "a model reads one data source",
                    statement.loc,
                    help="bind every variable in one statement, as in `(x, y) ~ Digits()`",
                    notes=[Note("the data source is set here", first.loc)],
                )
                continue
            first = statement
            found.source = _source(env, statement)
            if found.source is None:
                env.symbols.fail(*_written_names(statement.target))
        else:
            refuse(
                env,
                statement,
                "data",
                "a data source `x :: Real[D] ~ Moons()`, `batch = N` and, for images, "
                "`crop`, `rotate`, `zoom` and `shift`",
            )
    if first is None and "data" in sections:
        env.reporter.error(
            "E073",
            "`data` names no data set",
            sections.blocks["data"].name_loc,
            help="add a data source, e.g. `x :: Real[2] ~ Moons(noise = 0.05)`",
        )
    if "batch" in options:
        found.batch, found.batch_loc = options["batch"]  # type: ignore[assignment]
    augment = {name: options[name] for name in AUGMENTATIONS if name in options}
    if augment and found.source is not None:
        found.source = _augment(env, found.source, augment)
    return found


def _augment(
    env: Env, source: ir.DataSource, augment: dict[str, tuple[object, Span]]
) -> ir.DataSource:
    """``source`` with its training images augmented, if it is a data set of images."""
    if gives_images(source):
        return replace(source, **{name: value for name, (value, _) in augment.items()})
    images = ", ".join(f"`{d.name}`" for d in DATASETS.values() if d.images)
    images += " and user files declared `Real[C, H, W]`"
    for name, (_, loc) in augment.items():
        env.reporter.error(
            "E080",
            f"`{name}` applies to images only, and `{source.dataset}` gives no images",
            loc,
            help=f"remove `{name}`: it augments the training images of {images}",
            notes=[Note("the data set is set here", source.loc)],
        )
    return source


def _source(env: Env, statement: nodes.Sample) -> ir.DataSource | None:
    names = _bound_names(env, statement.target)
    call = statement.distribution
    if names is None:
        return None
    if not (isinstance(call, nodes.Call) and isinstance(call.func, nodes.Name)):
        env.reporter.error(
            "E070", "a data source is a data set, such as `Moons(noise = 0.05)`", call.loc
        )
        return None
    dataset = DATASETS.get(call.func.id)
    if dataset is None:
        env.reporter.error(
            "E070",
            f"unknown data set `{call.func.id}`",
            call.func.loc,
            help=did_you_mean(call.func.id, DATASETS) or "data sets are " + ", ".join(DATASETS),
        )
        return None
    bound = bind_arguments(call, dataset.args, dataset.name, env.reporter)
    if bound is None:
        return None
    args: dict[str, object] = {}
    for arg in dataset.args:
        value = (
            argument_value(
                bound[arg.name],
                arg,
                env.constants,
                env.reporter,
                what=f"`{arg.name}` of `{dataset.name}`",
            )
            if arg.name in bound
            else arg.default
        )
        if value is INVALID:
            return None
        if value is not None:
            args[arg.name] = value
    form = dataset.form(set(bound))
    if dataset.declared and not _file_arguments(env, call, dataset, bound):
        return None
    outputs = form.outputs if form is not None else dataset.outputs
    if len(names) != len(outputs):
        roles = ", ".join(o.role for o in outputs)
        count = len(outputs)
        if dataset.forms:
            forms = "; ".join(f"`{f.example}`" for f in dataset.forms)
            help = f"`{dataset.name}` binds, by its arguments: {forms}"
        else:
            help = "bind one name per variable, e.g. `(ts, x) ~ Spirals2D()`" if count > 1 else None
        env.reporter.error(
            "E071",
            f"`{dataset.name}` gives {count} variable{'s' if count > 1 else ''} ({roles}) "
            f"with these arguments, but {len(names)} {'are' if len(names) > 1 else 'is'} bound"
            if dataset.forms
            else f"`{dataset.name}` gives {count} variable{'s' if count > 1 else ''} ({roles}), "
            f"but {len(names)} {'are' if len(names) > 1 else 'is'} bound",
            statement.target.loc,
            help=help,
        )
        return None
    example = form.example if form is not None else None
    variables = _variables(env, statement, dataset, args, names, outputs, example)
    if variables is None:
        return None
    return ir.DataSource(dataset.name, args, tuple(variables), statement.loc)


def _file_arguments(
    env: Env, call: nodes.Call, dataset: DataSet, bound: dict[str, nodes.Expr]
) -> bool:
    """Check the combination of a user file's arguments (each value is checked already)."""
    name = dataset.name
    explicit = [s for s in FILE_SPLITS if s in bound]
    problems: list[tuple[str, str, str | None]] = []
    if "path" in bound and explicit:
        problems.append(
            (explicit[0], "a file per split replaces `path`", "give `path` or the split files")
        )
    elif not explicit and "path" not in bound:
        env.reporter.error(
            "E044",
            f"`{name}` needs its argument `path`",
            call.loc,
            help='add `path = "file"` (relative to the spec), or `train = ..., test = ...`',
        )
        return False
    elif explicit and not {"train", "test"} <= set(explicit):
        missing = "train" if "train" not in explicit else "test"
        problems.append(
            (explicit[0], f"a file per split needs `{missing}` as well", "`validation` is optional")
        )
    if explicit and "split" in bound:
        problems.append(("split", "`split` divides one file; the split files are read whole", None))
    triggers = [f.trigger for f in dataset.forms if f.trigger is not None and f.trigger in bound]
    if len(triggers) > 1:
        problems.append(
            (triggers[1], f"`{triggers[0]}` and `{triggers[1]}` exclude each other", None)
        )
    if "series" in bound and "time" not in bound:
        problems.append(("series", "`series` names the id column of series with a `time`", None))
    series_form = "time" in bound or "ts" in bound
    if "holdout" in bound and (not series_form or "series" in bound):
        problems.append(
            (
                "holdout",
                "`holdout` chooses the held-out points of a single trajectory",
                "many series and rows are split whole, by `split`",
            )
        )
    if "key" in bound and "x" in bound:
        problems.append(("key", "`key` and `x` both name the array of x; keep one", None))
    columns = bound.get("columns")
    if isinstance(columns, nodes.Array) and not columns.items:
        problems.append(("columns", "`columns` names no column", None))
    for argument, message, help in problems:
        env.reporter.error("E062", f"{message} (in `{name}`)", bound[argument].loc, help=help)
    return not problems


def _written_names(target: nodes.Expr) -> list[str]:
    items = target.items if isinstance(target, nodes.Tuple) else (target,)
    return [item.id for item in items if isinstance(item, nodes.Name)]


def _bound_names(env: Env, target: nodes.Expr) -> list[nodes.Name] | None:
    items = target.items if isinstance(target, nodes.Tuple) else (target,)
    if all(isinstance(item, nodes.Name) for item in items):
        return list(items)  # type: ignore[arg-type]
    env.reporter.error(
        "E071",
        "the left side of a data source names its variables: `x` or `(x, y)`",
        target.loc,
    )
    return None


@dataclass(frozen=True)
class _Type:
    """A declared type: its shape (None for a free time axis), dtype, and the free name."""

    shape: Shape
    dtype: str
    free: str | None
    loc: Span


def _declared_types(
    env: Env, annotation: nodes.Expr, count: int, example: str | None
) -> list[_Type] | None:
    items: tuple[nodes.Expr, ...] = (annotation,)
    if count > 1:
        if not (isinstance(annotation, nodes.Tuple) and len(annotation.items) == count):
            env.reporter.error(
                "E047",
                f"declare one type per variable: {count} variables need a tuple of {count} types",
                annotation.loc,
                help=f"for example `{example}`" if example else "for example `(Real[2], Int)`",
            )
            return None
        items = annotation.items
    types = [_type(env, item) for item in items]
    return None if None in types else types  # type: ignore[return-value]


def _type(env: Env, expr: nodes.Expr) -> _Type | None:
    """``Real``, ``Int`` or ``Real[d1, ...]``; a first axis that names no constant is free."""
    if isinstance(expr, nodes.Name) and expr.id in ("Int", "Real"):
        return _Type((), "int" if expr.id == "Int" else "real", None, expr.loc)
    free = None
    if (
        isinstance(expr, nodes.Index)
        and isinstance(expr.base, nodes.Name)
        and expr.base.id == "Real"
        and expr.indices
    ):
        first = expr.indices[0]
        if (
            isinstance(first, nodes.Name)
            and first.id not in env.constants.definitions
            and first.id not in CONSTANTS
            and env.constants.describe_other(first.id) is None
        ):
            free = first.id
            sizes = [None] + [env.constants.size(size, "a dimension") for size in expr.indices[1:]]
            if None in sizes[1:]:
                return None
            return _Type(tuple(sizes), "real", free, expr.loc)
    shape = type_shape(env, expr)
    return None if shape is None else _Type(shape, "real", None, expr.loc)


def _variables(
    env: Env,
    statement: nodes.Sample,
    dataset: DataSet,
    args: dict[str, object],
    names: list[nodes.Name],
    outputs: tuple[DataOutput, ...],
    example: str | None,
) -> list[ir.DataVariable] | None:
    declared: list[_Type] | None = None
    if statement.annotation is not None:
        declared = _declared_types(env, statement.annotation, len(names), example)
        if declared is None:
            return None
    elif dataset.declared:
        env.reporter.error(
            "E072",
            f"`{dataset.name}` does not know the shape of its "
            + ("rows" if len(names) == 1 else "variables")
            + ": declare it",
            statement.target.loc if len(names) > 1 else names[0].loc,
            help=f"write `{example}`"
            if len(names) > 1
            else f"write `{names[0].id} :: Real[D] ~ {dataset.name}(...)`",
        )
        return None
    if declared is not None and not _free_axes_agree(env, declared, outputs):
        return None
    variables = []
    for index, (name, output) in enumerate(zip(names, outputs, strict=True)):
        typed = declared[index] if declared is not None else None
        if dataset.declared:
            found = _file_variable(env, dataset, name, output, typed)  # type: ignore[arg-type]
            if found is None:
                return None
            shape, dtype = found
        else:
            shape = tuple(
                args[d] if isinstance(d, str) else d
                for d in output.shape  # type: ignore[misc]
            )
            dtype = output.dtype
            if typed is not None and (typed.shape != shape or typed.dtype != dtype):
                given = _show_type(shape, dtype)
                env.reporter.error(
                    "E072",
                    f"`{dataset.name}` gives {given}, but `{name.id}` is declared "
                    f"{_show_type(typed.shape, typed.dtype, typed.free)}",
                    typed.loc,
                    help=f"declare `{name.id} :: {given}` or leave the type out",
                )
                return None
        classes = output.classes if not dataset.declared else None
        variable = ir.DataVariable(name.id, output.role, shape, dtype, classes, statement.loc)
        if env.symbols.define(name.id, "data", name.loc, shape, variable):
            variables.append(variable)
    return variables


def _show_type(shape: Shape, dtype: str, free: str | None = None) -> str:
    if dtype == "int":
        return "Int"
    if free is not None:
        return "Real[" + ", ".join(free if d is None else str(d) for d in shape) + "]"
    return show(shape)


def _free_axes_agree(env: Env, declared: list[_Type], outputs: tuple[DataOutput, ...]) -> bool:
    """A free time axis only in the types of times and series, the same name in both."""
    frees = {t.free for t in declared if t.free is not None}
    for typed, output in zip(declared, outputs, strict=False):
        if typed.free is not None and output.role not in ("times", "series"):
            env.reporter.error(
                "E047",
                f"`{typed.free}` is not a constant: only the time axis of a series may be "
                "free (any number of points)",
                typed.loc,
                help="define it in `constants`",
            )
            return False
    if len(frees) > 1:
        env.reporter.error(
            "E047",
            "the times and the series share their time axis, but it is named "
            + " and ".join(sorted(frees)),
            declared[-1].loc,
            help="use one name, e.g. `(ts, x) :: (Real[N], Real[N, 3])`",
        )
        return False
    return True


def _file_variable(
    env: Env, dataset: DataSet, name: nodes.Name, output: DataOutput, typed: _Type
) -> tuple[Shape, str] | None:
    """The shape and dtype of a user file's variable from its declared type."""
    role = output.role
    rules = {
        "sample": (
            typed.dtype == "real"
            and len(typed.shape) >= 1
            and (dataset.name != "CSV" or len(typed.shape) == 1),
            "Real[D]" if dataset.name == "CSV" else "Real[D] or Real[C, H, W]",
            "the examples' values",
        ),
        "label": (typed.shape == (), "Int or Real", "a label: `Int` classes, `Real` regression"),
        "times": (
            typed.dtype == "real" and len(typed.shape) == 1,
            "Real[N]",
            "the observation times",
        ),
        "series": (
            typed.dtype == "real" and len(typed.shape) == 2,
            "Real[N, D]",
            "the series' observations, N times of D channels",
        ),
    }
    ok, wanted, what = rules[role]
    if not ok:
        env.reporter.error(
            "E072",
            f"`{name.id}` is {what}, of type {wanted}, but it is declared "
            f"{_show_type(typed.shape, typed.dtype, typed.free)}",
            typed.loc,
            help=f"declare `{name.id} :: {wanted}` with your sizes",
        )
        return None
    return typed.shape, typed.dtype
