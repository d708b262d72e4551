"""Exercise 23 (mcp): what each test cell forbids, and package helpers absent from the sandbox.

The hidden tests are in ``solutions/mcp/mcp.ipynb``. The references they import
(``function_schema``, ``jsonrpc_request``, ``validate_arguments``, ``read_tool_result``,
``call_tool_checked`` of ``genai_foundations.mcp_course.messages``) are absent from the
sandbox; so are the helpers below that would do a task in one call (the type table of
task 1, the per-value checks of task 3, the tool definition built on task 1).

The tasks are plain Python (no torch), so there is nothing for the runtime guard to refuse:
the library shortcuts a student could try (pydantic's ``create_model``/``TypeAdapter``, the
SDK's ``JSONRPCRequest`` model, ``jsonschema``'s validators, letting the server validate)
produce other formats, other messages or other exception types than the tasks ask for, and
``tests/grading/shortcuts/mcp.py`` checks that each scores 0. What the static scan cannot
see (it tracks only the numerical libraries' imports) is a student who post-processes
pydantic's schema into the asked format (dropping its ``title`` keys): that is left to the
instructor's reading of the submission.
"""

BLOCKED = [
    "genai_foundations.mcp_course.messages.type_schema",
    "genai_foundations.mcp_course.messages.tool_definition",
    "genai_foundations.mcp_course.messages._value_errors",
]

FORBIDDEN = {
    "test_function_schema": [],
    "test_jsonrpc_request": [],
    "test_validate_arguments": [],
    "test_read_tool_result": [],
    "test_call_tool_checked": [],
}
