"""The docs (README.md and the pages of docs/ it lists) hold: code blocks marked runnable
(`<!-- runnable -->` before the fence) run as written, in order (the README, then the pages
in the order of its Documentation table), in one bash shell from the repository root: the
Quick start, the prefetch listing and cost, the identity check, the plan, and the
"Running one stage by hand" chain (offline, against the scripted teacher server); every
link between them resolves, every package path they name exists. So the docs cannot rot."""

import json
import re
import subprocess
from pathlib import Path

import pytest
from conftest import REPO, require_path

RUNNABLE = re.compile(r"<!-- runnable -->\n```bash\n(.*?)```", re.S)


def runnable_blocks(text: str) -> list[str]:
    return RUNNABLE.findall(text)


def doc_pages() -> list[Path]:
    """README.md, then the docs/ pages in the order its Documentation table links them."""
    readme = (REPO / "README.md").read_text()
    table = readme[readme.index("## Documentation") :]
    linked = re.findall(r"^\| \[[^]]+\]\((docs/[\w/.-]+\.md)\)", table, re.M)
    return [REPO / "README.md", *(REPO / page for page in dict.fromkeys(linked))]


def test_every_docs_page_is_in_the_readmes_table():
    pages = {p.relative_to(REPO).as_posix() for p in doc_pages()[1:]}
    on_disk = {p.relative_to(REPO).as_posix() for p in (REPO / "docs").rglob("*.md")}
    assert pages == on_disk


def heading_anchors(text: str) -> set[str]:
    """GitHub's anchors of a page's headings (lower case, punctuation dropped, spaces to -)."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    anchors = set()
    for heading in re.findall(r"^#{1,6} (.+)$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").strip().lower())
        anchors.add(slug.replace(" ", "-"))
    return anchors


def test_links_between_the_docs_resolve():
    """Every relative link of the README and docs/ names a file that exists and, with an
    anchor, a heading of that file."""
    broken = []
    for page in doc_pages():
        text = page.read_text()
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                broken.append(f"{page.relative_to(REPO)}: {target} (no such file)")
            elif anchor and file.suffix == ".md" and anchor not in heading_anchors(file.read_text()):
                broken.append(f"{page.relative_to(REPO)}: {target} (no such heading)")
    assert not broken, broken


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
    blocks = [block for page in doc_pages() for block in runnable_blocks(page.read_text())]
    assert len(blocks) >= 5  # the Quick start, prefetch and cost, identity, plan, the chain
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


def test_every_package_path_in_the_docs_exists():
    """The docs' paths follow the package tree (`ossinstruct/...` paths and
    `python -m ossinstruct.<module>` commands)."""
    import importlib.util

    text = "\n".join(page.read_text() for page in doc_pages())
    paths = {p for p in re.findall(r"\bossinstruct/[\w./-]*[\w/]", text)}
    assert paths
    missing = sorted(p for p in paths if not (REPO / p.rstrip("/")).exists())
    assert not missing, f"the docs name paths that do not exist: {missing}"
    modules = set(re.findall(r"python -m (ossinstruct(?:\.\w+)+)", text))
    assert {m for m in modules if importlib.util.find_spec(m) is None} == set()


def test_the_layout_names_every_package_and_benchmark_folder():
    """docs/development.md's Layout block matches the tree: each subpackage of ossinstruct/
    and each benchmark folder is named there, and each module it names under a folder
    exists (checked above)."""
    text = (REPO / "docs" / "development.md").read_text()
    layout = re.search(r"## Layout\n.*?```\n(.*?)```", text, re.S).group(1)
    package = REPO / "ossinstruct"
    folders = [p for p in package.iterdir() if (p / "__init__.py").exists()]
    assert folders
    missing = [p.name for p in folders if not re.search(rf"^\s+{p.name}/", layout, re.M)]
    benchmarks = [p for p in (package / "benchmarks").iterdir() if (p / "__init__.py").exists()]
    missing += [f"benchmarks/{p.name}" for p in benchmarks if not re.search(rf"\b{p.name}/", layout)]
    assert not missing, f"the layout omits {missing}"
