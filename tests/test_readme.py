"""Every ```python block of the README runs as written, in order, in one fresh interpreter, against the shipped
models (as a reader pasting them into a Python prompt at the repository's root would)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", markdown, flags=re.DOTALL | re.MULTILINE)


def test_readme_python_blocks_run_in_order():
    blocks = python_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 2  # the model API and the analyses
    program = "\n".join(blocks) + "\nprint('README blocks ran')\n"
    done = subprocess.run([sys.executable, "-c", program], check=False, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("README blocks ran")


def test_the_extraction_sees_an_undefined_name():
    """The check can fail: a block using a name no earlier block defines stops the program."""
    blocks = python_blocks("```python\nx = 1\n```\ntext\n```python\nprint(x + y)\n```\n")
    assert blocks == ["x = 1\n", "print(x + y)\n"]
    done = subprocess.run([sys.executable, "-c", "\n".join(blocks)], check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "NameError" in done.stderr
