"""Every public name of the original 0.50.2 exists here with the same signature.

The fixture tests/fixtures/public_api.json lists the public names of the original's
bitsandbytes, bitsandbytes.functional, bitsandbytes.nn, bitsandbytes.optim,
bitsandbytes.utils and bitsandbytes.nn.parametrize (tools/api_fixtures.py), with
each callable's signature as ``str(inspect.signature)`` without annotations: the
parameter names, their kinds (the ``/`` and ``*`` markers) and the reprs of their
defaults. Classes also list the public methods they (or their bitsandbytes bases)
define. The omissions below are the original's internal plumbing
(docs/differences.md, "Public names").
"""

import importlib
import inspect
import json
import pathlib
import types

import pytest

FIXTURE = pathlib.Path(__file__).parent.parent / "fixtures" / "public_api.json"
API = json.loads(FIXTURE.read_text())

#: (module, name) -> why this package does not have it.
OMITTED = {
    ("bitsandbytes", "backends"): "the original's per-device Python kernels; here the ops are native (csrc/)",
    ("bitsandbytes", "cpu_ops"): "bitsandbytes.backends.cpu.ops, see backends",
    ("bitsandbytes", "default_ops"): "bitsandbytes.backends.default.ops, see backends",
    ("bitsandbytes", "consts"): "paths and URLs of the original's packaging",
    ("bitsandbytes", "cuda_specs"): "the original's CUDA library-version probing (this package links its CUDA build)",
    ("bitsandbytes.functional", "lib"): "the original's ctypes handle of its native library; there is none here",
    ("bitsandbytes.functional", "CUBLAS_Context"): "a cuBLAS handle cache for the ctypes calls; no cuBLAS handle here",
}


def _signature(obj) -> str | None:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    params = [p.replace(annotation=inspect.Parameter.empty) for p in sig.parameters.values()]
    return str(sig.replace(parameters=params, return_annotation=inspect.Signature.empty))


def _method(cls: type, name: str):
    raw = inspect.getattr_static(cls, name)
    return raw.__func__ if isinstance(raw, (staticmethod, classmethod)) else getattr(cls, name)


CASES = [(mod, name, entry) for mod, names in API["modules"].items() for name, entry in names.items()]


def test_fixture_is_the_original_0_50_2():
    assert API["version"] == "0.50.2"
    assert len(CASES) > 100  # every module listed, not an empty capture


@pytest.mark.parametrize(("module", "name", "entry"), CASES, ids=[f"{m}.{n}" for m, n, _ in CASES])
def test_public_name_exists_with_the_same_signature(module, name, entry):
    if (module, name) in OMITTED:
        pytest.skip(f"deliberately omitted: {OMITTED[module, name]}")
    mod = importlib.import_module(module)
    assert hasattr(mod, name), f"{module}.{name} ({entry['kind']}) is missing"
    obj = getattr(mod, name)
    if entry["kind"] == "module":
        assert isinstance(obj, types.ModuleType)
        return
    if entry["kind"] == "value":
        assert type(obj).__name__ == entry["type"], f"{module}.{name} is a {type(obj).__name__}"
        return
    assert _signature(obj) == entry["signature"], f"{module}.{name}"
    for method, m_entry in entry.get("methods", {}).items():
        assert hasattr(obj, method), f"{module}.{name}.{method} is missing"
        if m_entry["kind"] != "property":
            assert _signature(_method(obj, method)) == m_entry["signature"], f"{module}.{name}.{method}"


def test_omissions_are_names_of_the_original():
    # an omission that no longer names an original public name is stale
    for module, name in OMITTED:
        assert name in API["modules"][module]
