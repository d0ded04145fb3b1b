"""The language catalogue (``odedsl/lang/builtins.py``) and the torch side registered against
it name the same built-ins, with the same arguments where both sides have them.

One pair per catalogue: layers and activations (``compiler.networks.BUILDERS``,
``nn.layers.ACTIVATIONS``), functions (the emitter's ``ELEMENTWISE`` and ``CALLS``, the symbolic
side's ``ELEMENTWISE``), data sets (``data.registry.DATASETS``), solver methods and gradient
modes (``solvers``), optimizers and schedules (``training``). The distributions' pair
(``models.distributions.FAMILIES``) is tested in ``tests/models/test_distributions.py``.
``test_a_missing_entry_is_found`` removes one entry from each torch-side registry in turn.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable

import pytest
import torch
import torch.nn.functional as F

from odedsl.compiler import codegen, networks, runtime
from odedsl.data import registry
from odedsl.lang import builtins
from odedsl.nn import layers
from odedsl.solvers import api, methods
from odedsl.solvers.fixed import FixedGridSolver
from odedsl.symbolic import functions
from odedsl.training import config


def _disagreement(language: Iterable[str], torch_side: Iterable[str]) -> str:
    language, torch_side = set(language), set(torch_side)
    missing, extra = sorted(language - torch_side), sorted(torch_side - language)
    return f"only in the language: {missing}; only on the torch side: {extra}"


def _assert_same(language: Iterable[str], torch_side: Iterable[str]) -> None:
    language, torch_side = set(language), set(torch_side)
    assert language == torch_side, _disagreement(language, torch_side)


# -- the pairs, by name: each gives (language names, torch-side names) -------------------------


def _layers() -> tuple[set[str], set[str]]:
    # `Activation` is the checked form of an activation written by name in a Chain
    return set(builtins.LAYERS) | {"Activation"}, set(networks.BUILDERS)


def _activations() -> tuple[set[str], set[str]]:
    return set(builtins.ACTIVATIONS), set(layers.ACTIVATIONS)


def _functions() -> tuple[set[str], set[str]]:
    emitted = [codegen.ELEMENTWISE, codegen.CALLS, codegen.NOT_CALLED]
    assert sum(map(len, emitted)) == len(set().union(*emitted)), "a function is emitted twice"
    return set(builtins.FUNCTIONS), set().union(*emitted)


def _elementwise_symbolic() -> tuple[set[str], set[str]]:
    return set(builtins.ELEMENTWISE), set(functions.ELEMENTWISE)


def _elementwise_emitted() -> tuple[set[str], set[str]]:
    return set(builtins.ELEMENTWISE), set(codegen.ELEMENTWISE) | {"identity"}


def _datasets() -> tuple[set[str], set[str]]:
    return set(builtins.DATASETS), set(registry.DATASETS)


def _methods() -> tuple[set[str], set[str]]:
    return set(builtins.METHODS), set(methods.SOLVERS)


def _gradients() -> tuple[set[str], set[str]]:
    return set(builtins.GRADIENTS), set(api.GRADIENT_METHODS)


def _optimizers() -> tuple[set[str], set[str]]:
    return set(builtins.OPTIMIZERS), set(config.OPTIMIZERS)


def _schedules() -> tuple[set[str], set[str]]:
    # `Step(at, factor)` is checked into the schedule `step`
    return set(builtins.SCHEDULES) | {"step"}, set(runtime.SCHEDULE_KINDS)


PAIRS: dict[str, Callable[[], tuple[set[str], set[str]]]] = {
    "layers": _layers,
    "activations": _activations,
    "functions": _functions,
    "elementwise (symbolic)": _elementwise_symbolic,
    "elementwise (emitted)": _elementwise_emitted,
    "data sets": _datasets,
    "solver methods": _methods,
    "gradients": _gradients,
    "optimizers": _optimizers,
    "schedules": _schedules,
}

TORCH_REGISTRIES: dict[str, tuple[object, str]] = {
    "layers": (networks.BUILDERS, "GRU"),
    "activations": (layers.ACTIVATIONS, "elu"),
    "functions": (codegen.CALLS, "vcat"),
    "elementwise (symbolic)": (functions.ELEMENTWISE, "softplus"),
    "elementwise (emitted)": (codegen.ELEMENTWISE, "sqrt"),
    "data sets": (registry.DATASETS, "Pinwheel"),
    "solver methods": (methods.SOLVERS, "tsit5"),
    "optimizers": (config.OPTIMIZERS, "AdamW"),
    "schedules": (runtime.SCHEDULE_KINDS, "cosine"),
}
"""One entry of each torch-side registry (a dict) to remove in ``test_a_missing_entry_is_found``."""


@pytest.mark.parametrize("pair", sorted(PAIRS))
def test_the_names_agree(pair: str) -> None:
    _assert_same(*PAIRS[pair]())


@pytest.mark.parametrize("pair", sorted(TORCH_REGISTRIES))
def test_a_missing_entry_is_found(pair: str, monkeypatch: pytest.MonkeyPatch) -> None:
    torch_registry, name = TORCH_REGISTRIES[pair]
    monkeypatch.delitem(torch_registry, name)
    with pytest.raises(AssertionError, match=name):
        _assert_same(*PAIRS[pair]())


def test_every_dict_registry_is_exercised() -> None:
    assert set(TORCH_REGISTRIES) == set(PAIRS) - {"gradients"}  # a tuple there, not a dict


# -- arguments, where both sides have them ------------------------------------------------------


@pytest.mark.parametrize("name", sorted(builtins.DATASETS))
def test_a_data_set_takes_the_catalogue_arguments_with_its_defaults(name: str) -> None:
    language = {arg.name: arg for arg in builtins.DATASETS[name].args}
    entry = registry.DATASETS[name]
    _assert_same(language, set(entry.arguments) & set(language))
    # what the compiler passes besides the spec's arguments (runtime._file_arguments): `split`
    # of a file as `fractions`, the declared label type as `labels`; split and n by the runtime
    set_by_compiler = {"fractions", "labels"} if entry.kind == "file" else set()
    assert set(entry.params) - set(language) == set_by_compiler
    for arg_name, arg in language.items():
        if arg_name not in entry.params:
            continue
        torch_default = entry.params[arg_name]
        assert arg.required == (torch_default is registry.REQUIRED), arg_name
        if not arg.required and arg.default is not None:
            assert torch_default == arg.default, arg_name


@pytest.mark.parametrize("name", sorted(builtins.OPTIMIZERS))
def test_an_optimizer_takes_the_catalogue_arguments(name: str) -> None:
    accepted = set(inspect.signature(config.OPTIMIZERS[name]).parameters)
    written = {arg.name for arg in builtins.OPTIMIZERS[name]}
    assert written <= accepted, written - accepted


@pytest.mark.parametrize("method", sorted(builtins.METHODS))
def test_a_method_is_adaptive_on_both_sides(method: str) -> None:
    fixed = issubclass(methods.SOLVERS[method], FixedGridSolver)
    assert builtins.METHODS[method] == (not fixed)


def test_the_schedules_exist_in_the_training_runtime() -> None:
    assert set(runtime.SCHEDULE_KINDS.values()) <= set(config.SCHEDULES)


@pytest.mark.parametrize("name", sorted(codegen.ELEMENTWISE))
def test_an_elementwise_function_folds_as_its_code_computes(name: str) -> None:
    entry = codegen.ELEMENTWISE[name]
    for value in (0.3, 1.7):
        x = torch.tensor(value, dtype=torch.float64)
        computed = eval(entry.code.format("x"), {"torch": torch, "F": F, "x": x})
        assert math.isclose(float(computed), entry.fold(value), rel_tol=1e-12), name
