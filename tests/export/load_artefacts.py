"""Run exported artefacts where odedsl cannot be imported (a test helper, run as a script).

``python load_artefacts.py MANIFEST``: MANIFEST is a JSON list of ``{"path", "format",
"inputs", "outputs"}``; ``inputs`` is a ``torch.save`` d dict from method name to its argument
tensors, and each method's results are saved to ``outputs`` the same way, with the artefact's
``odedsl.json`` description under ``"description"``. Exits 3 if odedsl is importable.
"""

from __future__ import annotations

import importlib.abc
import json
import sys
from pathlib import Path


class _Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "odedsl" or name.startswith("odedsl."):
            raise ImportError(f"{name} is blocked: the artefact must load without odedsl")
        return None


sys.meta_path.insert(0, _Blocked())
try:
    import odedsl  # noqa: F401
except ImportError:
    pass
else:
    sys.exit(3)

import torch  # noqa: E402


def _run(fmt: str, path: str, inputs: dict) -> tuple[dict, str]:
    if fmt == "torchscript":
        files = {"odedsl.json": ""}
        module = torch.jit.load(path, _extra_files=files)
        outputs = {name: getattr(module, name)(*args) for name, args in inputs.items()}
        return outputs, files["odedsl.json"]
    if fmt == "pt2":
        from torch.export.pt2_archive._package import load_pt2

        contents = load_pt2(path)
        programs = contents.exported_programs
        outputs = {name: programs[name].module()(*args) for name, args in inputs.items()}
        return outputs, contents.extra_files["odedsl.json"]
    import onnx
    import onnxruntime

    description = {p.key: p.value for p in onnx.load(path).metadata_props}["odedsl.json"]
    files = json.loads(description)["files"]  # the file of each method, beside ``path``
    outputs = {}
    for name, args in inputs.items():
        session = onnxruntime.InferenceSession(str(Path(path).with_name(files[name])))
        feed = {i.name: a.numpy() for i, a in zip(session.get_inputs(), args, strict=True)}
        result = [torch.from_numpy(r) for r in session.run(None, feed)]
        outputs[name] = result[0] if len(result) == 1 else tuple(result)
    return outputs, description


def main() -> None:
    torch.set_num_threads(1)
    with open(sys.argv[1], encoding="utf-8") as handle:
        manifest = json.load(handle)
    for entry in manifest:
        inputs = torch.load(entry["inputs"])
        with torch.no_grad():
            outputs, description = _run(entry["format"], entry["path"], inputs)
        torch.save({"outputs": outputs, "description": description}, entry["outputs"])


if __name__ == "__main__":
    main()
