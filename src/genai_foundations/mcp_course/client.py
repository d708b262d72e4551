"""An MCP host's client side: several servers at once, over stdio and streamable HTTP, with the client callbacks.

:class:`CourseClient` is an async context manager holding one
:class:`contextlib.AsyncExitStack`. Each ``connect_*`` call enters two more
contexts on that stack (the transport, then the :class:`mcp.ClientSession`),
runs the ``initialize`` handshake and keeps the session under a name; leaving
the ``async with`` block closes every session and transport in reverse order,
also when an exception escapes (so a stdio server process never outlives the
client).

The client answers the three requests a server may send back:

* **sampling** (``sampling/createMessage``): the server asks the host's model for
  a completion. The course has no chat model, so the default is a stand-in that
  answers with the first sentences of the passage it was given (pass ``model=``
  to plug a real one in);
* **elicitation** (``elicitation/create``): the server asks the user a question
  with a small form; ``confirm(message, schema)`` decides (the default declines,
  since nobody is there to ask);
* **logging** (``notifications/message``): kept in :attr:`CourseClient.logs`.

:class:`HttpServer` starts the course server as a subprocess listening on
127.0.0.1 and a free port, waits until it accepts connections, and always
terminates it.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TextIO

from genai_foundations.mcp_course.messages import MessageLog, RecordingRead, RecordingWrite

SERVER_MODULE = "genai_foundations.mcp_course.server"


def extractive_model(prompt: str, sentences: int = 2) -> str:
    """A stand-in for the host's language model: the first ``sentences`` sentences of the quoted passage."""
    passage = prompt.split("---", 2)[1] if prompt.count("---") >= 2 else prompt
    text = " ".join(passage.replace("*", " ").split())
    parts = re.split(r"(?<=[.!?])\s+", text)
    return " ".join(parts[:sentences])


def decline(message: str, schema: dict) -> dict | None:
    """The default elicitation policy: no user is there to ask, so decline (return ``None``)."""
    return None


def server_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a server subprocess: this one's, one CPU thread, ``src/`` on the path when needed."""
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    src = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(extra or {})
    return env


@dataclass
class CourseClient:
    """Sessions with several MCP servers, kept on one :class:`AsyncExitStack` (use ``async with``)."""

    model: Callable[[str], str] = extractive_model
    confirm: Callable[[str, dict], dict | None] = decline
    record: bool = True
    sessions: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    logs: list[tuple[str, str, Any]] = field(default_factory=list)
    elicitations: list[tuple[str, str, str]] = field(default_factory=list)
    samplings: list[tuple[str, str]] = field(default_factory=list)
    transcripts: dict[str, MessageLog] = field(default_factory=dict)

    async def __aenter__(self) -> "CourseClient":
        self._stack = AsyncExitStack()
        await self._stack.__aenter__()
        return self

    async def __aexit__(self, *exc) -> bool | None:
        self.sessions.clear()
        return await self._stack.__aexit__(*exc)

    # --- the three callbacks, bound to one server's name ------------------------------------------------------
    def _callbacks(self, name: str) -> dict[str, Any]:
        from mcp import types

        async def sampling(context, params: types.CreateMessageRequestParams):
            prompt = "\n".join(m.content.text for m in params.messages if getattr(m.content, "type", "") == "text")
            answer = self.model(prompt)
            self.samplings.append((name, answer))
            return types.CreateMessageResult(role="assistant", model="course-stand-in",
                                             content=types.TextContent(type="text", text=answer),
                                             stop_reason="endTurn")

        async def elicitation(context, params: types.ElicitRequestParams):
            schema = getattr(params, "requested_schema", {}) or {}
            answer = self.confirm(params.message, schema)
            self.elicitations.append((name, params.message, "decline" if answer is None else "accept"))
            if answer is None:
                return types.ElicitResult(action="decline")
            return types.ElicitResult(action="accept", content=answer)

        async def logging(params: types.LoggingMessageNotificationParams) -> None:
            self.logs.append((name, params.level, params.data))

        return {"sampling_callback": sampling, "elicitation_callback": elicitation, "logging_callback": logging}

    async def _open_session(self, name: str, streams) -> Any:
        from mcp import ClientSession, types

        if name in self.sessions:
            raise ValueError(f"a server named {name!r} is already connected")
        read, write = streams
        if self.record:
            log = self.transcripts[name] = MessageLog(name)
            read, write = RecordingRead(read, log), RecordingWrite(write, log)
        session = await self._stack.enter_async_context(
            ClientSession(read, write, client_info=types.Implementation(name="genai-course-host", version="1.0"),
                          **self._callbacks(name)))
        self.info[name] = await session.initialize()
        self.sessions[name] = session
        return self.info[name]

    async def connect_stdio(self, name: str, errlog: TextIO, args: list[str] | None = None,
                            command: str = sys.executable, env: dict[str, str] | None = None) -> Any:
        """Start a server subprocess (the course server by default) and talk to it over its stdin/stdout.

        ``errlog`` receives the server's stderr: give a file (a Jupyter kernel has
        no usable ``sys.stderr`` for a subprocess).
        """
        from mcp import StdioServerParameters
        from mcp.client.stdio import stdio_client

        params = StdioServerParameters(command=command, args=args if args is not None else ["-m", SERVER_MODULE],
                                       env=server_env(env))
        streams = await self._stack.enter_async_context(stdio_client(params, errlog=errlog))
        return await self._open_session(name, streams)

    async def connect_http(self, name: str, url: str) -> Any:
        """Connect to a server already listening at ``url`` (streamable HTTP, e.g. ``http://127.0.0.1:8765/mcp``)."""
        from mcp.client.streamable_http import streamable_http_client

        streams = await self._stack.enter_async_context(streamable_http_client(url))
        return await self._open_session(name, streams)

    def session(self, server: str) -> Any:
        if server not in self.sessions:
            raise KeyError(f"no server named {server!r}; connected: {sorted(self.sessions)}")
        return self.sessions[server]

    async def list_tools(self) -> dict[str, list[Any]]:
        """Every connected server's tools (``tools/list``), by server name."""
        return {name: (await session.list_tools()).tools for name, session in self.sessions.items()}

    async def call_tool(self, server: str, tool: str, arguments: dict | None = None) -> Any:
        """Call ``tool`` on ``server`` (``tools/call``) and return the :class:`~mcp.types.CallToolResult`."""
        return await self.session(server).call_tool(tool, arguments or {})

    async def read_resource(self, server: str, uri: str) -> Any:
        return await self.session(server).read_resource(uri)

    async def get_prompt(self, server: str, name: str, arguments: dict[str, str]) -> Any:
        return await self.session(server).get_prompt(name, arguments)


