"""The course's MCP server, built with the official SDK's :class:`~mcp.server.mcpserver.MCPServer`.

Run it as a program::

    python -m genai_foundations.mcp_course.server --transport stdio
    python -m genai_foundations.mcp_course.server --transport http --port 8765   # http://127.0.0.1:8765/mcp

What it exposes (see :func:`build_server`):

* tools ``search_book``, ``sample_digits`` (returns a PNG image), ``gpt_parameter_count``
  (structured output) and ``summarize_topic`` (asks the *client's* model through
  sampling); their JSON schemas come from the type hints and ``Field`` constraints;
* resources ``book://topics`` (the topic list) and the template ``book://topics/{name}``;
* the prompt ``explain_topic``.

``sample_digits`` logs to the client (``notifications/message``) and, for more
than :data:`~genai_foundations.mcp_course.tools.CONFIRM_ABOVE` digits, asks the
user first (elicitation): the three client callbacks are all exercised.

(No ``from __future__ import annotations`` here: the SDK evaluates the tools' type
hints when they are registered, so the hints must be real objects.)
"""

import argparse
import json
import sys
import warnings
from typing import Annotated

from mcp.server.mcpserver import Context, Image, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.types import SamplingMessage, TextContent
from pydantic import BaseModel, Field

from genai_foundations.mcp_course import tools

HOST = "127.0.0.1"
HTTP_PATH = "/mcp"

Count = Annotated[int, Field(ge=1, description="a positive size")]


class Confirm(BaseModel):
    """What the server asks the user before a long call (an elicitation form)."""

    proceed: bool = Field(description="draw the digits anyway")


def checked(fn, *args, error: type[Exception] = ToolError):
    """``fn(*args)``, with a ``ValueError`` (bad input the tool anticipated) re-raised as the SDK's ``ToolError``.

    The SDK passes a ``ToolError``'s text to the client (the model can read it and
    retry) but hides the text of any other exception, which it treats as a crash.
    """
    try:
        return fn(*args)
    except ValueError as err:
        raise error(str(err)) from err


def build_server(log_level: str = "WARNING") -> MCPServer:
    """A fresh :class:`MCPServer` named ``genai-course`` with the course's tools, resources and prompt."""
    warnings.filterwarnings("ignore", category=MCPDeprecationWarning)  # logging is still the handshake protocols'
    server = MCPServer("genai-course", version="1.0", log_level=log_level,
                       instructions="Tools of the Generative AI Foundations course: search its text, "
                                    "sample digits from its PixelCNN, count a GPT's parameters.")

    @server.tool(title="Search the book's text")
    def search_book(query: Annotated[str, Field(min_length=1, description="words to look for")],
                    k: Annotated[int, Field(ge=1, le=tools.MAX_K, description="how many passages")] = 3,
                    ) -> list[tools.SearchHit]:
        """Rank passages of the book's text (the Python help topics) for a query with BM25 and return the best k."""
        return checked(tools.search_book, query, k)

    @server.tool(title="Sample digits from the PixelCNN")
    async def sample_digits(ctx: Context,
                            n: Annotated[int, Field(ge=1, le=tools.MAX_DIGITS, description="how many digits")] = 4,
                            seed: Annotated[int, Field(ge=0, description="seed of the sampler")] = 0) -> Image:
        """Draw n binary 8x8 digits from the course's trained PixelCNN (pixel by pixel) and return a PNG."""
        if n > tools.CONFIRM_ABOVE:
            answer = await ctx.elicit(f"Drawing {n} digits runs the PixelCNN 64 times on a batch of {n}. Proceed?",
                                      Confirm)
            if answer.action != "accept" or not answer.data.proceed:
                raise ToolError(f"the user did not confirm drawing {n} digits")
        await ctx.info(f"sampling {n} digits with seed {seed}")
        png = checked(tools.sample_digits, n, seed)
        await ctx.info(f"done: {len(png)} bytes of PNG")
        return Image(data=png, format="png")

    @server.tool(title="Count a GPT's parameters")
    def gpt_parameter_count(vocab_size: Count = 50257, n_positions: Count = 1024, d_model: Count = 768,
                            n_heads: Count = 12, n_layers: Count = 12) -> tools.ParameterCount:
        """The transformers chapter's worked example: the parameters of a GPT (tied head, d_ff = 4 d_model)."""
        return checked(tools.gpt_parameter_count, vocab_size, n_positions, d_model, n_heads, n_layers)

    @server.tool(title="Summarise a topic with the client's model")
    async def summarize_topic(topic: str, ctx: Context) -> str:
        """Ask the client's language model (MCP sampling) to explain one help topic of the book."""
        prompt = checked(tools.explain_prompt, topic)
        result = await ctx.session.create_message(
            messages=[SamplingMessage(role="user", content=TextContent(type="text", text=prompt))], max_tokens=200)
        content = result.content
        return content.text if isinstance(content, TextContent) else str(content)

    @server.resource("book://topics", name="topics", mime_type="application/json")
    def topics_resource() -> str:
        """The keys of the book's help topics."""
        return json.dumps(tools.topic_names())

    @server.resource("book://topics/{name}", name="topic", mime_type="text/plain")
    def topic_resource(name: str) -> str:
        """The text of one help topic."""
        return checked(tools.topic_text, name, error=ResourceError)

    @server.prompt(title="Explain a topic")
    def explain_topic(topic: str) -> str:
        """A prompt asking a model to explain one help topic from the book's own text."""
        return checked(tools.explain_prompt, topic)

    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    parser.add_argument("--host", default=HOST, help="the address to listen on (http; loopback by default)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    server = build_server(args.log_level)
    if args.transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host=args.host, port=args.port, streamable_http_path=HTTP_PATH)


if __name__ == "__main__":
    sys.exit(main())
