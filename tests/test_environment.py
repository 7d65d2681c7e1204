"""environment.yml (conda users) and pyproject.toml (pip users) must list the same dependencies."""

import re
import tomllib

import yaml

from pinsandbox import settings


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[ ;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((settings.CODE_ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"]) + [r for extra in project["optional-dependencies"].values() for r in extra]
    env = yaml.safe_load((settings.CODE_ROOT / "environment.yml").read_text())
    assert any(str(d).startswith("python=3.11") for d in env["dependencies"] if isinstance(d, str))
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = [p for p in pip if not p.startswith("-e")]
    assert sorted(listed) == sorted(wanted), "environment.yml and pyproject.toml disagree: update both"
    assert "-e ." in pip
    assert "torch==2.13.0" in wanted  # unpinned torch pulls gigabytes of CUDA packages


def test_names_are_consistent():
    assert _name("ray[data]>=2.30") == "ray"
