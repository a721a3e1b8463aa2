"""The one rich console every CLI command prints through.

`soft_wrap` keeps long lines (paths, ids, secrets) whole when the output is not
a terminal, so scripts and tests can read them.
"""

from rich.console import Console

console = Console(soft_wrap=True)
