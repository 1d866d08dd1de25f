#!/usr/bin/env python3
"""Builds what the Dockerfile builds, without a Docker engine.

  scripts/image_check.py [--out DIR] [--static]

1. Assembles the build context as Docker sends it: every file under the
   repository, less what .dockerignore excludes (moby's patternmatcher rules,
   reimplemented below), copied into a fresh directory.
2. Runs the Rust stage there for this machine's architecture: its COPY
   instructions from that context and its RUN commands as written (the
   module, and sink-proxy).
3. Checks every other stage statically: each `COPY --from=STAGE SRC` names a
   file that STAGE writes (built here for the Rust stage, or named as an
   output in STAGE's own instructions), and each plain COPY source exists in
   the assembled context.
4. Checks that the shipped sink-proxy runs on the base image: it may need
   no glibc symbol newer than the base's glibc (Amazon Linux 2023: 2.34),
   and no shared library but those Fluent Bit itself needs there.
5. Copies the Rust stage's outputs to --out (default target/image): the
   binaries the image ships, which the reliability suite and the benchmarks run.

`--static` skips steps 2, 4 and 5: parse, assemble and check only.
Exits non-zero with the reason on any failure.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


# --- .dockerignore, as moby/patternmatcher reads it ------------------------


@dataclass
class Pattern:
    text: str
    exclusion: bool
    regex: re.Pattern[str]


def _compile(pattern: str) -> re.Pattern[str]:
    """A pattern as patternmatcher compiles it: `*` and `?` stop at `/`,
    `**` crosses directories (and `**/` may match nothing), `[...]` is a
    class, `\\` escapes the next character."""
    out = "^"
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            if pattern[i + 1 : i + 2] == "*":
                i += 1
                if pattern[i + 1 : i + 2] == "/":
                    i += 1
                if i + 1 >= len(pattern):
                    out += ".*"
                else:
                    out += "(.*/)?"
            else:
                out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                raise ValueError(f".dockerignore: unclosed '[' in {pattern!r}")
            body = pattern[i + 1 : end]
            if body.startswith("^") or body.startswith("!"):
                body = "^" + body[1:]
            out += "[" + body.replace("\\", "\\\\") + "]"
            i = end
        else:
            out += re.escape(ch)
        i += 1
    return re.compile(out + "$")


def read_dockerignore(path: Path) -> list[Pattern]:
    patterns = []
    if not path.exists():
        return patterns
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        exclusion = line.startswith("!")
        if exclusion:
            line = line[1:].strip()
        # patternmatcher cleans the pattern (filepath.Clean) and drops a
        # leading '/': the context root is the only root.
        line = os.path.normpath(line).lstrip("/")
        if line in ("", "."):
            continue
        patterns.append(Pattern(line, exclusion, _compile(line)))
    return patterns


def ignored(rel: str, patterns: list[Pattern]) -> bool:
    """patternmatcher.MatchesOrParentMatches: the last pattern that matches
    the path or one of its parent directories decides."""
    matched = False
    parts = rel.split("/")
    parents = ["/".join(parts[: i + 1]) for i in range(len(parts) - 1)]
    for p in patterns:
        # An exclusion can only undo a match, an inclusion only make one.
        if p.exclusion != matched:
            continue
        if p.regex.match(rel) or any(p.regex.match(d) for d in parents):
            matched = not p.exclusion
    return matched


def assemble_context(src: Path, dest: Path) -> list[str]:
    """Copies what Docker would send into `dest`; returns the paths sent."""
    patterns = read_dockerignore(src / ".dockerignore")
    sent = []
    for dirpath, dirnames, filenames in os.walk(src):
        rel_dir = os.path.relpath(dirpath, src)
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        # A directory that is ignored is still walked when an exclusion
        # pattern could bring back something inside it (as Docker does).
        keep = []
        for d in dirnames:
            rel = rel_dir + d
            if ignored(rel, patterns) and not any(p.exclusion for p in patterns):
                continue
            keep.append(d)
        dirnames[:] = keep
        for f in filenames:
            rel = rel_dir + f
            if ignored(rel, patterns):
                continue
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(os.path.join(dirpath, f), target, follow_symlinks=False)
            sent.append(rel)
    return sent


# --- The Dockerfile ---------------------------------------------------------


@dataclass
class Stage:
    name: str
    base: str
    index: int
    instructions: list[tuple[str, str]] = field(default_factory=list)
    args: dict[str, str] = field(default_factory=dict)


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, rest) per instruction: continuations joined, comments dropped."""
    out: list[tuple[str, str]] = []
    current = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        if current.strip():
            keyword, _, rest = current.strip().partition(" ")
            out.append((keyword.upper(), rest.strip()))
        current = ""
    if current.strip():
        raise ValueError("Dockerfile ends inside a continued line")
    return out


