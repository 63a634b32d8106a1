"""Make the helper modules next to these tests importable in any pytest import mode.

The helpers live in deploy_support.py and dashboards.py rather than here, so
test modules never import ``conftest`` (a name every test directory shares).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
