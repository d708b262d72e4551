"""The JSON-RPC 2.0 messages of an MCP session: record them, print them, build and read them by hand.

MCP frames every exchange as a JSON-RPC 2.0 message: a *request*
``{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {...}}`` expects a
*response* with the same ``id`` carrying either ``result`` or ``error``
(``{"code": -32602, "message": ...}``); a *notification* has a method and no
``id`` and is never answered. The transport (stdio lines, HTTP POST bodies)
only carries these objects.

* :class:`RecordingRead` / :class:`RecordingWrite` wrap a transport's two streams
  and keep every message that passes, in order, as plain dicts (:class:`MessageLog`);
* :func:`jsonrpc_request`, :func:`read_tool_result`: build a request and read a
  ``tools/call`` response, checking what the specification requires;
* :func:`tool_definition` / :func:`function_schema`: the ``tools/list`` entry of a
  plain Python function (a small version of what the SDK derives from type hints);
* :func:`validate_arguments`: check arguments against such a schema (the subset
  of JSON Schema that tool schemas use).
"""

from __future__ import annotations

import inspect
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Callable

JSONRPC = "2.0"
#: The standard JSON-RPC error codes MCP uses.
PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, INTERNAL_ERROR = -32700, -32600, -32601, -32602, -32603


# --- recording a live session --------------------------------------------------------------------------------
def message_dict(message: Any) -> dict:
    """A transport message (``SessionMessage``, a JSON-RPC model or a dict) as the JSON object on the wire."""
    inner = getattr(message, "message", message)
    if isinstance(inner, dict):
        return inner
    if hasattr(inner, "model_dump"):
        return inner.model_dump(by_alias=True, exclude_unset=True, mode="json")
    raise TypeError(f"not a JSON-RPC message: {type(message).__name__}")


@dataclass
class MessageLog:
    """The messages of one session in the order they crossed the transport, each ``(direction, message)``.

    ``direction`` is ``"client→server"`` or ``"server→client"``.
    """

    server: str = "server"
    entries: list[tuple[str, dict]] = field(default_factory=list)

    def add(self, direction: str, message: Any) -> None:
        try:
            self.entries.append((direction, message_dict(message)))
        except TypeError:  # a transport exception travelling on the read stream: not a message
            pass

    def methods(self) -> list[str]:
        """One label per message: the method, or ``response #id`` / ``error #id``."""
        return [describe(m) for _, m in self.entries]

    def first(self, method: str) -> tuple[dict, dict | None]:
        """The first request with ``method`` and the response with its id (``None`` if none came)."""
        for _, message in self.entries:
            if message.get("method") == method and "id" in message:
                return message, self.response_to(message["id"])
        raise KeyError(f"no {method!r} request in this session; methods seen: {sorted(set(self.methods()))}")

    def response_to(self, request_id: Any) -> dict | None:
        for _, message in self.entries:
            if message.get("id") == request_id and "method" not in message:
                return message
        return None


def describe(message: dict) -> str:
    """``tools/call`` for a request or notification, ``result #3`` / ``error #3`` for a response."""
    if "method" in message:
        return message["method"]
    return f"{'error' if 'error' in message else 'result'} #{message.get('id')}"


class RecordingRead:
    """A transport's read stream (server → client) that logs each message it hands to the session."""

    def __init__(self, stream: Any, log: MessageLog):
        self._stream, self._log = stream, log

    async def receive(self):
        item = await self._stream.receive()
        self._log.add("server→client", item)
        return item

    def __aiter__(self):
        return self

    async def __anext__(self):
        try:
            return await self.receive()
        except Exception as err:  # the wrapped stream ends with EndOfStream/ClosedResourceError
            import anyio

            if isinstance(err, (anyio.EndOfStream, anyio.ClosedResourceError)):
                raise StopAsyncIteration from None
            raise

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    def __getattr__(self, name: str) -> Any:  # e.g. last_context
        return getattr(self._stream, name)


