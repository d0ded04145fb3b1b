"""Torch building blocks that compiled models run on, shared by :mod:`odedsl.compiler` (which
builds them from a checked spec) and :mod:`odedsl.models` (which runs them):

- ``layers``: the layer library, one ``nn.Module`` per network of the language catalogue;
- ``trace``: the trace strategies of continuous normalizing flows and their augmented dynamics;
- ``ops``: the few helpers that generated code calls besides ``torch``.

It knows tensors and the solvers, never the language, the compiler or the model families.
"""
