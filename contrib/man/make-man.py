#!/usr/bin/env python3
"""Writes the man pages tripline(8) and tripline.toml(5) into OUTDIR.

Each page is a pandoc Markdown file here (NAME, SYNOPSIS, FILES, SEE ALSO)
with lines `<!-- README: Section A | Section B -->` replaced by those sections
of the top-level README.md, so the man pages say what the README says and are
never edited twice. Extracted headings move one level up (`## Rules` becomes
the man section RULES), code blocks stay as they are.

usage: make-man.py OUTDIR [--markdown]   (--markdown: write the .md, no pandoc)
"""
import pathlib
import re
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
README = HERE.parent.parent / "README.md"
PAGES = {"tripline.8": "tripline.8.md", "tripline.toml.5": "tripline.toml.5.md"}


def readme_sections(text):
    """{title: [lines]} for every `## title` section of the README."""
    sections, title, fence = {}, None, False
    for line in text.splitlines():
        if line.startswith("```"):
            fence = not fence
        if not fence and line.startswith("## "):
            title = line[3:].strip()
            sections[title] = []
            continue
        if title is not None:
            sections[title].append(line)
    return sections


def promoted(title, lines):
    """The section as man Markdown: `# TITLE`, subsections one level up."""
    out, fence = [f"# {title.upper()}", ""], False
    for line in lines:
        if line.startswith("```"):
            fence = not fence
        if not fence and re.match(r"#{3,} ", line):
            line = line[1:]
        out.append(line)
    return out


def expand(page_text, sections):
    out = []
    for line in page_text.splitlines():
        m = re.fullmatch(r"<!-- README: (.*) -->", line.strip())
        if not m:
            out.append(line)
            continue
        for title in (t.strip() for t in m.group(1).split("|")):
            if title not in sections:
                sys.exit(f"make-man.py: README.md has no section '## {title}'")
            out += promoted(title, sections[title])
    return "\n".join(out) + "\n"


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    outdir = pathlib.Path(sys.argv[1])
    outdir.mkdir(parents=True, exist_ok=True)
    sections = readme_sections(README.read_text())
    for page, source in PAGES.items():
        md = expand((HERE / source).read_text(), sections)
        if "--markdown" in sys.argv[2:]:
            (outdir / (page + ".md")).write_text(md)
            continue
        subprocess.run(["pandoc", "--standalone", "--from", "markdown", "--to", "man",
                        "--output", str(outdir / page)], input=md, text=True, check=True)


if __name__ == "__main__":
    main()
