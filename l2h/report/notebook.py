"""The report inside a notebook cell: the page in a sandboxed ``<iframe srcdoc>``.

The page keeps its own document, so its element ids cannot collide with another cell's, its script
sets nothing on the notebook's window, and its Content-Security-Policy still forbids every network
request.  The sandbox allows scripts (the page's own, by hash) and downloads (the node panel's
CSV / Newick links), but no same-origin access: the page cannot read or change the notebook.
"""

from __future__ import annotations

import html as html_lib
import itertools
import os
from pathlib import Path

__all__ = ["ReportPage", "inline_frame"]

#: Height of the inline report in a notebook cell, in CSS pixels.
CELL_HEIGHT = 560
_counter = itertools.count()


def inline_frame(page: str, height: int = CELL_HEIGHT) -> str:
    """``page`` (a whole HTML document) as one ``<iframe>`` element for a notebook cell.

    Parameters
    ----------
    page : str
        The report, e.g. from :func:`l2h.report.build_report`.
    height : int
        Height of the frame in CSS pixels; its width follows the cell.

    Returns
    -------
    str
        An ``<iframe>`` with a unique id, the page escaped into its ``srcdoc`` attribute.

    Examples
    --------
    >>> frame = inline_frame('<!DOCTYPE html><p title="x">a & b</p>')
    >>> frame.startswith('<iframe id="l2h-report-') and "&quot;x&quot;" in frame and "a &amp; b" in frame
    True
    """
    ident = f"l2h-report-{os.getpid()}-{next(_counter)}"
    return (
        f'<iframe id="{ident}" title="l2h report" sandbox="allow-scripts allow-downloads" '
        f'style="width:100%;height:{int(height)}px;border:1px solid #ddd;" '
        f'srcdoc="{html_lib.escape(page, quote=True)}"></iframe>'
    )


class ReportPage:
    """A report page: shown inline in a notebook, written to a file with :meth:`save`.

    Attributes
    ----------
    html : str
        The whole self-contained page.
    """

    def __init__(self, html: str, height: int = CELL_HEIGHT) -> None:
        self.html = html
        self.height = height

    def _repr_html_(self) -> str:
        return inline_frame(self.html, self.height)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the page to ``path`` atomically; returns the path."""
        from l2h.files import write_atomic

        out = Path(path)
        write_atomic(out, self.html)
        return out

    def __repr__(self) -> str:
        return f"ReportPage({len(self.html.encode('utf-8')) / 1e6:.1f} MB)"