def expand(value: str, env: dict[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        return env.get(name, "")

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)", sub, value)


def parse_arg(rest: str) -> tuple[str, str | None]:
    name, eq, default = rest.partition("=")
    return name.strip(), (default.strip().strip('"') if eq else None)


def stages(text: str) -> tuple[dict[str, str], list[Stage]]:
    """The global ARGs (before the first FROM) and the stages."""
    global_args: dict[str, str] = {}
    out: list[Stage] = []
    for keyword, rest in instructions(text):
        if keyword == "FROM":
            words = [w for w in rest.split() if not w.startswith("--platform")]
            base = expand(words[0], global_args)
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else str(len(out))
            out.append(Stage(name, base, len(out)))
            continue
        if not out:
            if keyword == "ARG":
                k, v = parse_arg(rest)
                global_args[k] = v or ""
            continue
        stage = out[-1]
        if keyword == "ARG":
            k, v = parse_arg(rest)
            # `ARG NAME` inside a stage brings the global default in.
            stage.args[k] = v if v is not None else global_args.get(k, "")
        stage.instructions.append((keyword, rest))
    return global_args, out


def copy_parts(rest: str) -> tuple[dict[str, str], list[str], str]:
    """(--flags, sources, destination) of a COPY or ADD."""
    if rest.startswith("["):
        raise ValueError(f"COPY in JSON form is not supported here: {rest}")
    words = shlex.split(rest)
    flags = {}
    while words and words[0].startswith("--"):
        k, _, v = words.pop(0)[2:].partition("=")
        flags[k] = v
    if len(words) < 2:
        raise ValueError(f"COPY needs a source and a destination: {rest}")
    return flags, words[:-1], words[-1]


# --- Running the Rust stage ---------------------------------------------------

ARCH = {"x86_64": ("amd64", "x86_64"), "aarch64": ("arm64", "aarch64")}

# The base image (aws-for-fluent-bit 3.x) is Amazon Linux 2023, glibc 2.34.
BASE_GLIBC = (2, 34)
# What a dynamically linked binary may need there: glibc's own libraries,
# and libgcc_s, which the base's Fluent Bit links too.
BASE_LIBRARIES = {"libc.so.6", "libm.so.6", "libgcc_s.so.1", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1"}


def runs_on_base(binary: Path) -> list[str]:
    """Why `binary` would not load on the base image (empty: it would)."""
    why = []
    dynamic = subprocess.run(["readelf", "-d", str(binary)], capture_output=True, text=True, check=True).stdout
    needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic))
    if extra := needed - BASE_LIBRARIES:
        why.append(f"{binary.name} needs {sorted(extra)}, which the base image may lack")
    symbols = subprocess.run(["readelf", "--dyn-syms", "-W", str(binary)], capture_output=True, text=True, check=True).stdout
    versions = {tuple(int(x) for x in v.split(".")) for v in re.findall(r"@GLIBC_([0-9]+(?:\.[0-9]+)+)", symbols)}
    newest = max(versions, default=(0,))
    if newest > BASE_GLIBC:
        why.append(f"{binary.name} needs glibc {'.'.join(map(str, newest))}, the base has {'.'.join(map(str, BASE_GLIBC))}")
    print(f"image-check: {binary.name}: needs {sorted(needed) or 'no shared libraries'}, glibc symbols up to "
          f"{'.'.join(map(str, newest)) if versions else 'none'}")
    return why


def run_stage(stage: Stage, ctx: Path, work: Path, env: dict[str, str]) -> Path:
    """Runs `stage` with its WORKDIR at `work`. Returns the WORKDIR it used
    in the image (absolute paths under it map to `work`)."""
    workdir = "/"
    for keyword, rest in stage.instructions:
        if keyword == "ARG":
            k, v = parse_arg(rest)
            env.setdefault(k, stage.args.get(k) if v is None else v)
        elif keyword == "ENV":
            k, _, v = rest.partition("=")
            env[k.strip()] = expand(v.strip().strip('"'), env)
        elif keyword == "WORKDIR":
            workdir = expand(rest, env)
        elif keyword in ("COPY", "ADD"):
            flags, srcs, dest = copy_parts(rest)
            if "from" in flags:
                raise ValueError(f"stage {stage.name}: COPY --from inside the run stage is not supported")
            dest_path = work / os.path.relpath(os.path.join(workdir, dest), workdir)
            for s in srcs:
                src = ctx / s
                if not src.exists():
                    raise FileNotFoundError(f"stage {stage.name}: COPY {s}: not in the build context")
                if src.is_dir():
                    shutil.copytree(src, dest_path, dirs_exist_ok=True, symlinks=True)
                else:
                    target = dest_path / src.name if dest.endswith("/") or len(srcs) > 1 else dest_path
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, target)
        elif keyword == "RUN":
            command = rest
            print(f"image-check:   RUN {command[:100]}{'…' if len(command) > 100 else ''}", flush=True)
            subprocess.run(["sh", "-euc", command], cwd=work, env=env, check=True)
        elif keyword in ("LABEL", "USER", "EXPOSE", "CMD", "ENTRYPOINT", "VOLUME", "SHELL", "STOPSIGNAL", "HEALTHCHECK"):
            continue
        else:
            raise ValueError(f"stage {stage.name}: {keyword} is not supported by this check")
    return Path(workdir)


