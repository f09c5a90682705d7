"""What an exception says, as a failed cell's ``fail_reason`` and as one line for a user.

``"Kind: message"`` as Python prints an exception's last lines, with two fixes for errors
raised inside Keras:

- ANSI escape sequences (Keras prints the message bold, ``ESC[1m ... ESC[0m``) are removed, so
  a stored reason, a terminal line and a report read as text;
- Keras 3 wraps an error raised in a layer's ``call`` as::

      Exception encountered when calling Dropout.call().

      <the message that explains it>

      Arguments received by Dropout.call():
        • inputs=...

  Its first line says only where; the first line of the reason becomes
  ``"ValueError: in Dropout.call(): <the message>"``, the arguments kept below it.
"""

from __future__ import annotations

import re
import traceback

ANSI_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
"""CSI (colours, bold: ``ESC[1m``), OSC (``ESC]...BEL``) and two-character escape sequences."""
KERAS_WRAPPER = re.compile(
    r"Exception encountered when calling (?P<where>[^\n]+?)\.\n\n(?P<message>.*?)\n*"
    r"(?P<arguments>\nArguments received by (?P=where):\n.*)?\Z",
    re.DOTALL,
)
"""Keras 3's ``inject_argument_info_in_traceback`` message (keras/src/utils/traceback_utils)."""


def strip_ansi(text: str) -> str:
    return ANSI_ESCAPE.sub("", text)


def error_reason(error: BaseException) -> str:
    """The exception as ``"Kind: message"`` (possibly several lines), cleaned as the module
    docstring says; its first line explains the error."""
    text = strip_ansi("".join(traceback.format_exception_only(error))).strip()
    return unwrap_keras(text)


def unwrap_keras(text: str) -> str:
    """``text`` with Keras' "Exception encountered when calling X.call()." header folded into
    the explaining message's first line (text without that header: unchanged)."""
    kind, separator, rest = text.partition(": ")
    body = rest if separator and "\n" not in kind else text
    prefix = f"{kind}: " if body is rest else ""
    found = KERAS_WRAPPER.match(body)
    if found is None or not found["message"].strip():
        return text
    message = found["message"].strip()
    arguments = (found["arguments"] or "").strip()
    folded = f"{prefix}in {found['where']}: {message}"
    return f"{folded}\n\n{arguments}" if arguments else folded
