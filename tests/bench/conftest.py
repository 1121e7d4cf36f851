"""Make the repository's bench/ folder (tasks, textlines) importable by plain name."""

import os
import sys

_BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "bench")
if _BENCH not in sys.path:
    sys.path.insert(0, _BENCH)