def stage_writes(stage: Stage, path: str) -> bool:
    """Whether a stage not run here names `path` as something it writes: the
    destination of one of its COPYs, or an output of one of its RUN
    commands (after `-o`, or the last word of a `cp` or `install`), relative
    paths taken from the stage's WORKDIR."""
    workdir = "/"
    for keyword, rest in stage.instructions:
        if keyword == "WORKDIR":
            workdir = os.path.join(workdir, rest)
        if keyword == "COPY":
            _, _, dest = copy_parts(rest)
            dest = os.path.join(workdir, dest)
            if dest == path or (dest.endswith("/") and path.startswith(dest)):
                return True
        if keyword == "RUN":
            for command in re.split(r"&&|;|\|\|?|\|", rest):
                words = shlex.split(command)
                if not words:
                    continue
                outputs = [b for a, b in zip(words, words[1:]) if a in ("-o", "--output")]
                if words[0] in ("cp", "install"):
                    outputs.append(words[-1])
                if any(os.path.join(workdir, o) == path for o in outputs):
                    return True
    return False


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(ROOT / "target" / "image"), help="where the shipped binaries go")
    ap.add_argument("--static", action="store_true", help="do not run the Rust stage")
    ap.add_argument("--context", default=str(ROOT), help="the build context (default: the repository)")
    args = ap.parse_args()
    src = Path(args.context).resolve()

    global_args, all_stages = stages((src / "Dockerfile").read_text())
    by_name = {s.name: s for s in all_stages}
    print(f"image-check: stages {', '.join(s.name for s in all_stages)}")

    failures = []
    with tempfile.TemporaryDirectory(prefix="image-context-") as tmp:
        ctx = Path(tmp) / "context"
        ctx.mkdir()
        sent = assemble_context(src, ctx)
        print(f"image-check: build context assembled, {len(sent)} files ({tmp})")

        # The Rust stage: the first stage whose base is a rust image.
        rust = next((s for s in all_stages if re.match(r"(docker\.io/(library/)?)?rust:", s.base)), None)
        if rust is None:
            failures.append("no stage builds FROM a rust image")
        built: dict[str, Path] = {}
        machine = os.uname().machine
        if rust is not None and not args.static:
            if machine not in ARCH:
                failures.append(f"unsupported machine {machine}")
            else:
                work = Path(tmp) / "rust-stage"
                work.mkdir()
                # The stage's target dir is the repository's (it is not in
                # the context): dependencies compiled once serve this build
                # and the tests; CI starts from an empty one, as Docker does.
                cache = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target").resolve()
                cache.mkdir(parents=True, exist_ok=True)
                (work / "target").symlink_to(cache)
                env = dict(os.environ)
                env.pop("CARGO_TARGET_DIR", None)
                env["TARGETARCH"], _ = ARCH[machine]
                print(f"image-check: running stage {rust.name} for {machine} (FROM {rust.base})", flush=True)
                try:
                    workdir = run_stage(rust, ctx, work, env)
                    built[rust.name] = work
                    built_workdir = workdir
                except (subprocess.CalledProcessError, OSError, ValueError) as e:
                    failures.append(f"stage {rust.name}: {e}")

        # Every COPY of every stage after the first.
        for stage in all_stages:
            for keyword, rest in stage.instructions:
                if keyword not in ("COPY", "ADD"):
                    continue
                flags, srcs, dest = copy_parts(rest)
                source_stage = flags.get("from")
                for s in srcs:
                    if source_stage is None:
                        if not (ctx / s).exists():
                            failures.append(f"stage {stage.name}: COPY {s} {dest}: not in the build context (.dockerignore?)")
                        continue
                    origin = by_name.get(source_stage)
                    if origin is None or origin.index >= stage.index:
                        failures.append(f"stage {stage.name}: COPY --from={source_stage}: no earlier stage of that name")
                        continue
                    if origin.name in built:
                        rel = os.path.relpath(s, str(built_workdir))
                        if rel.startswith("..") or not (built[origin.name] / rel).exists():
                            failures.append(f"stage {stage.name}: COPY --from={origin.name} {s}: the stage did not produce it")
                    elif not stage_writes(origin, s):
                        failures.append(f"stage {stage.name}: COPY --from={origin.name} {s}: stage {origin.name} writes no such path")

        if not failures and built:
            proxy = built[rust.name] / "dist" / "sink-proxy"
            if proxy.exists():
                failures.extend(runs_on_base(proxy))
            else:
                failures.append("the Rust stage wrote no dist/sink-proxy")
        if not failures and built:
            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            for stage in all_stages:
                for keyword, rest in stage.instructions:
                    if keyword != "COPY":
                        continue
                    flags, srcs, _ = copy_parts(rest)
                    if flags.get("from") in built:
                        for s in srcs:
                            f = built[flags["from"]] / os.path.relpath(s, str(built_workdir))
                            shutil.copy2(f, out / f.name)
                            print(f"image-check: shipped {out / f.name}")

    for f in failures:
        print(f"image-check: FAIL {f}", file=sys.stderr)
    if failures:
        return 1
    print("image-check: ok" + (" (static)" if args.static else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
