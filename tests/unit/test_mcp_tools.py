"""The MCP chapter's tools and message helpers, checked without a server (closed forms, PyTorch, libraries)."""

import io
import random

import jsonschema
import numpy as np
import pytest
from PIL import Image

from genai_foundations.architectures.gpt import GPT, GPTConfig, parameter_count
from genai_foundations.data.python_docs import load_python_docs
from genai_foundations.mcp_course import messages, tools


def test_search_book_serves_chapter_22s_retriever():
    hits = tools.search_book("lambda expressions", k=3)
    assert [type(h) for h in hits] == [tools.SearchHit] * 3
    assert hits[0].topic == "lambda"
    assert hits[0].score >= hits[1].score >= hits[2].score
    direct = tools.book_search().search("the break statement", k=4)  # the tool returns the retriever's hits
    served = tools.search_book("the break statement", k=4)
    assert [(h.topic, h.start, h.end) for h in served] == [(h.topic, h.start, h.end) for h in direct]
    assert [h.score for h in served] == pytest.approx([h.score for h in direct], abs=1e-4)
    assert served[0].topic == "break"
    text = load_python_docs()
    assert served[0].snippet == " ".join(text[served[0].start:served[0].end].split())[:160]


@pytest.mark.parametrize("query, k", [("", 3), ("   ", 3), ("while", 0), ("while", 21), ("while", True), (3, 1)])
def test_search_book_rejects_bad_arguments(query, k):
    with pytest.raises(ValueError, match="query|k must"):
        tools.search_book(query, k)


def test_topics_resource_and_prompt():
    assert "lambda" in tools.topic_names()
    assert tools.topic_text("lambda").startswith("Lambdas")
    assert "Lambdas" in tools.explain_prompt("lambda")
    with pytest.raises(ValueError, match="unknown topic"):
        tools.topic_text("no-such-topic")


def test_gpt_parameter_count_matches_the_model_and_the_closed_form():
    small = dict(vocab_size=97, n_positions=32, d_model=48, n_heads=4, n_layers=3)
    counted = tools.gpt_parameter_count(**small)
    assert counted.total == parameter_count(GPT(GPTConfig(**small)))  # a real model on the CPU
    assert counted.per_block == counted.formula_per_block == 12 * 48 ** 2 + 13 * 48
    assert tools.gpt_parameter_count().total == 124_439_808  # GPT-2 small, tied head
    with pytest.raises(ValueError, match="multiple of n_heads"):
        tools.gpt_parameter_count(d_model=50, n_heads=4)
    with pytest.raises(ValueError, match="positive integer"):
        tools.gpt_parameter_count(n_layers=0)


def test_sample_digits_png_is_binary_seeded_and_sized():
    png = tools.sample_digits(3, seed=5)
    image = np.asarray(Image.open(io.BytesIO(png)))
    assert image.shape == (8 * 8 + 2, 3 * (8 * 8 + 1) + 1)
    assert set(np.unique(image)) <= {0, 255}
    assert png == tools.sample_digits(3, seed=5)
    digits = tools.sample_digits_tensor(3, seed=5)
    ink = (image[1:65, 1:65] == 0).astype(np.float32)[::8, ::8]  # the first digit, back to 8x8
    assert np.array_equal(ink, digits[0, 0].numpy())
    for bad in (0, 17, 2.0):
        with pytest.raises(ValueError, match="n must"):
            tools.sample_digits_tensor(bad)


