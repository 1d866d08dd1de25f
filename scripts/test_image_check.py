"""Tests of scripts/image_check.py's pieces: the .dockerignore rules (as
moby's patternmatcher applies them), the Dockerfile parsing, and what a
stage not run here is taken to write. Run by scripts/test.sh:

  python3 -m unittest scripts/test_image_check.py
"""

import os
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import image_check as ic  # noqa: E402


def patterns(*lines):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / ".dockerignore"
        p.write_text("\n".join(lines) + "\n")
        return ic.read_dockerignore(p)


class DockerIgnore(unittest.TestCase):
    def test_a_name_excludes_it_at_the_root_and_everything_under_it(self):
        pats = patterns("target", "/out/")
        self.assertTrue(ic.ignored("target", pats))
        self.assertTrue(ic.ignored("target/release/sink-proxy", pats))
        self.assertTrue(ic.ignored("out/x", pats))
        # Only at the root: patternmatcher anchors every pattern there.
        self.assertFalse(ic.ignored("sink-proxy/target/x", pats))
        self.assertFalse(ic.ignored("targets", pats))

    def test_stars_stop_at_a_slash_and_double_stars_cross_directories(self):
        pats = patterns(".venv-*", "**/__pycache__", "*.md")
        self.assertTrue(ic.ignored(".venv-checkov/bin/python", pats))
        self.assertFalse(ic.ignored(".venv", pats))
        self.assertTrue(ic.ignored("__pycache__/a.pyc", pats))
        self.assertTrue(ic.ignored("bench/__pycache__/a.pyc", pats))
        self.assertTrue(ic.ignored("README.md", pats))
        self.assertFalse(ic.ignored("docs/README.md", pats))

    def test_the_last_matching_pattern_decides(self):
        pats = patterns("docs", "!docs/keep.md", "docs/keep.md.bak")
        self.assertTrue(ic.ignored("docs/x.png", pats))
        self.assertFalse(ic.ignored("docs/keep.md", pats))
        self.assertTrue(ic.ignored("docs/keep.md.bak", pats))

    def test_question_marks_classes_and_escapes(self):
        pats = patterns("a?c", "[xy].txt", r"lit\*")
        self.assertTrue(ic.ignored("abc", pats))
        self.assertFalse(ic.ignored("a/c", pats))
        self.assertTrue(ic.ignored("y.txt", pats))
        self.assertFalse(ic.ignored("z.txt", pats))
        self.assertTrue(ic.ignored("lit*", pats))
        self.assertFalse(ic.ignored("litx", pats))

    def test_the_shipped_context_holds_every_workspace_member_and_no_build_output(self):
        with tempfile.TemporaryDirectory() as d:
            sent = set(ic.assemble_context(ic.ROOT, Path(d)))
        for member in ["filter-wasm", "wasm-host", "sink-proxy", "local-aws", "test-support", "tests"]:
            self.assertIn(f"{member}/Cargo.toml", sent)
        self.assertFalse(any(p.startswith(("target/", ".git/", ".venv/")) for p in sent))


DOCKERFILE = """
ARG BASE=debian
FROM rust:1 AS build
WORKDIR /src
COPY . .
RUN make && mkdir -p dist && cp out/bin dist/bin
FROM ${BASE} AS tool
RUN cc -o /usr/local/bin/tool tool.c \\
    && install tool.sh /opt/tool.sh
FROM ${BASE}
COPY --from=build /src/dist/bin /bin/app
"""


class Dockerfile(unittest.TestCase):
    def test_stages_args_and_continued_lines(self):
        args, stages = ic.stages(DOCKERFILE)
        self.assertEqual(args, {"BASE": "debian"})
        self.assertEqual([s.name for s in stages], ["build", "tool", "2"])
        self.assertEqual(stages[1].base, "debian")
        self.assertIn(("RUN", "cc -o /usr/local/bin/tool tool.c  && install tool.sh /opt/tool.sh"), stages[1].instructions)

    def test_what_a_stage_writes(self):
        _, stages = ic.stages(DOCKERFILE)
        build, tool, _ = stages
        self.assertTrue(ic.stage_writes(build, "/src/dist/bin"))  # relative to WORKDIR
        self.assertTrue(ic.stage_writes(tool, "/usr/local/bin/tool"))  # -o
        self.assertTrue(ic.stage_writes(tool, "/opt/tool.sh"))  # install's last word
        self.assertFalse(ic.stage_writes(tool, "/src/dist/bin"))
        self.assertFalse(ic.stage_writes(build, "/src/out/bin"))  # read, not written


if __name__ == "__main__":
    unittest.main()
