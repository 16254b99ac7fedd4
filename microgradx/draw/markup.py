"""Text as Graphviz takes it: HTML-like labels escaped for any label a user writes, and table cells.

Every string that reaches Graphviz from a user (labels, op names) goes through
:func:`html_text` or :func:`attr_text`: markup is escaped, backslashes doubled
(Graphviz expands ``\\N``, ``\\G``, ... even inside HTML labels), control
characters and lone surrogates written as escapes. Graphviz refuses any label or
tooltip longer than 16384 bytes (and a refused input can end in a broken pipe), so a
longer text is cut, visibly: it ends in ``… (9000 characters)``. Escaped, a character
takes at most 6 bytes in a label (``&quot;``) and 4 in a tooltip, so the bounds below
keep every label and tooltip of a drawing well inside Graphviz's limit.
"""

from __future__ import annotations

import html
import unicodedata

import graphviz

from .style import Theme, text_width


def clean_text(s: str) -> str:
    """``s`` with characters no renderer can show (control codes, lone surrogates) written as escapes."""
    out = []
    for ch in s:
        cat = unicodedata.category(ch)
        if ch == "\n":
            out.append(ch)
        elif ch == "\t":
            out.append(" ")
        elif cat in ("Cc", "Cs", "Co", "Cn") or ch in "\ufffe\uffff":
            out.append(ch.encode("unicode_escape", "backslashreplace").decode("ascii")
                       if cat != "Cs" else f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


MAX_LINE = 800       # characters of one line of a label (a box's cell, an edge's line, a caption)
MAX_TOOLTIP = 2000   # characters of a tooltip (a gradient's whole chain-rule sum)


def clip(s: str, limit: int, more: str = "") -> str:
    """``s``, or its first characters and ``… (N characters)`` when it is longer than ``limit``."""
    if len(s) <= limit:
        return s
    tail = f"… ({len(s)} characters{more})"
    return s[:max(limit - len(tail), 1)] + tail


def html_text(s: str) -> str:
    """Text for an HTML-like Graphviz label: escaped, newlines as line breaks, each line at most :data:`MAX_LINE`."""
    return "<br/>".join(html.escape(clip(line, MAX_LINE), quote=True).replace("\\", "\\\\")
                        for line in clean_text(s).split("\n"))


def html_label(s: str) -> str:
    """A whole HTML-like label: ``<text>``."""
    return f"<{html_text(s)}>"


def attr_text(s: str) -> str:
    """Text for a Graphviz escString attribute (tooltips): backslashes doubled, newlines as ``\\n``; at most
    :data:`MAX_TOOLTIP` characters (``explain(node)`` writes a cut sum out in full)."""
    text = clip(clean_text(s), MAX_TOOLTIP, "; explain(node) gives it all")
    escaped: str = graphviz.nohtml(text.replace("\\", "\\\\").replace("\n", "\\n"))
    return escaped


class Cell:
    """One cell of a box: its text, how it is set (``b``: bold, ``grad``, ``muted``), a slot id for animation,
    and a muted ``lead`` before the text (a name: ``x0 0.4435``; the animation rewrites only the text)."""

    __slots__ = ("text", "kind", "slot", "lead", "min_width")

    def __init__(self, text: str, kind: str = "", slot: str | None = None, lead: str = "",
                 min_width: float | None = None) -> None:
        self.text, self.kind, self.slot, self.lead = text, kind, slot, lead
        self.min_width = min_width  # points: a changing text's cell as wide as its longest text (the steps)

    def html(self, theme: Theme, state: str = "final", attrs: str = "") -> str:
        """The ``<td>``; ``state`` of a gradient: ``unknown`` is muted; ``attrs`` (port, fill) go on the cell.

        A cell with a slot is an anchor carrying the slot as its id (Graphviz writes
        ids only for anchors), so the animation can find its text.
        """
        body = html_text(self.text)
        if self.kind == "b":
            body = f"<b>{body}</b>"
        elif self.kind == "muted" or (self.kind == "grad" and state == "unknown"):
            body = f'<font color="{theme.muted}">{body}</font>'
        elif self.kind == "grad":
            body = f'<font color="{theme.grad}"><b>{body}</b></font>'
        if self.lead:
            body = f'<font color="{theme.muted}">{html_text(self.lead)} </font>{body}'
        if self.slot:
            attrs += f' id="{self.slot}" href="#"'
        if self.min_width:
            attrs += f' width="{self.min_width:.0f}"'
        return f"<td{attrs}>{body}</td>"

    def width(self, fontsize: float) -> float:
        return text_width(f"{self.lead} {self.text}" if self.lead else self.text, fontsize) + 8.0


def box_label(cells: list[str], fill: str, *, color: str, pen: int = 1) -> str:
    """A value's box: one row of cells."""
    return (f'<<table border="{pen}" cellborder="1" cellspacing="0" cellpadding="4" '
            f'bgcolor="{fill}" color="{color}"><tr>{"".join(cells)}</tr></table>>')
