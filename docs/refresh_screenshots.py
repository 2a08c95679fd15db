"""Regenerate the README's screenshots from the browser suite: ``python docs/refresh_screenshots.py``.

The browser tests save every picture under test-artifacts/ (never into the repository); the ones named
``screenshot-<page>.png`` are the README's, and this copies them here. Needs the IMDB dataset for the
Train page's picture (GRU_EXPLORER_IMDB), as the browser suite does.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    tests = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_browser*.py"))
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", *tests], cwd=ROOT, check=False)
    if done.returncode != 0:
        print("the browser suite failed: the screenshots are left as they were", file=sys.stderr)
        return done.returncode
    shots = sorted((ROOT / "test-artifacts").glob("screenshot-*.png"))
    for shot in shots:
        shutil.copyfile(shot, ROOT / "docs" / shot.name)
        print("docs/" + shot.name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
