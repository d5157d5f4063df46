"""A report as a list of blocks, rendered to Markdown (images as files beside it) and to one self-contained HTML
page (images inlined as base64 PNG), so both formats always carry the same content."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Block:
    kind: str  # "h1" | "h2" | "h3" | "p" | "list" | "table" | "image"
    text: str = ""
    items: list[str] = field(default_factory=list)  # list items
    header: list[str] = field(default_factory=list)  # table
    rows: list[list[Any]] = field(default_factory=list)
    image: bytes = b""
    name: str = ""  # image file name (Markdown) and alt text


def fmt(value: Any) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "–"
        return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def _md_cell(value: Any) -> str:
    return fmt(value).replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: list[Block], image_dir: str = "plots") -> str:
    out: list[str] = []
    for b in blocks:
        if b.kind in ("h1", "h2", "h3"):
            out.append("#" * int(b.kind[1]) + " " + b.text)
        elif b.kind == "p":
            out.append(b.text)
        elif b.kind == "list":
            out.append("\n".join(f"- {item}" for item in b.items))
        elif b.kind == "table":
            lines = ["| " + " | ".join(b.header) + " |", "|" + "---|" * len(b.header)]
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows]
            out.append("\n".join(lines))
        elif b.kind == "image":
            out.append(f"![{b.text}]({image_dir}/{b.name})")
        else:
            raise ValueError(f"unknown block kind {b.kind!r}")
    return "\n\n".join(out) + "\n"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.9em}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left}
th{background:#f0f3f7}img{max-width:100%;border:1px solid #eee}h1{font-size:1.6em}h2{margin-top:1.6em;border-bottom:1px solid #ddd}
.PASS{color:#176f2c;font-weight:bold}.FAIL{color:#a11;font-weight:bold}.NEED{color:#8a5a00;font-weight:bold}
"""


def _html_cell(value: Any) -> str:
    text = html.escape(fmt(value))
    if text in ("PASS", "FAIL"):
        return f'<span class="{text}">{text}</span>'
    if text == "NEED MORE VOTES":
        return f'<span class="NEED">{text}</span>'
    return text


def to_html(blocks: list[Block], title: str) -> str:
    out = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
    ]
    for b in blocks:
        if b.kind in ("h1", "h2", "h3"):
            out.append(f"<{b.kind}>{html.escape(b.text)}</{b.kind}>")
        elif b.kind == "p":
            out.append(f"<p>{html.escape(b.text)}</p>")
        elif b.kind == "list":
            out.append("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in b.items) + "</ul>")
        elif b.kind == "table":
            head = "".join(f"<th>{html.escape(h)}</th>" for h in b.header)
            body = "".join(
                "<tr>" + "".join(f"<td>{_html_cell(c)}</td>" for c in row) + "</tr>" for row in b.rows
            )
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif b.kind == "image":
            data = base64.b64encode(b.image).decode("ascii")
            out.append(
                f"<figure><img alt='{html.escape(b.text)}' src='data:image/png;base64,{data}'></figure>"
            )
        else:
            raise ValueError(f"unknown block kind {b.kind!r}")
    out.append("</body></html>")
    return "\n".join(out)
