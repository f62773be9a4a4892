"""``python -m plansok.bench`` is ``plansok bench``."""

from __future__ import annotations

import sys

from plansok.bench.run import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
