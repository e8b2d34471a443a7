"""The GitHub workflows are valid, and every project command their steps run exists."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def run_steps(path: Path) -> list[str]:
    document = yaml.safe_load(path.read_text())
    return [step["run"] for job in document["jobs"].values() for step in job["steps"] if "run" in step]


def test_there_are_ci_and_publish_workflows() -> None:
    assert {path.name for path in WORKFLOWS} >= {"ci.yml", "publish.yml"}


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_workflow_is_valid_against_the_github_schema(workflow: Path) -> None:
    checker = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.github-workflows", str(workflow)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_every_project_command_in_a_step_exists(workflow: Path) -> None:
    modules: set[str] = set()
    for command in run_steps(workflow):
        for match in re.finditer(r"python -m ([\w.]+)", command):
            modules.add(match.group(1))
        for match in re.finditer(r"-r (\S+)", command):
            assert (ROOT / match.group(1)).is_file(), f"{workflow.name} installs a missing file {match.group(1)}"
        for match in re.finditer(r"bash (\S+)", command):
            assert (ROOT / match.group(1)).is_file(), f"{workflow.name} runs a missing script {match.group(1)}"
    for module in modules:
        result = subprocess.run([sys.executable, "-m", module, "--help"], cwd=ROOT, capture_output=True, text=True)
        assert result.returncode == 0, f"{workflow.name}: python -m {module} --help failed:\n{result.stderr}"


def test_publish_passes_only_options_the_cli_knows() -> None:
    from training.cli import build_parser
    from training.deploy_space import build_parser as deploy_parser
    from training.promote import build_parser as promote_parser

    for command in run_steps(ROOT / ".github" / "workflows" / "publish.yml"):
        command = re.sub(r"\$\{\w+:\+(.*?)\}", r"\1", command)  # `${VAR:+--flag "$VAR"}` as if VAR were set
        if "python -m training.deploy_space" in command:
            deploy_parser().parse_args(shlex.split(command.split("training.deploy_space", 1)[1].replace('"$', '"')))
        elif "python -m training.promote" in command:
            promote_parser().parse_args(shlex.split(command.split("training.promote", 1)[1].replace('"$', '"')))
        elif "python -m training" in command:
            arguments = re.sub(r"\$\{\{.*?\}\}", "--force", command.split("python -m training", 1)[1])
            build_parser().parse_args(shlex.split(arguments))


def test_ci_runs_the_readme_test_command() -> None:
    assert "bash .ci/run" in "\n".join(run_steps(ROOT / ".github" / "workflows" / "ci.yml"))
    readme = (ROOT / "README.md").read_text()
    assert "<!-- test-command:start -->" in readme and "python -m pytest" in readme
