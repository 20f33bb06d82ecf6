"""The README's Python example runs as printed, and does what its text says."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).parent.parent / "README.md"


def test_the_python_example_of_the_readme_runs(capsys):
    text = README.read_text()
    code = re.search(r"## Driving the engine from Python.*?```python\n(.*?)```", text, re.S)
    assert code is not None, "the README lost its Python example"
    namespace: dict = {}
    exec(compile(code.group(1), "README.md", "exec"), namespace)
    ex, oz = namespace["ex"], namespace["OZ"]
    ex.check_invariants()
    # 50 buyers of 1-5 oz: every one filled against the maker's asks
    assert ex.view_symbol("XAGUSDT").open_interest == sum(1 + n % 5 for n in range(1, 100, 2)) * oz
    assert namespace["account"].positions[0].size == 3 * oz
    assert ex.view_symbol("XAGUSDT").mark == 7_700
    assert len(capsys.readouterr().out.splitlines()) == 2
