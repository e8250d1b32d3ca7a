"""Print the README's quick-start commands, one per line, exactly as the README writes them.

CI runs what a newcomer copies: the first ```bash block under "## Quick start", comment and blank
lines left out.  Used by .ci/run; fails loudly when the section or the block is missing.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path


def quick_start_commands(readme: str) -> list[str]:
    section = re.search(r"^## Quick start\s*$(.*?)(?=^## )", readme, flags=re.M | re.S)
    if section is None:
        raise SystemExit("README.md has no '## Quick start' section")
    block = re.search(r"^```bash\s*$(.*?)^```\s*$", section.group(1), flags=re.M | re.S)
    if block is None:
        raise SystemExit("README.md's quick start has no ```bash block")
    lines = [line.strip() for line in block.group(1).splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


if __name__ == "__main__":
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "README.md")
    for command in quick_start_commands(path.read_text(encoding="utf-8")):
        print(command)
