"""The `data` section: one data set, the variables it binds with their shapes, the batch and
the augmentation of training images (random crops, rotations, zooms and shifts)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from odedsl.lang import model as ir
from odedsl.lang import nodes
from odedsl.lang.arguments import INVALID, argument_value, bind_arguments
from odedsl.lang.builtins import AUGMENTATIONS, DATA_OPTIONS, DATASETS, DataSet
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
    if DATASETS[source.dataset].images:
        return replace(source, **{name: value for name, (value, _) in augment.items()})
    images = ", ".join(f"`{d.name}`" for d in DATASETS.values() if d.images)
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
        args[arg.name] = value
    if len(names) != len(dataset.outputs):
        roles = ", ".join(o.role for o in dataset.outputs)
        count = len(dataset.outputs)
        env.reporter.error(
            "E071",
            f"`{dataset.name}` gives {count} variable{'s' if count > 1 else ''} ({roles}), "
            f"but {len(names)} {'are' if len(names) > 1 else 'is'} bound",
            statement.target.loc,
            help="bind one name per variable, e.g. `(ts, x) ~ Spirals2D()`" if count > 1 else None,
        )
        return None
    variables = _variables(env, statement, dataset, args, names)
    if variables is None:
        return None
    return ir.DataSource(dataset.name, args, tuple(variables), statement.loc)


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


def _variables(
    env: Env,
    statement: nodes.Sample,
    dataset: DataSet,
    args: dict[str, object],
    names: list[nodes.Name],
) -> list[ir.DataVariable] | None:
    declared: Shape | None = None
    if statement.annotation is not None:
        if len(names) > 1:
            env.reporter.error(
                "E047",
                "a type can only be declared for a single data variable",
                statement.annotation.loc,
            )
            return None
        declared = type_shape(env, statement.annotation)
        if declared is None:
            return None
    variables = []
    for name, output in zip(names, dataset.outputs, strict=True):
        shape: Shape = tuple(
            args[d] if isinstance(d, str) else d
            for d in output.shape  # type: ignore[misc]
        )
        if dataset.declared:
            if declared is None:
                env.reporter.error(
                    "E072",
                    f"`{dataset.name}` does not know the shape of its rows: declare it",
                    name.loc,
                    help=f"write `{name.id} :: Real[D] ~ {dataset.name}(...)`",
                )
                return None
            shape = declared
        elif declared is not None and declared != shape:
            env.reporter.error(
                "E072",
                f"`{dataset.name}` gives {show(shape)}, but `{name.id}` is declared "
                f"{show(declared)}",
                statement.annotation.loc,  # type: ignore[union-attr]
                help=f"declare `{name.id} :: {show(shape)}` or leave the type out",
            )
            return None
        variable = ir.DataVariable(
            name.id, output.role, shape, output.dtype, output.classes, statement.loc
        )
        if env.symbols.define(name.id, "data", name.loc, shape, variable):
            variables.append(variable)
    return variables
