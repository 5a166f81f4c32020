"""The model card's Markdown as safe HTML, through markdown-it-py (CommonMark).

Example:
    >>> str(markdown_to_html("## Data\\n- **8x8** digits"))
    '<h4>Data</h4>\\n<ul>\\n<li><strong>8x8</strong> digits</li>\\n</ul>'
"""

from __future__ import annotations

import functools
from typing import Any

# Links and images would point outside the report, which fetches nothing (its CSP blocks
# it anyway): they stay plain text, as do link reference definitions.
_OFF = ["link", "image", "autolink", "reference"]
# The card's "# name" sits under the report's <h2> section title: its headings start at h3.
_HEADING_SHIFT = 2


@functools.cache
def _parser() -> Any:
    from markdown_it import MarkdownIt

    # html=False: raw HTML in the card is escaped as text, so no markup can come from it.
    return MarkdownIt("commonmark", {"html": False}).disable(_OFF)


def markdown_to_html(text: str) -> Any:
    """Markdown (CommonMark) as HTML that is safe to embed, as a ``markupsafe.Markup``.

    Raw HTML in ``text`` is escaped, links and images stay plain text, and headings move
    down two levels (``#`` becomes ``h3``, at most ``h6``) to sit inside a report section.

    Example:
        >>> str(markdown_to_html("# T\\n- a `b` <i>"))
        '<h3>T</h3>\\n<ul>\\n<li>a <code>b</code> &lt;i&gt;</li>\\n</ul>'
        >>> str(markdown_to_html("see [docs](https://example.org)"))
        '<p>see [docs](https://example.org)</p>'
    """
    from markupsafe import Markup

    md = _parser()
    tokens = md.parse(text)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + _HEADING_SHIFT, 6)}"
    return Markup(md.renderer.render(tokens, md.options, {}).strip())
