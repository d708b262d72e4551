"""Chapter 23 (the Model Context Protocol): the course's MCP server, a multi-server client, and message helpers.

* :mod:`~.tools`: the tool functions (book search, digit sampling, a GPT's parameter count), typed and testable
  without MCP;
* :mod:`~.server`: the MCP server (``python -m genai_foundations.mcp_course.server --transport stdio|http``);
* :mod:`~.client`: :class:`~.client.CourseClient` (several servers on one AsyncExitStack, the client callbacks),
  :class:`~.client.HttpServer` and :func:`~.client.serve_request` (one request to an in-memory server);
* :mod:`~.messages`: recording a session's JSON-RPC messages, and building and reading them by hand.

The package is not called ``mcp``: that name belongs to the SDK it imports.
"""