# --- a server over streamable HTTP, as a subprocess ----------------------------------------------------------
def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class HttpServer:
    """The course server over streamable HTTP on 127.0.0.1 in a subprocess (``with HttpServer(log) as url:``).

    Entering starts it on a free port and waits until the port accepts a
    connection (``TimeoutError`` after ``timeout`` seconds; ``RuntimeError``
    with the log's tail if the process exits first); leaving terminates it
    (SIGTERM, then SIGKILL after 5 s) and waits for it, so no process is left.
    """

    def __init__(self, log_path: str | os.PathLike, port: int | None = None, timeout: float = 60.0):
        self.host, self.port = "127.0.0.1", port or free_port()
        self.url = f"http://{self.host}:{self.port}/mcp"
        self.log_path, self.timeout = Path(log_path), timeout
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> str:
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", SERVER_MODULE, "--transport", "http", "--host", self.host, "--port", str(self.port)],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, env=server_env())
        deadline = time.monotonic() + self.timeout
        try:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the server exited with code {self.process.returncode}: "
                                       f"{self.log_path.read_text()[-800:]}")
                try:
                    with socket.create_connection((self.host, self.port), timeout=0.5):
                        return self.url
                except OSError:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"the server did not listen on {self.host}:{self.port} "
                                           f"within {self.timeout:.0f} s") from None
                    time.sleep(0.1)
        except BaseException:
            self.stop()
            raise

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def stop(self) -> int | None:
        """Terminate the server and wait for it; returns its exit code."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()
        return None if self.process is None else self.process.returncode

    def __exit__(self, *exc) -> None:
        self.stop()


def process_exists(pid: int) -> bool:
    """Whether a process with this id is still running (and not a zombie) on this machine."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


# --- one raw JSON-RPC request to an in-memory server (tests and the exercise) ---------------------------------
def run_blocking(fn: Callable[..., Any], *args: Any) -> Any:
    """``anyio.run(fn, *args)``, also from code that runs inside an event loop (a Jupyter cell): then in a thread."""
    import anyio

    try:
        import asyncio

        asyncio.get_running_loop()
    except RuntimeError:
        return anyio.run(fn, *args)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(anyio.run, fn, *args).result()


_SERVER: list = []


def _memory_server():
    if not _SERVER:
        from genai_foundations.mcp_course.server import build_server

        _SERVER.append(build_server())
    return _SERVER[0]


async def _exchange(request: dict, timeout: float = 60.0) -> dict:
    import anyio
    from mcp import types
    from mcp.client._memory import InMemoryTransport  # the SDK's in-process transport (what mcp.Client uses)
    from mcp.shared.message import SessionMessage

    message = types.jsonrpc_message_adapter.validate_python(request)  # the SDK's own check of the request
    handshake = {"jsonrpc": "2.0", "id": "handshake", "method": "initialize",
                 "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                            "clientInfo": {"name": "genai-course-exercise", "version": "1.0"}}}
    async with InMemoryTransport(_memory_server()) as (read, write):
        await write.send(SessionMessage(types.jsonrpc_message_adapter.validate_python(handshake)))
        await read.receive()
        await write.send(SessionMessage(types.jsonrpc_message_adapter.validate_python(
            {"jsonrpc": "2.0", "method": "notifications/initialized"})))
        await write.send(SessionMessage(message))
        with anyio.fail_after(timeout):
            while True:
                answer = await read.receive()
                if isinstance(answer, Exception):
                    raise answer
                data = answer.message.model_dump(by_alias=True, exclude_unset=True, mode="json")
                if "method" in data and "id" in data:  # a request of the server (sampling, elicitation): refuse
                    refusal = {"jsonrpc": "2.0", "id": data["id"], "error": {
                        "code": -32601, "message": f"this client does not handle {data['method']}"}}
                    await write.send(SessionMessage(types.jsonrpc_message_adapter.validate_python(refusal)))
                elif "method" not in data and data.get("id") == request.get("id"):
                    return data


def serve_request(request: dict) -> dict:
    """Send one JSON-RPC request (a dict) to the course server in memory and return its response as a dict.

    A fresh in-memory session is opened for the request (``initialize`` and
    ``notifications/initialized`` first), so no process, socket or network is
    involved. The client declares no capabilities: a request the server sends
    back (sampling, elicitation) is answered with a JSON-RPC error, and the
    server then reports the call as failed. Raises ``ValueError`` (pydantic's) when
    ``request`` is not a valid JSON-RPC message for the SDK.
    """
    if not isinstance(request, dict) or "id" not in request:
        raise ValueError(f"expected a JSON-RPC request (a dict with an id), got {request!r}")
    return run_blocking(_exchange, request)
