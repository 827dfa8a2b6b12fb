"""Print the requirements pyproject.toml lists (the one list of dependencies), one per line:
the runtime ones, plus those of each optional group named on the command line (``dev``, ``bench``).
``make deps`` pipes this into pip."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]
reqs = list(project.get("dependencies", []))
for group in sys.argv[1:]:
    reqs += project.get("optional-dependencies", {})[group]
print("\n".join(dict.fromkeys(reqs)))
