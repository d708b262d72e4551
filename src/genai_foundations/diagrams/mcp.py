"""The sequence diagram of a recorded MCP session, drawn from a :class:`~genai_foundations.mcp_course.messages.MessageLog`.

Two lifelines (the client and the server) and one arrow per JSON-RPC message in
the order the transport carried it: requests solid, responses dashed, notifications
dotted; requests that the *server* sends (sampling, elicitation) and their
answers are coloured, so the callbacks stand out. The labels are the messages'
own methods and ids, so the picture cannot disagree with the session.
"""

from __future__ import annotations

import matplotlib.pyplot as plt

from genai_foundations.diagrams import white_background
from genai_foundations.mcp_course.messages import MessageLog

KIND_STYLES = {"request": "-", "response": "--", "notification": ":"}
CLIENT_COLOUR, SERVER_COLOUR = "#4C72B0", "#C44E52"


def message_kind(message: dict) -> str:
    """``request`` (method and id), ``notification`` (method, no id) or ``response`` (id, no method)."""
    if "method" in message:
        return "request" if "id" in message else "notification"
    return "response"


def sequence_rows(log: MessageLog) -> list[dict]:
    """One row per message: direction, kind, label and who started the exchange (client or server).

    A response is coloured like the request it answers: requests from the
    server (sampling, elicitation) have ids of their own, so a response travelling
    client→server answers a server request.
    """
    rows = []
    for direction, message in log.entries:
        kind = message_kind(message)
        to_server = direction.startswith("client")
        if kind == "response":
            initiator = "server" if to_server else "client"
            what = "error" if "error" in message else "result"
            label = f"{what} (id {message.get('id')})"
        else:
            initiator = "client" if to_server else "server"
            label = message["method"] + (f" (id {message['id']})" if kind == "request" else "")
            if message["method"] == "tools/call":
                label += f": {message.get('params', {}).get('name', '?')}"
        rows.append({"to_server": to_server, "kind": kind, "label": label, "initiator": initiator})
    return rows


def draw_sequence(log: MessageLog, ax=None, client: str = "client (host)", server: str | None = None,
                  max_messages: int | None = None):
    """Draw the session's messages as a sequence diagram; returns the figure."""
    rows = sequence_rows(log)[:max_messages]
    if not rows:
        raise ValueError("the log holds no messages: record a session first")
    if ax is None:
        fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(rows) + 1.2))
    fig = ax.figure
    left, right = 0.0, 1.0
    top, bottom = 0.0, -(len(rows) + 0.5)
    for x, name in ((left, client), (right, server or f"server '{log.server}'")):
        ax.plot([x, x], [top, bottom], color="#555555", linewidth=1.0)
        ax.text(x, top + 0.45, name, ha="center", va="bottom", fontsize=10, fontweight="bold",
                bbox={"boxstyle": "round,pad=0.3", "facecolor": "#EEEEEE", "edgecolor": "#555555"})
    for i, row in enumerate(rows):
        y = -(i + 0.6)
        start, end = (left, right) if row["to_server"] else (right, left)
        colour = CLIENT_COLOUR if row["initiator"] == "client" else SERVER_COLOUR
        ax.annotate("", xy=(end, y), xytext=(start, y),
                    arrowprops={"arrowstyle": "-|>", "color": colour, "linestyle": KIND_STYLES[row["kind"]],
                                "linewidth": 1.2, "shrinkA": 0, "shrinkB": 0})
        ax.text((left + right) / 2, y + 0.08, row["label"], ha="center", va="bottom", fontsize=8.5, color=colour)
    ax.set_xlim(-0.25, 1.25)
    ax.set_ylim(bottom, top + 1.1)
    ax.axis("off")
    return white_background(fig)
