"""Newick text: one tokenizer, one parser of rooted trees of any arity, one writer.

:func:`l2h.treeio.parse_newick` restricts the parsed tree to a binary one and numbers it as merges;
:func:`l2h.taxonomy.parse_newick_taxonomy` takes it as is.  Both writers (:meth:`l2h.Hierarchy.to_newick`
and :meth:`l2h.taxonomy.Taxonomy.to_newick`) go through :func:`format_nodes`.

The grammar read is ``tree := node ";"``, ``node := ["(" node {"," node} ")"] [label] [":" length]``.
A label is bare (no white space and none of ``( ) [ ] , : ;``; a quote may follow its first character)
or quoted with ``'`` or ``"`` (a doubled quote inside stands for one).  ``[comments]`` and white space
may stand between any two tokens, and a byte-order mark may start the text.  An unclosed ``[``, a
``]`` outside a comment and an unclosed quote are errors.  Parsing and writing use explicit stacks:
a tree 100 000 levels deep reads and writes like a balanced one.

Examples
--------
>>> tree = parse("((a:1,b:1)ab:1,c:2)[a comment];")
>>> tree.names, tree.children
(['', 'ab', 'a', 'b', 'c'], [[1, 4], [2, 3], [], [], []])
>>> tree.lengths[1:]
[1.0, 1.0, 1.0, 2.0]
>>> format_nodes(0, tree.children, [quote(name) if name else "" for name in tree.names])
'((a,b)ab,c);'
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from l2h._validation import InputError

__all__ = ["NewickNodes", "format_length", "format_nodes", "parse", "quote", "tokenize"]

# One C-level pass splits the text into tokens: white space, comments, quoted labels, punctuation,
# bare labels, and any other single character (an unclosed ``[`` or quote, or a stray ``]``).
_TOKEN = re.compile(
    r"""[\s\ufeff]+|\[[^\]]*\]|'(?:[^']|'')*'|"(?:[^"]|"")*"|[(),:;]|[^\s(),:;\[\]'"][^\s(),:;\[\]]*|.""", re.DOTALL
)
# Characters a name may hold and still be written bare: no white space, no Newick punctuation
# ``( ) [ ] ' : ; ,`` and no ``"`` (ete3 and other readers take it as the start of a quoted name).
_UNQUOTED_OK = re.compile(r"[^\s()\[\]'\":;,]+")


@dataclass(frozen=True)
class NewickNodes:
    """A parsed Newick tree: nodes numbered in pre-order, node 0 the root.

    Attributes
    ----------
    names : list of str
        Label of every node (``""`` when it has none), quotes removed.
    lengths : list of float
        Branch length above every node (NaN when it has none).
    children : list of list of int
        Children of every node, in text order (empty for a leaf).
    """

    names: list[str]
    lengths: list[float]
    children: list[list[int]]

    @property
    def leaves(self) -> list[int]:
        """The nodes without children, in text order."""
        return [v for v, kids in enumerate(self.children) if not kids]

    @property
    def parents(self) -> list[int]:
        """Parent of every node, ``-1`` at the root."""
        parent = [-1] * len(self.children)
        for v, kids in enumerate(self.children):
            for c in kids:
                parent[c] = v
        return parent


def tokenize(text: str, source: str = "Newick") -> tuple[list[str], list[int]]:
    """Split Newick text into tokens, dropping white space and comments.

    Parameters
    ----------
    text : str
        Newick text.
    source : str, default "Newick"
        What the text is, to start error messages.

    Returns
    -------
    tokens : list of str
        Punctuation ``( ) , : ;`` as itself; every label prefixed with ``"w"`` (quotes removed).
    starts : list of int
        Offset of every token in ``text``.

    Raises
    ------
    InputError
        An unclosed comment or quoted label, or a ``]`` outside a comment.

    Examples
    --------
    >>> tokenize("('a b',c)[x];")
    (['(', 'wa b', ',', 'wc', ')', ';'], [0, 1, 6, 7, 8, 12])
    """
    tokens: list[str] = []
    starts: list[int] = []
    for match in _TOKEN.finditer(text):
        tok = match.group()
        c = tok[0]
        if c in "(),:;":
            tokens.append(tok)
        elif c.isspace() or c == "\ufeff":
            continue
        elif c == "[":
            if len(tok) == 1:
                raise InputError(f"{source} has an unclosed comment '[' at character {match.start()}")
            continue
        elif c in "'\"":
            if len(tok) == 1:
                raise InputError(f"{source} has an unclosed quoted label at character {match.start()}")
            tokens.append("w" + tok[1:-1].replace(c + c, c))
        elif c == "]":
            raise InputError(f"{source} has a stray ']' at character {match.start()} (no comment is open)")
        else:
            tokens.append("w" + tok)
        starts.append(match.start())
    return tokens, starts


