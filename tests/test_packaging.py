"""What installing oblige puts on a machine: one import name, its data, and a cheap import."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out),
                    str(ROOT)], check=True, capture_output=True, timeout=300)
    (path,) = out.glob("oblige-*.whl")
    return zipfile.ZipFile(path)


def test_installing_adds_exactly_one_import_name(wheel: zipfile.ZipFile) -> None:
    tops = {name.split("/")[0] for name in wheel.namelist() if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"oblige"}
    names = set(wheel.namelist())
    assert {"oblige/__init__.py", "oblige/cli.py", "oblige/engine/core/session.py", "oblige/facts/events.py"} <= names
    assert not any(n.startswith(("oblige/tests/", "oblige/bench/")) for n in names)
    entry = wheel.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "oblige = oblige.cli:main" in entry


def test_the_wheel_carries_every_ruleset_file_and_template(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    data = [p for p in (ROOT / "rulesets").rglob("*") if p.is_file() and p.suffix in (".yaml", ".txt")]
    assert data and all(f"oblige/{p.relative_to(ROOT).as_posix()}" in names for p in data)
    assert "oblige/rulesets/xunyang_2022/audit.yaml" in names
    assert "oblige/engine/render/templates/audit.html.j2" in names
    packages = {n.rsplit("/", 1)[0] for n in names if n.endswith("/__init__.py")}
    on_disk = {f"oblige/{p.parent.relative_to(ROOT).as_posix()}" for p in ROOT.glob("*/**/__init__.py")
               if p.parent.relative_to(ROOT).parts[0] in ("engine", "facts", "rulesets")}
    assert on_disk <= packages, "a package on disk is missing from pyproject's packages list"


def test_the_embedding_api_imports_no_database_or_web_framework(tmp_path: Path) -> None:
    code = ("import sys, oblige\n"
            "engine = oblige.Engine.load()\n"
            "oblige.Session, oblige.Findings, oblige.read_lines, oblige.parse_instant, oblige.BatchEvaluator\n"
            "heavy = sorted({'sqlalchemy', 'sqlmodel', 'fastapi', 'uvicorn'} & set(sys.modules))\n"
            "generic = sorted({'engine', 'facts', 'rulesets', 'cli'} & set(sys.modules))\n"
            "print(heavy, generic)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True).stdout
    assert out.strip() == "[] []"


def test_the_api_lists_what_it_exports() -> None:
    import oblige

    assert sorted(oblige.__all__) == sorted(oblige._API)
    for name in oblige.__all__:
        assert getattr(oblige, name).__name__ == name