def test_jsonrpc_request_and_validation():
    assert messages.jsonrpc_request(1, "tools/list") == {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    call = messages.jsonrpc_request("a", "tools/call", {"name": "x", "arguments": {}})
    assert call["params"] == {"name": "x", "arguments": {}}
    for bad in [(True, "m", None), (None, "m", None), (1.5, "m", None), ("", "m", None), (1, "", None),
                (1, "m", [1, 2])]:
        with pytest.raises(ValueError):
            messages.jsonrpc_request(*bad)


def test_read_tool_result_distinguishes_protocol_and_tool_errors():
    ok = {"jsonrpc": "2.0", "id": 3, "result": {"content": [{"type": "text", "text": "a"},
                                                           {"type": "text", "text": "b"}]}}
    assert messages.read_tool_result(ok, 3) == "a\nb"
    structured = {"jsonrpc": "2.0", "id": 3, "result": {"content": [], "structuredContent": {"x": 1}}}
    assert messages.read_tool_result(structured, 3) == {"x": 1}
    with pytest.raises(ValueError, match="does not answer"):
        messages.read_tool_result(ok, 4)
    with pytest.raises(ValueError, match="-32602"):
        messages.read_tool_result({"jsonrpc": "2.0", "id": 3, "error": {"code": -32602, "message": "bad"}}, 3)
    with pytest.raises(RuntimeError, match="k must"):
        messages.read_tool_result({"jsonrpc": "2.0", "id": 3, "result": {
            "isError": True, "content": [{"type": "text", "text": "k must be positive"}]}}, 3)


def _example(text: str, k: int = 3, scale: float = 1.0, tags: list[str] | None = None, exact: bool = False) -> list[str]:
    """Look something up.

    More text."""
    return []


def test_tool_definition_agrees_with_the_sdk():
    from mcp.server.mcpserver import MCPServer

    ours = messages.tool_definition(_example)
    assert ours["description"] == "Look something up."
    server = MCPServer("t")
    server.add_tool(_example)
    import anyio

    sdk = anyio.run(server.list_tools)[0].input_schema
    assert ours["inputSchema"]["required"] == sdk["required"] == ["text"]
    for name, prop in sdk["properties"].items():
        mine = ours["inputSchema"]["properties"][name]
        assert mine.get("type") == prop.get("type") and mine.get("default") == prop.get("default"), name
    assert sdk["properties"]["tags"]["anyOf"][0] == ours["inputSchema"]["properties"]["tags"]["anyOf"][0]
    with pytest.raises(ValueError, match="type hint"):
        messages.function_schema(lambda x: x)


def test_validate_arguments_agrees_with_jsonschema():
    schema = {"type": "object", "additionalProperties": False, "required": ["n", "name"],
              "properties": {"n": {"type": "integer", "minimum": 1, "maximum": 5},
                             "x": {"type": "number"}, "name": {"type": "string", "enum": ["a", "b"]},
                             "flag": {"type": "boolean"}, "ids": {"type": "array", "items": {"type": "integer"}},
                             "maybe": {"anyOf": [{"type": "integer"}, {"type": "null"}]}}}
    rng = random.Random(0)
    pool = {"n": [0, 1, 5, 6, 2.5, True, "3"], "x": [1, 1.5, "1", None], "name": ["a", "c", 1],
            "flag": [True, 0], "ids": [[1, 2], [1, "2"], 3], "maybe": [None, 4, "4"], "extra": [1]}
    for _ in range(300):
        args = {k: rng.choice(v) for k, v in pool.items() if rng.random() < 0.6}
        ours = messages.validate_arguments(schema, args)
        theirs = list(jsonschema.Draft202012Validator(schema).iter_errors(args))
        assert bool(ours) == bool(theirs), (args, ours, [e.message for e in theirs])
    assert messages.validate_arguments(schema, {"name": "a"}) == ["n: required"]
    assert messages.validate_arguments(schema, {"n": 9, "name": "a", "zz": 1}) == [
        "zz: unexpected", "n: expected at most 5, got 9"]


def test_message_log_and_sequence_diagram():
    from genai_foundations.diagrams.mcp import draw_sequence, sequence_rows

    log = messages.MessageLog("demo")
    log.add("client→server", messages.jsonrpc_request(1, "tools/call", {"name": "search_book"}))
    log.add("server→client", messages.jsonrpc_request(1, "sampling/createMessage", {}))
    log.add("client→server", {"jsonrpc": "2.0", "id": 1, "result": {}})
    log.add("server→client", {"jsonrpc": "2.0", "method": "notifications/message"})
    log.add("server→client", {"jsonrpc": "2.0", "id": 1, "result": {}})
    assert log.methods() == ["tools/call", "sampling/createMessage", "result #1", "notifications/message",
                             "result #1"]
    rows = sequence_rows(log)
    assert [r["initiator"] for r in rows] == ["client", "server", "server", "server", "client"]
    assert [r["kind"] for r in rows] == ["request", "request", "response", "notification", "response"]
    fig = draw_sequence(log)
    assert [t.get_text() for t in fig.axes[0].texts if t.get_text()][2:] == [r["label"] for r in rows]
    with pytest.raises(ValueError):
        draw_sequence(messages.MessageLog())
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_serve_request_in_memory_reports_both_error_levels():
    from genai_foundations.mcp_course.client import serve_request

    listed = serve_request(messages.jsonrpc_request(1, "tools/list"))["result"]["tools"]
    assert {t["name"] for t in listed} == {"search_book", "sample_digits", "gpt_parameter_count", "summarize_topic"}
    unknown = serve_request(messages.jsonrpc_request(2, "tools/destroy", {}))
    assert unknown["error"]["code"] == messages.METHOD_NOT_FOUND
    refused = serve_request(messages.jsonrpc_request(3, "tools/call", {
        "name": "gpt_parameter_count", "arguments": {"d_model": 50, "n_heads": 4}}))
    with pytest.raises(RuntimeError, match=r"d_model \(50\) must be a multiple of n_heads \(4\)"):
        messages.read_tool_result(refused, 3)  # an anticipated failure keeps its text (the SDK's ToolError)
    schema = next(t["inputSchema"] for t in listed if t["name"] == "search_book")
    with pytest.raises(ValueError, match="k: expected at least 1, got 0"):
        messages.call_tool_checked(serve_request, 4, "search_book", {"query": "x", "k": 0}, schema)
    found = messages.call_tool_checked(serve_request, 5, "search_book", {"query": "lambda expressions", "k": 1}, schema)
    assert found["result"][0]["topic"] == "lambda"
