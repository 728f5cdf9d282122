"""``agentgw check`` and ``agentgw version`` as an operator runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agentgw import __version__
from agentgw.cli import main
from tests.support.servers import REPO


def test_check_valid_file_prints_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "gw.yaml"
    path.write_text(
        "llm:\n  backends: {local: {provider: openai, base_url: 'http://h/v1', api_key: sk-hidden}}\n"
        "  models: [{name: m, targets: [{backend: local}]}]\n"
    )
    assert main(["check", "-c", str(path)]) == 0
    out = capsys.readouterr().out
    assert "valid" in out and "llm backends: 1 (local)" in out and "llm models: 1 (m)" in out
    assert "sk-hidden" not in out


def test_check_invalid_file_lists_every_error_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "gw.yaml"
    path.write_text(
        "llm:\n  backends: {openai: {provider: openai, base_url: 'http://h'}, local: {provider: openai, base_url: 'http://l'}}\n"
        "  models:\n    - {name: a, targets: [{backend: local}]}\n    - {name: b, targets: [{backend: opena}]}\n"
        "  extra: true\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "agentgw", "check", "-c", str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=30,
    )
    assert result.returncode == 1
    assert "llm.models[1].targets[0].backend: unknown backend 'opena' (known: openai, local)" in result.stderr
    assert "llm.extra: unknown key" in result.stderr


def test_check_reports_cross_reference_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "gw.yaml"
    path.write_text(
        "llm:\n  backends: {openai: {provider: openai, base_url: 'http://h'}, local: {provider: openai, base_url: 'http://l'}}\n"
        "  models:\n    - {name: a, targets: [{backend: local}]}\n    - {name: b, targets: [{backend: opena}]}\n"
    )
    assert main(["check", "-c", str(path)]) == 1
    assert (
        "llm.models[1].targets[0].backend: unknown backend 'opena' (known: openai, local)"
        in capsys.readouterr().err
    )


def test_bundled_examples_are_valid(capsys: pytest.CaptureFixture[str]) -> None:
    for path in sorted((REPO / "examples").glob("*.yaml")):
        assert main(["check", "-c", str(path)]) == 0, capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    assert capsys.readouterr().out.strip() == f"agentgw {__version__}"
