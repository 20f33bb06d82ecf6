"""The layers hold at run time, not only in the import statements (DESIGN.md §1, STYLE.md B3).

import-linter reads import statements. It cannot see what a third-party package pulls in at
run time, imports done through ``importlib``, or tell a deferred import from a module-level
one. So these tests import the packages in a fresh interpreter and look at ``sys.modules``;
the last one runs ``lint-imports`` itself so that the contracts in pyproject.toml are
checked by ``pytest`` too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UI_MODULES = ("textual", "rich")

# Imports the named packages and every module below them, then prints the UI modules that got
# loaded as the last line of stdout.
_PROBE = textwrap.dedent(
    """
    import importlib, pkgutil, sys
    sys.path.insert(0, sys.argv[1])
    for name in sys.argv[2:]:
        module = importlib.import_module(name)
        for info in pkgutil.walk_packages(getattr(module, "__path__", []), name + "."):
            importlib.import_module(info.name)
    print(",".join(sorted(m for m in {ui!r} if m in sys.modules)))
    """
).format(ui=UI_MODULES)


def ui_modules_loaded_by(*packages: str, path: Path = ROOT) -> list[str]:
    """Import ``packages`` (and all their submodules) in a fresh interpreter.

    Returns the members of UI_MODULES found in ``sys.modules`` afterwards.
    """
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(path), *packages],
        cwd=path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, (
        f"importing {packages} failed (exit {done.returncode}):\n{done.stderr}{done.stdout}"
    )
    last_line = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    return [name for name in last_line.split(",") if name]


def test_engine_loads_no_ui() -> None:
    """Setup: engine, engine.units, engine.enums and every module found under engine/."""
    loaded = ui_modules_loaded_by("engine", "engine.units", "engine.enums")
    assert loaded == [], f"importing engine loaded {loaded}; the engine must not depend on a UI"


def test_scenarios_load_no_ui() -> None:
    """Setup: scenarios and every module found under scenarios/ (engine comes along)."""
    loaded = ui_modules_loaded_by("scenarios")
    assert loaded == [], f"importing scenarios loaded {loaded}; only tui/ may use a UI"


def test_the_probe_sees_a_leak(tmp_path: Path) -> None:
    """The two tests above can fail: a package whose submodule imports textual is caught.

    Setup: a throwaway package ``leaky`` with ``leaky/deep/ui.py`` doing ``import textual``;
    nothing imports that submodule, so only the walk over all modules finds it.
    """
    deep = tmp_path / "leaky" / "deep"
    deep.mkdir(parents=True)
    (tmp_path / "leaky" / "__init__.py").write_text("")
    (deep / "__init__.py").write_text("")
    (deep / "ui.py").write_text("import textual\n")

    loaded = ui_modules_loaded_by("leaky", path=tmp_path)

    assert "textual" in loaded, f"the probe missed a textual import: {loaded}"
    assert "rich" in loaded, f"textual depends on rich, so rich must be seen too: {loaded}"


def _lint_imports_command() -> list[str]:
    """The ``lint-imports`` console script of this interpreter's environment.

    ``python -m importlinter`` does not work (the package has no ``__main__``), so when the
    script is not found the same entry point is called through this interpreter.
    """
    folders = [str(Path(sys.executable).parent), sysconfig.get_path("scripts")]
    script = shutil.which("lint-imports", path=os.pathsep.join(folders))
    if script is not None:
        return [script]
    entry = "import sys; from importlinter.cli import lint_imports_command as c; sys.exit(c())"
    return [sys.executable, "-c", entry]


def test_import_contracts_are_kept() -> None:
    """Setup: the contracts in [tool.importlinter] of pyproject.toml."""
    done = subprocess.run(
        [*_lint_imports_command(), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        timeout=300,
    )
    assert done.returncode == 0, (
        f"lint-imports failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
    )
