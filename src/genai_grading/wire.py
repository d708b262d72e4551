"""The plain-data format in which inputs enter the sandbox and outputs leave it.

Nothing crosses the sandbox boundary as a pickle: a value is written as a
JSON tree whose tensor leaves point into a safetensors blob. Decoding such a
pair on the grader's side can only ever produce numbers, strings, lists,
dicts and tensors, whatever the student's process wrote.

Supported values: ``None``, ``bool``, ``int``, ``float`` (including inf and
NaN), ``str``, ``list``, ``tuple``, ``dict`` with string keys, ``torch.dtype``,
``torch.Tensor`` (any shape; ``requires_grad`` is kept), NumPy arrays (as
tensors), and, in inputs only, :class:`Build` placeholders that the sandbox
turns into objects by calling a package constructor.
"""

from __future__ import annotations

import base64
import importlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

import torch

MAX_DEPTH = 32
MAX_NODES = 100_000
MAX_STRING = 10_000


class WireError(ValueError):
    """A value that cannot be written, or a payload that is not a well-formed one."""


@dataclass
class Build:
    """An input object built inside the sandbox as ``factory(*args, **kwargs)``.

    ``factory`` is a dotted name (``"torch.nn.Linear"``,
    ``"genai_foundations.architectures.unet.UNet"``); ``state`` is an optional
    ``state_dict`` loaded into the result. The grader builds the same object
    for the reference, so both sides compute on equal objects.
    """

    factory: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    state: dict[str, torch.Tensor] | None = None
    seed: int | None = None  # seeds torch before the constructor, for random initialisation


def build(value: Build) -> Any:
    """Call the factory of a :class:`Build` (on either side of the sandbox)."""
    module_name, _, attr = value.factory.rpartition(".")
    if not module_name.startswith(("torch", "genai_foundations")):
        raise WireError(f"inputs may only be built by torch or genai_foundations constructors, not {value.factory!r}")
    target = importlib.import_module(module_name)
    for part in attr.split("."):
        target = getattr(target, part)
    if value.seed is not None:
        torch.manual_seed(value.seed)
    obj = target(*value.args, **value.kwargs)
    if value.state is not None:
        obj.load_state_dict(value.state)
    return obj


def materialise(value: Any) -> Any:
    """Replace every :class:`Build` placeholder in a nested value by the object it describes."""
    if isinstance(value, Build):
        return build(value)
    if isinstance(value, list):
        return [materialise(v) for v in value]
    if isinstance(value, tuple):
        return tuple(materialise(v) for v in value)
    if isinstance(value, dict):
        return {k: materialise(v) for k, v in value.items()}
    return value