class RecordingWrite:
    """A transport's write stream (client → server) that logs each message the session sends."""

    def __init__(self, stream: Any, log: MessageLog):
        self._stream, self._log = stream, log

    async def send(self, item) -> None:
        self._log.add("client→server", item)
        await self._stream.send(item)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def shorten(value: Any, max_items: int = 3, max_chars: int = 60) -> Any:
    """A copy of a JSON value cut down for printing: long strings and lists shortened (``…``)."""
    if isinstance(value, str):
        return value if len(value) <= max_chars else value[:max_chars] + "…"
    if isinstance(value, list):
        items = [shorten(v, max_items, max_chars) for v in value[:max_items]]
        return items + ([f"… {len(value) - max_items} more"] if len(value) > max_items else [])
    if isinstance(value, dict):
        return {k: shorten(v, max_items, max_chars) for k, v in value.items()}
    return value


def format_message(message: dict, max_items: int = 3, max_chars: int = 60) -> str:
    """The message as indented JSON, shortened with :func:`shorten`."""
    return json.dumps(shorten(message, max_items, max_chars), indent=1, ensure_ascii=False)


# --- building and reading messages by hand -------------------------------------------------------------------
def jsonrpc_request(request_id: int | str, method: str, params: dict | None = None) -> dict:
    """A JSON-RPC 2.0 request object: ``{"jsonrpc": "2.0", "id": ..., "method": ..., "params": ...}``.

    ``request_id`` must be an int or a non-empty string (not a bool: JSON-RPC
    forbids null ids in MCP, and a bool is not a number); ``method`` a non-empty
    string; ``params`` a dict (MCP sends named parameters) or ``None``, in which
    case the key is left out. Raises ``ValueError`` saying what was expected.
    """
    if isinstance(request_id, bool) or not isinstance(request_id, (int, str)) or request_id == "":
        raise ValueError(f"request_id must be an int or a non-empty string, got {request_id!r}")
    if not isinstance(method, str) or not method:
        raise ValueError(f"method must be a non-empty string, got {method!r}")
    if params is not None and not isinstance(params, dict):
        raise ValueError(f"params must be a dict of named parameters or None, got {type(params).__name__}")
    message = {"jsonrpc": JSONRPC, "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return message


def read_tool_result(response: dict, request_id: int | str) -> Any:
    """The value of a ``tools/call`` response, or an exception saying what went wrong.

    * not a JSON-RPC 2.0 response to ``request_id`` → ``ValueError``;
    * a JSON-RPC ``error`` (the protocol failed: unknown tool, bad request) →
      ``ValueError("JSON-RPC error <code>: <message>")``;
    * a result with ``isError: true`` (the tool ran and failed; its text says
      why) → ``RuntimeError(<the text contents joined by newlines>)``;
    * otherwise ``structuredContent`` when present, else the text contents
      joined by newlines.
    """
    if not isinstance(response, dict) or response.get("jsonrpc") != JSONRPC:
        raise ValueError("not a JSON-RPC 2.0 message (expected a dict with jsonrpc '2.0')")
    if response.get("id") != request_id or isinstance(response.get("id"), bool):
        raise ValueError(f"response id {response.get('id')!r} does not answer request {request_id!r}")
    if "error" in response:
        error = response["error"]
        raise ValueError(f"JSON-RPC error {error.get('code')}: {error.get('message')}")
    if "result" not in response:
        raise ValueError("a response carries either 'result' or 'error'")
    result = response["result"]
    texts = "\n".join(c.get("text", "") for c in result.get("content", []) if c.get("type") == "text")
    if result.get("isError"):
        raise RuntimeError(texts)
    if result.get("structuredContent") is not None:
        return result["structuredContent"]
    return texts


# --- tool definitions from Python functions -------------------------------------------------------------------
_JSON_TYPES = {int: "integer", float: "number", str: "string", bool: "boolean"}


def type_schema(annotation: Any) -> dict:
    """The JSON schema of a type hint: ``int``, ``float``, ``str``, ``bool``, ``list[T]``, ``T | None``."""
    if annotation in _JSON_TYPES:
        return {"type": _JSON_TYPES[annotation]}
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list and len(args) == 1:
        return {"type": "array", "items": type_schema(args[0])}
    if origin in (typing.Union, types.UnionType) and len(args) == 2 and type(None) in args:
        inner = args[0] if args[1] is type(None) else args[1]
        return {"anyOf": [type_schema(inner), {"type": "null"}]}
    raise ValueError(f"no JSON schema for type {annotation!r}: use int, float, str, bool, list[...] or X | None")


def function_schema(fn: Callable) -> dict:
    """The ``inputSchema`` of ``fn``: an object with one property per parameter, the ones without default required.

    Each property is :func:`type_schema` of the hint, plus ``"default"`` when
    the parameter has one. ``ValueError`` for a parameter without a type hint
    or a ``*args``/``**kwargs`` parameter.
    """
    hints = typing.get_type_hints(fn)
    properties, required = {}, []
    for name, parameter in inspect.signature(fn).parameters.items():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise ValueError(f"{fn.__name__}: *args/**kwargs cannot be described by a schema ({name})")
        if name not in hints:
            raise ValueError(f"{fn.__name__}: parameter {name!r} needs a type hint")
        schema = type_schema(hints[name])
        if parameter.default is inspect.Parameter.empty:
            required.append(name)
        else:
            schema["default"] = parameter.default
        properties[name] = schema
    return {"type": "object", "properties": properties, "required": required}


def tool_definition(fn: Callable) -> dict:
    """The ``tools/list`` entry of ``fn``: name, description (first docstring paragraph), ``inputSchema``."""
    doc = inspect.getdoc(fn) or ""
    return {"name": fn.__name__, "description": doc.split("\n\n")[0].strip(), "inputSchema": function_schema(fn)}


_CHECKS = {"integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
           "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
           "string": lambda v: isinstance(v, str), "boolean": lambda v: isinstance(v, bool),
           "array": lambda v: isinstance(v, list), "null": lambda v: v is None,
           "object": lambda v: isinstance(v, dict)}


def _value_errors(schema: dict, value: Any, where: str) -> list[str]:
    if "anyOf" in schema:
        if any(not _value_errors(option, value, where) for option in schema["anyOf"]):
            return []
        return [f"{where}: expected one of {[o.get('type') for o in schema['anyOf']]}, got {value!r}"]
    kind = schema.get("type")
    if kind is not None and not _CHECKS[kind](value):
        return [f"{where}: expected {kind}, got {value!r}"]
    errors = []
    if "minimum" in schema and value < schema["minimum"]:
        errors.append(f"{where}: expected at least {schema['minimum']}, got {value!r}")
    if "maximum" in schema and value > schema["maximum"]:
        errors.append(f"{where}: expected at most {schema['maximum']}, got {value!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: expected one of {schema['enum']}, got {value!r}")
    if kind == "array" and "items" in schema:
        for i, item in enumerate(value):
            errors += _value_errors(schema["items"], item, f"{where}[{i}]")
    return errors


def validate_arguments(schema: dict, arguments: dict) -> list[str]:
    """The problems of ``arguments`` against an object ``schema`` (empty list: valid), in a fixed order.

    Checks, in this order: every ``required`` name is present ("<name>: required"),
    no unknown name when ``additionalProperties`` is false ("<name>: unexpected"),
    then each given property in the schema's property order: its ``type``
    (``integer`` excludes bools and floats; ``number`` accepts ints),
    ``anyOf``, ``minimum``/``maximum``, ``enum``, and array ``items``.
    """
    if not isinstance(arguments, dict):
        return [f"arguments: expected object, got {arguments!r}"]
    properties = schema.get("properties", {})
    errors = [f"{name}: required" for name in schema.get("required", []) if name not in arguments]
    if schema.get("additionalProperties") is False:
        errors += [f"{name}: unexpected" for name in arguments if name not in properties]
    for name, sub in properties.items():
        if name in arguments:
            errors += _value_errors(sub, arguments[name], name)
    return errors


def call_tool_checked(send: Callable[[dict], dict], request_id: int | str, name: str, arguments: dict,
                      schema: dict) -> Any:
    """A client's careful ``tools/call``: validate locally, send one request, read the response.

    1. :func:`validate_arguments` against the tool's ``schema``; if anything is
       wrong raise ``ValueError`` with the problems joined by ``"; "`` *without
       sending anything* (a bad call costs a round trip and shows the server
       nothing useful);
    2. build the request with :func:`jsonrpc_request` (method ``tools/call``,
       params ``{"name": name, "arguments": arguments}``) and pass it to
       ``send``, which returns the server's JSON-RPC response;
    3. return :func:`read_tool_result` of that response (which raises on errors).
    """
    problems = validate_arguments(schema, arguments)
    if problems:
        raise ValueError("; ".join(problems))
    response = send(jsonrpc_request(request_id, "tools/call", {"name": name, "arguments": arguments}))
    return read_tool_result(response, request_id)
