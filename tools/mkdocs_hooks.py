"""mkdocs hooks (mkdocs.yml ``hooks:``): sweep's docstrings cite names the Sphinx way
(``:func:`run```); in the rendered API reference the role's prefix is dropped and the name
kept as code."""

from __future__ import annotations

import re
from typing import Any

ROLE = re.compile(r":(?:func|mod|class|meth|attr|data|exc|obj):(?=<code>|<a )")


def on_page_content(html: str, **kwargs: Any) -> str:
    return ROLE.sub("", html)
