"""Every ```python block of README.md and docs/*.md runs, in its written order, so the docs
cannot drift from the code.

The blocks of one Markdown file run one after the other in one namespace (a block sees what
the blocks above it defined), in a scratch folder where ``path/to/model`` is a tiny Llama with
its tokenizer (the placeholder the docs use for "your model"). A traceback points at the
Markdown file and its own line numbers. A new page is covered by default; a block that must
not run (a multi-process launch, a GPU-only call) is marked by this comment on the line
just above its fence, reason required:

    <!-- snippet: skip (launches 2 processes with torchrun) -->

(docs/architecture.md, "Documentation".)"""

from __future__ import annotations

import glob
import os
import re
import textwrap

import pytest

import tiny_models

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAGES = [os.path.join(ROOT, "README.md"), *sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))]
FENCE = re.compile(r"^(\s*)```(\w*)\s*$")
SKIP = re.compile(r"^ {0,3}<!-- snippet: skip \((.+)\) -->\s*$")
ANY_SKIP = re.compile(r"^ {0,3}<!--\s*snippet")  # indented 4+: an example in a Markdown code block


def python_blocks(path: str) -> list[tuple[int, str, str | None]]:
    """(line number of the first code line, code, skip reason or None) of each python block."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, lang = m.groups()
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")  # unclosed fence: StopIteration
        if lang in ("python", "py"):
            before = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
            skip = SKIP.match(before)
            code = textwrap.dedent("\n".join(lines[i + 1 : end]))
            blocks.append((i + 2, code, skip.group(1) if skip else None))
        i = end + 1
    return blocks


def pages_with_python():
    return [p for p in PAGES if python_blocks(p)]


def test_snippets_are_found_and_markers_are_well_formed():
    """The discovery itself: the README's and the quickstart's blocks are found (so the runner
    cannot pass by running nothing), and every snippet marker is a well-formed skip directly
    above a python block (a typo would otherwise silently run or silently skip)."""
    found = {os.path.relpath(p, ROOT): len(python_blocks(p)) for p in PAGES}
    assert found["README.md"] >= 1 and found[os.path.join("docs", "quickstart.md")] >= 5, found
    for page in PAGES:
        with open(page, encoding="utf-8") as f:
            lines = f.read().splitlines()
        for n, line in enumerate(lines):
            if not ANY_SKIP.search(line):
                continue
            where = f"{os.path.relpath(page, ROOT)}:{n + 1}"
            assert SKIP.match(line), f"{where}: a snippet marker reads <!-- snippet: skip (reason) -->"
            following = next((x for x in lines[n + 1 :] if x.strip()), "")
            fence = FENCE.match(following)
            assert fence and fence.group(2) in ("python", "py"), f"{where}: the marker must sit above a ```python block"


def test_extraction_keeps_order_lines_and_skip_reasons(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "# T\n\n```python\na = 1\n```\n\n```bash\necho no\n```\n"
        "<!-- snippet: skip (needs two GPUs) -->\n\n```python\nb = 2\n```\n"
        "1. item\n\n   ```py\n   c = 3\n   ```\n"
    )
    assert python_blocks(str(page)) == [(4, "a = 1", None), (13, "b = 2", "needs two GPUs"), (18, "c = 3", None)]


@pytest.fixture(scope="session")
def tiny_model_folder(tmp_path_factory):
    """A tiny Llama and its tokenizer, saved as a local model folder."""
    path = str(tmp_path_factory.mktemp("doc_model") / "model")
    tok = tiny_models.tokenizer()
    tiny_models.save_tiny_llama_for(tok, path)
    tok.save_pretrained(path)
    return path


@pytest.mark.parametrize("page", pages_with_python(), ids=lambda p: os.path.relpath(p, ROOT))
def test_python_blocks_run_in_written_order(page, tiny_model_folder, tmp_path, monkeypatch):
    (tmp_path / "path" / "to").mkdir(parents=True)
    os.symlink(tiny_model_folder, tmp_path / "path" / "to" / "model")
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__doc_snippet__"}
    ran = 0
    for first_line, code, skip in python_blocks(page):
        if skip is None:
            # padded with newlines so a traceback shows the Markdown file's own line numbers
            exec(compile("\n" * (first_line - 1) + code, page, "exec"), namespace)
            ran += 1
    assert ran, f"{page}: every python block is marked skip"
