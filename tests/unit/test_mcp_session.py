"""End to end: the course MCP server as a subprocess, over stdio and streamable HTTP (127.0.0.1), one client.

One :class:`CourseClient` holds both sessions at once on its AsyncExitStack; every tool is
called, a bad call returns an MCP error naming what was expected and the server answers the
next call, and after the client and the HTTP server are closed no child process is left.
"""

import io
import json

import anyio
import numpy as np
import psutil
from PIL import Image

from genai_foundations.mcp_course.client import CourseClient, HttpServer, process_exists
from genai_foundations.mcp_course.tools import CONFIRM_ABOVE

TOOLS = {"search_book", "sample_digits", "gpt_parameter_count", "summarize_topic"}


def _children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


async def _session(url: str, errlog) -> dict:
    seen: dict = {}
    async with CourseClient(confirm=lambda message, schema: {"proceed": True}) as client:
        before = _children()
        await client.connect_stdio("local", errlog=errlog)
        seen["stdio_pids"] = _children() - before
        await client.connect_http("remote", url)
        assert client.info["local"].server_info.name == client.info["remote"].server_info.name == "genai-course"
        listed = await client.list_tools()
        assert {t.name for t in listed["local"]} == {t.name for t in listed["remote"]} == TOOLS
        schemas = {t.name: t.input_schema for t in listed["local"]}
        assert schemas["search_book"]["required"] == ["query"]
        assert schemas["search_book"]["properties"]["k"] == {
            "default": 3, "description": "how many passages", "maximum": 20, "minimum": 1, "title": "K",
            "type": "integer"}
        assert schemas["gpt_parameter_count"]["properties"]["d_model"]["type"] == "integer"

        # every tool, over stdio
        found = await client.call_tool("local", "search_book", {"query": "lambda expressions", "k": 2})
        assert not found.is_error and found.structured_content["result"][0]["topic"] == "lambda"
        counted = await client.call_tool("local", "gpt_parameter_count", {})
        assert counted.structured_content["total"] == 124_439_808
        image = await client.call_tool("local", "sample_digits", {"n": CONFIRM_ABOVE + 1, "seed": 1})
        assert not image.is_error and image.content[0].type == "image" and image.content[0].mime_type == "image/png"
        png = Image.open(io.BytesIO(__import__("base64").b64decode(image.content[0].data)))
        assert np.asarray(png).shape == (66, (CONFIRM_ABOVE + 1) * 65 + 1)
        summary = await client.call_tool("local", "summarize_topic", {"topic": "lambda"})
        assert summary.content[0].text.startswith("Lambdas")
        assert client.samplings and client.elicitations == [
            ("local", f"Drawing {CONFIRM_ABOVE + 1} digits runs the PixelCNN 64 times on a batch of "
             f"{CONFIRM_ABOVE + 1}. Proceed?", "accept")]
        assert [level for server, level, _ in client.logs] == ["info", "info"]
        topics = await client.read_resource("local", "book://topics")
        assert "lambda" in json.loads(topics.contents[0].text)
        prompt = await client.get_prompt("local", "explain_topic", {"topic": "while"})
        assert "while" in prompt.messages[0].content.text

        # over HTTP: a bad call is an MCP error that says what was expected; the server answers the next call
        bad = await client.call_tool("remote", "search_book", {"query": "while", "k": 0})
        assert bad.is_error and "k" in bad.content[0].text and "greater than or equal to 1" in bad.content[0].text
        wrong_type = await client.call_tool("remote", "search_book", {"query": "while", "k": "many"})
        assert wrong_type.is_error and "valid integer" in wrong_type.content[0].text
        good = await client.call_tool("remote", "search_book", {"query": "the break statement", "k": 1})
        assert not good.is_error and good.structured_content["result"][0]["topic"] == "break"

        # the recorded messages follow the life cycle: initialize, its result, initialized, then the calls
        methods = client.transcripts["local"].methods()
        assert methods[:3] == ["initialize", "result #1", "notifications/initialized"]
        request, response = client.transcripts["local"].first("tools/list")
        assert response["result"]["tools"][0]["inputSchema"]["type"] == "object"
        assert "sampling/createMessage" in methods and "elicitation/create" in methods
    return seen


def test_stdio_and_http_sessions_end_to_end(tmp_path):
    # only this test's children count: a test worker may hold processes of earlier tests (kernels, pools)
    earlier = _children()
    with open(tmp_path / "stdio.log", "w") as errlog:
        with HttpServer(tmp_path / "http.log") as url:
            assert url.startswith("http://127.0.0.1:")
            seen = anyio.run(_session, url, errlog)
            assert _children() - earlier, "the HTTP server runs as a child process until the with block ends"
    assert seen["stdio_pids"], "the stdio server should have been a child process"
    for pid in seen["stdio_pids"]:
        assert not process_exists(pid), f"stdio server {pid} outlived its client"
    left = {pid for pid in _children() - earlier if process_exists(pid)}
    assert not left, f"a server process was left behind: {left}"
