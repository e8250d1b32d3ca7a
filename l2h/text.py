"""User-supplied names made safe for a terminal.

Leaf and class names come from user files.  Printed raw, an ESC sequence in one can clear the screen,
retitle the window or plant an OSC-8 hyperlink, and a name like ``[/]`` is Rich markup.
:func:`printable` turns every control or bidirectional-override character into a visible escape
(``\\x1b``, ``\\u202e``); :func:`markup_safe` also escapes Rich markup, for text printed through Rich.
:func:`short_repr` quotes a bad value in an error message, cut to a readable length.
"""

from __future__ import annotations

import re

__all__ = ["markup_safe", "printable", "short_repr", "text_lines", "typed_url"]

# Characters that steer a terminal or reorder text instead of showing a glyph.
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_UNSAFE = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f{_BIDI}\\u2028\\u2029\\ufeff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(name: object) -> str:
    """``name`` as text that cannot drive a terminal.

    C0 and C1 control characters (ESC, BEL, CR, TAB, newline, CSI ``\\x9b`` ...), DEL, line and
    paragraph separators, the BOM and the bidirectional embedding/override/isolate marks are replaced
    by their visible escapes; a backslash stays a backslash.  Other characters, any script, are kept.

    Parameters
    ----------
    name : object
        Any value; it is turned into text with ``str``.

    Returns
    -------
    str

    Examples
    --------
    >>> printable("cat\\x1b[2Jdog")
    'cat\\\\x1b[2Jdog'
    >>> printable("abc\\u202edef")
    'abc\\\\u202edef'
    >>> printable("Straße")
    'Straße'
    """
    return _UNSAFE.sub(_escape, str(name))


def text_lines(text: str) -> list[str]:
    r"""The lines of a names, groups or paths file: a line ends at ``\n`` only (a ``\r`` before it is
    dropped), so U+2028, U+0085, VT, FF and FS to RS stay characters of a name.

    Every line reader of l2h uses this one rule (``str.splitlines`` also breaks at those characters,
    which would split a name in two).  A final line end adds no empty line.

    Parameters
    ----------
    text : str
        The file's content.

    Returns
    -------
    list of str
        The lines, without their line ends.

    Examples
    --------
    >>> text_lines("cat\r\nsea\u2028lion\n\ndog")
    ['cat', 'sea\u2028lion', '', 'dog']
    >>> text_lines("a\n")
    ['a']
    """
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines and not lines[-1] and text.endswith("\n"):
        lines.pop()
    return lines if text else []


def short_repr(value: object, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters (ending ``...``): a bad value quoted in an error message.

    A long string is cut before ``repr`` sees it, so a megabyte-long CSV cell costs nothing.

    Parameters
    ----------
    value : object
        What the message quotes.
    limit : int, default 40
        Most characters shown.

    Returns
    -------
    str

    Examples
    --------
    >>> short_repr("abc")
    "'abc'"
    >>> short_repr("x" * 100, limit=10)
    "'xxxxxx..."
    """
    if isinstance(value, str) and len(value) > limit:
        value = value[:limit]
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def markup_safe(name: object) -> str:
    """``printable(name)`` with Rich markup escaped, for text printed through a Rich console.

    Parameters
    ----------
    name : object
        Any value; it is turned into text with ``str``.

    Returns
    -------
    str

    Examples
    --------
    >>> markup_safe("[/]")
    '\\\\[/]'
    >>> markup_safe("[link=https://example.com]x\\x1b")
    '\\\\[link=https://example.com]x\\\\x1b'
    """
    from rich.markup import escape

    return escape(printable(name))


_FOLDED_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*):/(?P<rest>[^/].*)?$")


def typed_url(path: object) -> str | None:
    """The URL a user typed, when a path object folded its ``//`` (``http:/host/x``), else None.

    ``pathlib.Path("http://host/x")`` (and click's ``Path`` type) becomes ``http:/host/x``; messages
    and fsspec need the URL back.  A local path of that shape that exists is not a URL.

    Parameters
    ----------
    path : str or os.PathLike
        The path as parsed.

    Returns
    -------
    str or None
        The URL with its ``//`` back, or None when ``path`` is not a folded URL.

    Examples
    --------
    >>> from pathlib import Path
    >>> typed_url(Path("http://127.0.0.1:8000/x.npy"))
    'http://127.0.0.1:8000/x.npy'
    >>> typed_url(Path("file:///data/x.npy"))
    'file:///data/x.npy'
    >>> typed_url(Path("data/x.npy")) is None
    True
    """
    import os

    text = os.fspath(path) if isinstance(path, os.PathLike) else str(path)
    match = _FOLDED_URL.match(text)
    if match is None or os.path.lexists(text):
        return None
    rest = match.group("rest") or ""
    if match.group("scheme") == "file":
        return "file:///" + rest
    return f"{match.group('scheme')}://{rest}"
