"""Joining one-page PDFs (each drawn by Graphviz) into one document: the player's steps as slides.

Graphviz writes one PDF per drawing (through cairo), and no PDF tool is among the
project's dependencies, so this joins them itself. It reads only what it needs, from
the files' own cross-reference tables: each object's bytes are cut out at the offset
the table gives (a stream's binary data is never parsed), the object numbers are
shifted so that the documents do not collide, and the page objects are put under one
new page tree. References are rewritten only in an object's dictionary, never inside a
stream. Each document's catalog and info (its creation date) are left out, so the
same drawings always give the same bytes. A PDF this cannot read (no classic
cross-reference table, e.g. object streams) is refused with a clear error, never
joined wrongly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["PdfError", "join_pdfs", "page_count"]

_OBJ = re.compile(rb"(\d+)\s+0\s+obj\b")
_REF = re.compile(rb"(\d+)\s+0\s+R\b")
_STREAM = re.compile(rb">>\s*stream\r?\n")


class PdfError(ValueError):
    """A PDF this module cannot read (not one Graphviz wrote, or written with object streams)."""


@dataclass
class _Document:
    objects: dict[int, bytes]   # number -> the object's body (between "N 0 obj" and "endobj")
    root: int                   # the catalog's number
    info: int | None            # the info dictionary's number


def _trailer_ref(trailer: bytes, key: bytes) -> int | None:
    found = re.search(rb"/" + key + rb"\s+(\d+)\s+0\s+R", trailer)
    return int(found.group(1)) if found else None


def _read(pdf: bytes, which: int) -> _Document:
    """The objects of one PDF, found through its cross-reference table."""
    start = pdf.rfind(b"startxref")
    found = re.match(rb"startxref\s+(\d+)", pdf[start:]) if start >= 0 else None
    if found is None or not pdf[int(found.group(1)):].startswith(b"xref"):
        raise PdfError(f"page {which + 1}: the PDF has no cross-reference table this can read (object streams?)")
    xref = int(found.group(1))
    section = re.match(rb"xref\s+(\d+)\s+(\d+)\s+", pdf[xref:])
    if section is None or int(section.group(1)) != 0:
        raise PdfError(f"page {which + 1}: the PDF's cross-reference table is not a single section from 0")
    first = xref + section.end()
    count = int(section.group(2))
    offsets: dict[int, int] = {}
    for n in range(count):
        entry = pdf[first + 20 * n:first + 20 * n + 18].split()
        if len(entry) == 3 and entry[2] == b"n":
            offsets[n] = int(entry[0])
    ends = sorted([*offsets.values(), xref])
    objects: dict[int, bytes] = {}
    for n, at in offsets.items():
        chunk = pdf[at:ends[ends.index(at) + 1]]
        head = _OBJ.match(chunk)
        stop = chunk.rfind(b"endobj")
        if head is None or int(head.group(1)) != n or stop < 0:
            raise PdfError(f"page {which + 1}: object {n} is not where the cross-reference table says")
        objects[n] = chunk[head.end():stop].strip(b"\r\n ")
    trailer = pdf[xref:start]
    root = _trailer_ref(trailer, b"Root")
    if root is None or root not in objects:
        raise PdfError(f"page {which + 1}: the PDF names no catalog")
    return _Document(objects, root, _trailer_ref(trailer, b"Info"))


def _renumber(body: bytes, mapping: dict[int, int]) -> bytes:
    """``body`` with every reference ``N 0 R`` in its dictionary renumbered (a stream's data is left alone)."""
    stream = _STREAM.search(body)
    head, tail = (body[:stream.end()], body[stream.end():]) if stream else (body, b"")

    def new(m: re.Match[bytes]) -> bytes:
        n = int(m.group(1))
        if n not in mapping:
            raise PdfError(f"a reference to object {n}, which the PDF does not hold")
        return b"%d 0 R" % mapping[n]

    return _REF.sub(new, head) + tail


def _kids(doc: _Document) -> tuple[int, list[int]]:
    """The number of a document's page tree and its pages, in order (a flat tree, as Graphviz writes it)."""
    pages = _trailer_ref(doc.objects[doc.root], b"Pages")
    if pages is None or pages not in doc.objects:
        raise PdfError("the PDF's catalog names no page tree")
    kids = re.search(rb"/Kids\s*\[([^\]]*)\]", doc.objects[pages])
    numbers = [int(n) for n in _REF.findall(kids.group(1))] if kids else []
    if not numbers or any(b"/Type /Pages" in doc.objects.get(n, b"") for n in numbers):
        raise PdfError("the PDF's page tree is not a flat list of pages")
    return pages, numbers


def join_pdfs(pdfs: Sequence[bytes]) -> bytes:
    """One PDF holding the pages of ``pdfs`` in order (each written by Graphviz's ``dot -Tpdf``)."""
    if not pdfs:
        raise PdfError("no pages to join")
    tree = 1  # the new page tree; the catalog comes last
    body: list[tuple[int, bytes]] = []
    pages: list[int] = []
    next_number = 2
    for which, pdf in enumerate(pdfs):
        doc = _read(pdf, which)
        old_tree, kids = _kids(doc)
        keep = sorted(n for n in doc.objects if n not in (doc.root, doc.info, old_tree))
        mapping = {n: next_number + i for i, n in enumerate(keep)}
        mapping[old_tree] = tree
        next_number += len(keep)
        body += [(mapping[n], _renumber(doc.objects[n], mapping)) for n in keep]
        pages += [mapping[k] for k in kids]
    catalog = next_number
    body.append((tree, b"<< /Type /Pages /Kids [ " + b" ".join(b"%d 0 R" % p for p in pages)
                 + b" ] /Count %d >>" % len(pages)))
    body.append((catalog, b"<< /Type /Catalog /Pages %d 0 R >>" % tree))
    return _write(sorted(body), catalog)


def _write(objects: list[tuple[int, bytes]], catalog: int) -> bytes:
    """A PDF of ``objects`` (numbered 1 to N, in order), with its cross-reference table and trailer."""
    out = bytearray(b"%PDF-1.5\n%\xb5\xed\xae\xfb\n")
    offsets = []
    for n, body in objects:
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % at for at in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, catalog, xref)
    return bytes(out)


def page_count(pdf: bytes) -> int:
    """How many pages a PDF written by :func:`join_pdfs` (or Graphviz) holds, read through its objects."""
    doc = _read(pdf, 0)
    return len(_kids(doc)[1])