def encode(value: Any) -> tuple[dict, dict[str, torch.Tensor]]:
    """Split ``value`` into a JSON-able tree and a dict of tensors (for safetensors)."""
    tensors: dict[str, torch.Tensor] = {}

    def enc(v: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise WireError(f"value nested deeper than {MAX_DEPTH} levels")
        if v is None:
            return {"t": "none"}
        if isinstance(v, bool):
            return {"t": "bool", "v": v}
        if isinstance(v, int):
            return {"t": "int", "v": str(v)}
        if isinstance(v, float):
            return {"t": "float", "v": repr(v)}
        if isinstance(v, str):
            return {"t": "str", "v": v[:MAX_STRING]}
        if isinstance(v, torch.dtype):
            return {"t": "dtype", "v": str(v).replace("torch.", "")}
        if type(v).__module__ == "numpy" and hasattr(v, "shape"):
            v = torch.as_tensor(v)
        if isinstance(v, torch.Tensor):
            key = f"t{len(tensors)}"
            tensors[key] = v.detach().to("cpu").contiguous().clone()
            return {"t": "tensor", "k": key, "rg": bool(v.requires_grad)}
        if isinstance(v, (list, tuple)):
            return {"t": type(v).__name__, "v": [enc(x, depth + 1) for x in v]}
        if isinstance(v, dict):
            if not all(isinstance(k, str) for k in v):
                raise WireError("dict keys must be strings")
            return {"t": "dict", "v": {k: enc(x, depth + 1) for k, x in v.items()}}
        if isinstance(v, Build):
            state = None if v.state is None else {k: enc(x, depth + 1) for k, x in v.state.items()}
            return {"t": "build", "factory": v.factory, "args": enc(tuple(v.args), depth + 1),
                    "kwargs": enc(dict(v.kwargs), depth + 1), "state": state, "seed": v.seed}
        if hasattr(v, "item") and callable(v.item) and type(v).__module__ == "numpy":
            return enc(v.item(), depth)
        return {"t": "unsupported", "v": type(v).__name__[:100]}

    return enc(value, 0), tensors


def decode(tree: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Rebuild a value from :func:`encode`'s output; raise :class:`WireError` on anything malformed."""
    count = [0]

    def dec(node: Any, depth: int) -> Any:
        count[0] += 1
        if count[0] > MAX_NODES or depth > MAX_DEPTH:
            raise WireError("payload too large or nested too deep")
        if not isinstance(node, dict) or "t" not in node:
            raise WireError("malformed payload node")
        kind = node["t"]
        if kind == "none":
            return None
        if kind == "bool":
            return bool(node["v"])
        if kind == "int":
            text = str(node["v"])
            if len(text) > 40:
                raise WireError("integer too long")
            return int(text)
        if kind == "float":
            return float(str(node["v"])[:64])
        if kind == "str":
            return str(node["v"])[:MAX_STRING]
        if kind == "dtype":
            name = str(node["v"])
            dtype = getattr(torch, name, None)
            if not isinstance(dtype, torch.dtype):
                raise WireError(f"unknown dtype {name!r}")
            return dtype
        if kind == "tensor":
            key = node.get("k")
            if key not in tensors:
                raise WireError(f"missing tensor {key!r}")
            t = tensors[key]
            return t.requires_grad_(True) if node.get("rg") and t.is_floating_point() else t
        if kind in ("list", "tuple"):
            items = [dec(x, depth + 1) for x in node["v"]]
            return items if kind == "list" else tuple(items)
        if kind == "dict":
            if not isinstance(node["v"], dict):
                raise WireError("malformed dict")
            return {str(k): dec(x, depth + 1) for k, x in node["v"].items()}
        if kind == "build":
            state = None if node.get("state") is None else {k: dec(x, depth + 1) for k, x in node["state"].items()}
            return Build(str(node["factory"]), dec(node["args"], depth + 1), dec(node["kwargs"], depth + 1), state,
                         node.get("seed"))
        if kind == "unsupported":
            return Unsupported(str(node.get("v", "?"))[:100])
        raise WireError(f"unknown node type {kind!r}")

    return dec(tree, 0)


@dataclass(frozen=True)
class Unsupported:
    """Stands for a value of a type the wire format does not carry (compared as wrong)."""

    type_name: str


def dumps(value: Any) -> tuple[bytes, bytes]:
    """``value`` as (JSON bytes, safetensors bytes)."""
    from safetensors.torch import save

    tree, tensors = encode(value)
    return json.dumps(tree, allow_nan=False).encode(), save(tensors) if tensors else b""


def loads(tree_bytes: bytes, tensor_bytes: bytes, max_bytes: int = 256 * 2**20) -> Any:
    """Inverse of :func:`dumps`; never unpickles, refuses oversized payloads."""
    from safetensors.torch import load

    if len(tree_bytes) + len(tensor_bytes) > max_bytes:
        raise WireError(f"payload larger than {max_bytes} bytes")
    try:
        tree = json.loads(tree_bytes)
    except (ValueError, RecursionError) as err:
        raise WireError(f"payload is not valid JSON: {err}") from None
    try:
        tensors = load(tensor_bytes) if tensor_bytes else {}
    except Exception as err:  # safetensors raises its own error types on malformed input
        raise WireError(f"payload tensors are not valid safetensors data: {err}") from None
    return decode(tree, tensors)


def to_message(value: Any) -> dict:
    """``value`` as one JSON-able dict (tensors base64-encoded), for a kernel display message."""
    tree, tensor_bytes = dumps(value)
    return {"tree": base64.b64encode(tree).decode(), "tensors": base64.b64encode(tensor_bytes).decode()}


def from_message(message: Any, max_bytes: int = 256 * 2**20) -> Any:
    """Inverse of :func:`to_message`."""
    if not isinstance(message, dict):
        raise WireError("payload is not an object")
    try:
        tree = base64.b64decode(str(message.get("tree", "")), validate=True)
        tensor_bytes = base64.b64decode(str(message.get("tensors", "")), validate=True)
    except ValueError as err:
        raise WireError(f"payload is not valid base64: {err}") from None
    return loads(tree, tensor_bytes, max_bytes)


def is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
