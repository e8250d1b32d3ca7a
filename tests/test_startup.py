"""A quick start: ``l2h --help`` loads neither NumPy nor Numba, ``import l2h`` no Numba (issue 19 item 5)."""

from __future__ import annotations

import subprocess
import sys


def _modules_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_import_l2h_loads_no_numba_and_no_build():
    loaded = _modules_after("import l2h; l2h.__version__")
    assert not {"numba", "l2h.merge", "l2h.build", "l2h.hierarchy"} & loaded


def test_help_loads_no_numpy_and_lists_every_verb():
    code = "from l2h_cli.main import cli\ntry:\n    cli(['--help'])\nexcept SystemExit:\n    pass"
    loaded = _modules_after(code)
    assert not {"numpy", "numba", "l2h"} & loaded
    assert not any(name.startswith("l2h_cli.") and name != "l2h_cli.main" for name in loaded)


def test_help_lists_the_verbs_short_help():
    from click.testing import CliRunner
    from l2h_cli.main import cli

    out = CliRunner().invoke(cli, ["--help"]).output
    assert "build" in out and "Build the L2H tree of a model's clusters from its logits." in out
    assert "agglomerative" in out and "warmup" in out


def test_lazy_names_are_the_real_objects():
    import l2h
    from l2h.hierarchy import Hierarchy
    from l2h.merge import build_hierarchy

    assert l2h.Hierarchy is Hierarchy and l2h.build_hierarchy is build_hierarchy
    assert set(l2h.__all__) <= set(dir(l2h))
