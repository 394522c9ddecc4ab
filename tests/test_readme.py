"""The README's code blocks marked runnable (`<!-- runnable -->` before the fence) run as
written, in order, in one bash shell from the repository root: the Quick start and the
"Running one stage by hand" chain (offline, against the scripted teacher server). So the
docs cannot rot."""

import json
import re
import subprocess
from pathlib import Path

import pytest
from conftest import REPO, require_path

RUNNABLE = re.compile(r"<!-- runnable -->\n```bash\n(.*?)```", re.S)


def runnable_blocks(text: str) -> list[str]:
    return RUNNABLE.findall(text)


def test_blocks_are_found_only_where_marked():
    text = (
        "```bash\nfalse\n```\n<!-- runnable -->\n```bash\necho one\n```\n\n<!-- runnable -->\n```bash\necho two\n```\n"
    )
    assert runnable_blocks(text) == ["echo one\n", "echo two\n"]


def results_files() -> set:
    return {p for p in (REPO / "results").rglob("*")} if (REPO / "results").exists() else set()


@pytest.mark.usefixtures("shared_benchmarks")
def test_readme_runnable_blocks_run_as_written():
    require_path(REPO / ".venv" / "bin" / "activate", "the project's .venv", "`make install`")
    blocks = runnable_blocks((REPO / "README.md").read_text())
    assert len(blocks) >= 2  # the Quick start and the chain
    script = "set -euo pipefail\n" + "\n".join(blocks) + '\necho "README_W=$W"\n'
    before = results_files()
    result = subprocess.run(["bash", "-c", script], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    work = next(line.split("=", 1)[1] for line in result.stdout.splitlines() if line.startswith("README_W="))
    try:
        w = Path(work)
        generations = [json.loads(line) for line in (w / "generations.jsonl").read_text().splitlines()]
        assert len(generations) == 4 and {g["status"] for g in generations} == {"ok"}
        assert json.loads((w / "decontamination" / "report.json").read_text())["kept"] == 4
        scored = json.loads((w / "reference" / "humaneval.json").read_text())
        assert scored["n_passed"] == {"base": 3, "plus": 3}
        assert "pass@1 100.0 (base) 100.0 (plus) over 3 tasks" in result.stdout
        assert not (w / "reference" / "tasks.jsonl").exists()  # written only when asked
        assert results_files() == before  # nothing written into the checkout's results/
    finally:
        subprocess.run(["rm", "-rf", "--", work], check=False)


def test_every_package_path_in_the_readme_exists():
    """The README's layout and paths follow the package tree (`ossinstruct/...` paths and
    `python -m ossinstruct.<module>` commands)."""
    import importlib.util

    text = (REPO / "README.md").read_text()
    paths = {p for p in re.findall(r"\bossinstruct/[\w./-]*[\w/]", text)}
    assert paths
    missing = sorted(p for p in paths if not (REPO / p.rstrip("/")).exists())
    assert not missing, f"README names paths that do not exist: {missing}"
    modules = set(re.findall(r"python -m (ossinstruct(?:\.\w+)+)", text))
    assert {m for m in modules if importlib.util.find_spec(m) is None} == set()
