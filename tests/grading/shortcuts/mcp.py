"""Shortcut answers for exercise 23 (mcp): library machinery or the package's references instead of the logic."""

SHORTCUTS = {
    # pydantic builds a JSON schema from the signature (with titles and its own layout)
    "function_schema": (
        "from pydantic import create_model\n"
        "def function_schema(fn):\n"
        "    hints = typing.get_type_hints(fn)\n"
        "    fields = {name: (hints[name], ... if p.default is inspect.Parameter.empty else p.default)\n"
        "              for name, p in inspect.signature(fn).parameters.items()}\n"
        "    return create_model('Arguments', **fields).model_json_schema()"),
    # the SDK's own JSON-RPC model (its validation error is not the ValueError asked for; bools pass as ids)
    "jsonrpc_request": (
        "from mcp import types as _types\n"
        "def jsonrpc_request(request_id, method, params=None):\n"
        "    return _types.JSONRPCRequest(jsonrpc='2.0', id=request_id, method=method, params=params).model_dump(\n"
        "        by_alias=True, exclude_none=True)"),
    # jsonschema's validator and its messages
    "validate_arguments": (
        "import jsonschema\n"
        "def validate_arguments(schema, arguments):\n"
        "    return [f\"{'.'.join(map(str, e.path)) or 'arguments'}: {e.message}\"\n"
        "            for e in jsonschema.Draft202012Validator(schema).iter_errors(arguments)]"),
    # the package's reference, unwrapped (absent from the sandbox)
    "read_tool_result": (
        "from genai_foundations.mcp_course import messages as _m\n"
        "def read_tool_result(response, request_id):\n"
        "    return inspect.unwrap(_m.read_tool_result)(response, request_id)"),
    # let the server validate and turn every failure into one exception
    "call_tool_checked": (
        "def call_tool_checked(send, request_id, name, arguments, schema):\n"
        "    response = send({'jsonrpc': '2.0', 'id': request_id, 'method': 'tools/call',\n"
        "                     'params': {'name': name, 'arguments': arguments}})\n"
        "    result = response['result']\n"
        "    if result.get('isError'):\n"
        "        raise ValueError(result['content'][0]['text'])\n"
        "    return result.get('structuredContent')"),
}
EXPECTED_ZERO = ["test_function_schema", "test_jsonrpc_request", "test_validate_arguments", "test_read_tool_result",
                 "test_call_tool_checked"]