def parse(text: str, source: str = "Newick") -> NewickNodes:
    """Parse one rooted Newick tree of any arity (iterative: any depth).

    Parameters
    ----------
    text : str
        Newick text (see the module docstring for what is accepted).
    source : str, default "Newick"
        What the text is (e.g. ``"taxonomy file t.nwk"``): every error message starts with it.

    Returns
    -------
    NewickNodes
        Names, branch lengths and children of every node, in pre-order.

    Raises
    ------
    InputError
        One line saying what is wrong and at which character.

    Examples
    --------
    >>> parse("(a,b,(c)d)e;").children
    [[1, 2, 3], [], [], [4], []]
    """
    if not text.strip(" \t\n\r\x0b\x0c\ufeff"):
        raise InputError(f"{source} is empty")
    tokens, starts = tokenize(text, source)
    tokens.append("")  # end marker
    starts.append(len(text))
    names: list[str] = [""]
    lengths: list[float] = [math.nan]
    kids: list[list[int]] = [[]]
    stack: list[int] = []  # the open clades
    node = 0
    j = 0
    while True:
        while tokens[j] == "(":  # a clade opens: its first child follows
            j += 1
            stack.append(node)
            node = len(names)
            names.append("")
            lengths.append(math.nan)
            kids.append([])
            kids[stack[-1]].append(node)
        # the label and length of `node`, then every clade that closes here
        while True:
            j = _label_and_length(tokens, starts, j, node, names, lengths, source)
            if not stack:
                break
            tok = tokens[j]
            if tok == ")":
                j += 1
                node = stack.pop()
                continue
            if tok == ",":
                j += 1
                node = len(names)
                names.append("")
                lengths.append(math.nan)
                kids.append([])
                kids[stack[-1]].append(node)
                break
            if not tok:
                raise InputError(f"{source} ended inside a clade (missing ')')")
            if tok == ";":
                raise InputError(f"{source} has its final ';' inside a clade at character {starts[j]} (missing ')')")
            raise InputError(f"{source} has an unexpected {_shown(tok)} at character {starts[j]}")
        if not stack:
            break
    _check_end(tokens, starts, j, source)
    return NewickNodes(names=names, lengths=lengths, children=kids)


def _label_and_length(
    tokens: list[str], starts: list[int], j: int, node: int, names: list[str], lengths: list[float], source: str
) -> int:
    """Read the optional label and ``:length`` of ``node`` from token ``j``; the next token's index."""
    if tokens[j][:1] == "w":
        names[node] = tokens[j][1:]
        j += 1
    if tokens[j] == ":":
        j += 1
        value = tokens[j][1:] if tokens[j][:1] == "w" else ""
        try:
            lengths[node] = float(value)
        except ValueError:
            at = starts[j] if value else starts[j - 1] + 1
            raise InputError(f"{source} has a bad branch length {value!r} at character {at}") from None
        j += 1
    return j


def _check_end(tokens: list[str], starts: list[int], j: int, source: str) -> None:
    """The root's clade ended at token ``j``: a ``;`` and nothing else must follow."""
    tok = tokens[j]
    if tok == ";":
        if tokens[j + 1]:
            raise InputError(f"{source} has text after the final ';' at character {starts[j + 1]}")
        return
    if not tok:
        raise InputError(f"{source} does not parse: missing the final ';'")
    if tok == ")":
        raise InputError(f"{source} has an unbalanced ')' at character {starts[j]}")
    raise InputError(f"{source} has an unexpected {_shown(tok)} at character {starts[j]}")


def _shown(tok: str) -> str:
    return repr(tok[1:] if tok[:1] == "w" else tok)


def quote(name: str) -> str:
    """``name`` as a Newick label: bare when safe, else in single quotes with ``'`` doubled.

    Parameters
    ----------
    name : str
        A node name.

    Returns
    -------
    str

    Examples
    --------
    >>> quote("cat"), quote("it's a dog")
    ('cat', "'it''s a dog'")
    """
    if _UNQUOTED_OK.fullmatch(name):  # fullmatch: `$` would accept a trailing newline
        return name
    return "'" + name.replace("'", "''") + "'"


def format_length(value: float) -> str:
    """A branch length as the shortest text that reads back exactly (``1`` for ``1.0``).

    Parameters
    ----------
    value : float
        The length.

    Returns
    -------
    str

    Examples
    --------
    >>> format_length(2.0), format_length(0.1)
    ('2', '0.1')
    """
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def format_nodes(root: int, children: Sequence[Sequence[int]], labels: Sequence[str]) -> str:
    """Newick text of the tree below ``root`` (iterative: any depth); ends with ``;``.

    Parameters
    ----------
    root : int
        The root node.
    children : sequence of sequence of int
        Children of every node, in the order to write them (empty for a leaf).
    labels : sequence of str
        What to write after every node: its label, already quoted, and its ``:length`` if any.

    Returns
    -------
    str

    Examples
    --------
    >>> format_nodes(0, [[1, 2], [], []], ["root", "a:1", "b:2"])
    '(a:1,b:2)root;'
    """
    out: list[str] = []
    stack: list[int | str] = [root]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        kids = children[item]
        if not kids:
            out.append(labels[item])
            continue
        out.append("(")
        stack.append(")" + labels[item])
        for c in reversed(kids[1:]):
            stack.append(c)
            stack.append(",")
        stack.append(kids[0])
    return "".join(out) + ";"
