"""The pytest plugin as a user meets it: the project's wheel installed in a fresh venv, in a
throw-away project with its own `model` package, run by pytest from that project's root."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from dmabuf_mc.app.testing import relative_to

REPO = Path(__file__).parent.parent
SEED = (REPO / "model" / "configs" / "seed.toml").read_text()


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built once per session from a copy of the sources (setuptools
    leaves a build/ directory where it builds)."""
    source = tmp_path_factory.mktemp("source") / "dmabuf-mc"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".*", "build", "*.egg-info", "__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
                   check=True, capture_output=True)
    return out


def fresh_venv(where: Path, wheel: Path) -> Path:
    """A venv with the wheel installed from the directory alone (no index, no network); its
    dependencies come from this interpreter's site-packages through a .pth file. Returns
    its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                    "--no-index", "--find-links", str(wheel), "dmabuf-mc"], check=True, capture_output=True)
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    # After the install: pip would otherwise take this interpreter's own dmabuf-mc as the one installed.
    Path(site, "outer-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


PROJECT = {
    "pytest.ini": """
        [pytest]
        pythonpath = .
        testpaths = tests
        dmabuf_mc_max_states = 100000
        dmabuf_mc_examples = 10
        """,
    "model/__init__.py": '''
        """The project's own model package: dmabuf-mc must not take the name."""
        PROPERTY = "device-reads-latest"
        ''',
    "model/configs/mine.toml": SEED.replace('name = "seed"', 'name = "mine"'),
    "tests/test_dmabuf.py": '''
        import pytest

        import dmabuf_mc
        from model import PROPERTY


        def test_the_wheel_in_the_venv_is_what_runs():
            assert "site-packages" in dmabuf_mc.__file__ and "{venv}" in dmabuf_mc.__file__


        @pytest.mark.dmabuf_mc("heap-bracketed", properties=[PROPERTY])
        def test_bracketed_heap_holds():
            pass


        def test_bracketed_heap_proves(dmabuf_mc):
            dmabuf_mc.prove("heap-bracketed", properties=["no-lost-writes"])


        def test_my_driver(dmabuf_mc):
            dmabuf_mc.check("../model/configs/mine.toml", properties=[PROPERTY])
        ''',
}


def test_a_project_with_its_own_model_package_runs_the_plugin_from_the_wheel(tmp_path, wheel):
    venv = tmp_path / "venv"
    python = fresh_venv(venv, wheel)
    project = tmp_path / "project"
    for name, text in PROJECT.items():
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip().replace("{venv}", str(venv)))
    run = subprocess.run([python, "-m", "pytest", "-p", "no:cacheprovider", "-rA"], cwd=project,
                         capture_output=True, text=True)
    out = run.stdout
    assert run.returncode == 1, out + run.stderr
    assert "3 passed" in out and "1 failed" in out, out
    failure = out[out.index("test_my_driver"):]
    assert "check ../model/configs/mine.toml under baseline" in failure
    assert "REFUTED  device-reads-latest" in failure
    assert "dma_read(display, line0)" in failure and "-> violates device-reads-latest" in failure
    assert "Traceback" not in out


def test_the_wheel_carries_the_html_report_and_the_mermaid_it_inlines(tmp_path, wheel):
    """package-data: the page's template, style and script and vendor/mermaid.min.js."""
    python = fresh_venv(tmp_path / "venv", wheel)
    run = subprocess.run([python, "-m", "dmabuf_mc", "sweep", "--config", "seed", "--property", "device-reads-latest",
                          "--workers", "1", "--format", "html"], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 1, run.stderr  # the seed's stale read
    mermaid = (REPO / "dmabuf_mc" / "app" / "vendor" / "mermaid.min.js").read_text()
    assert run.stdout.startswith("<!DOCTYPE html>") and mermaid[-200:] in run.stdout
    assert 'id="matrix"' in run.stdout and "applyFilters" in run.stdout


def test_files_are_named_relative_to_the_test_file_not_the_working_directory(tmp_path):
    (tmp_path / "mine.toml").write_text(SEED)
    (tmp_path / "p.toml").write_text('name = "p"\n')
    assert relative_to("mine.toml", tmp_path) == str(tmp_path / "mine.toml")
    assert relative_to("p.toml[-cpu-access-bracketed]", tmp_path) == f"{tmp_path / 'p.toml'}[-cpu-access-bracketed]"
    assert relative_to("seed", tmp_path) == "seed"
    assert relative_to("baseline[map=skip-cpu-sync]", tmp_path) == "baseline[map=skip-cpu-sync]"


pytest_plugins = ["pytester"]


def test_the_ini_state_limit_makes_an_undecided_check_fail(pytester):
    pytester.makeini("[pytest]\ndmabuf_mc_max_states = 50\n")
    pytester.makepyfile(test_limit="""
        import pytest

        @pytest.mark.dmabuf_mc("largest", properties=["no-lost-writes"])
        def test_largest():
            pass
        """)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*UNKNOWN  no-lost-writes*state limit 50 reached*"])
