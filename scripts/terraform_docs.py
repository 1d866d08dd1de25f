#!/usr/bin/env python3
"""The firelens-router module's inputs and outputs table, from its
variables.tf and outputs.tf, written into its README.md between
<!-- BEGIN_TF_DOCS --> and <!-- END_TF_DOCS -->.

    python3 scripts/terraform_docs.py          # rewrite the table
    python3 scripts/terraform_docs.py --check  # fail if it is not current (CI)

terraform-docs is a Go binary that no package registry reachable here
ships, so this reads the HCL itself: a small scanner that knows what can
hide a brace or a newline (strings with their ${...} templates, heredocs,
comments) and reads each top-level block's attributes as text. It takes
from each variable its description, type, default and sensitive flag, and
from each output its description and sensitive flag; a `# --- Name ---`
comment line starts a group of variables. Tested by
scripts/test_terraform_docs.py.
"""

import difflib
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULE = ROOT / "terraform" / "modules" / "firelens-router"
BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"
SECTION = re.compile(r"^#\s*---\s*(.+?)\s*---\s*$")


class HclError(ValueError):
    pass


class Scanner:
    """Walks HCL text; every skip_* method leaves `i` after what it read."""

    def __init__(self, text):
        self.s = text
        self.i = 0

    def peek(self, k=0):
        j = self.i + k
        return self.s[j] if j < len(self.s) else ""

    def line_of(self, i):
        return self.s.count("\n", 0, i) + 1

    def fail(self, what):
        raise HclError(f"line {self.line_of(self.i)}: {what}")

    def skip_comment(self):
        """A comment at i, if any: True when one was skipped (a line
        comment up to, not including, its newline)."""
        if self.peek() == "#" or (self.peek() == "/" and self.peek(1) == "/"):
            while self.i < len(self.s) and self.s[self.i] != "\n":
                self.i += 1
            return True
        if self.peek() == "/" and self.peek(1) == "*":
            end = self.s.find("*/", self.i + 2)
            if end < 0:
                self.fail("unterminated /* comment")
            self.i = end + 2
            return True
        return False

    def skip_blank(self, newlines=True):
        while self.i < len(self.s):
            c = self.s[self.i]
            if c in " \t\r" or (newlines and c == "\n"):
                self.i += 1
            elif not self.skip_comment():
                return

    def skip_string(self):
        """A quoted string (with its templates) at i."""
        assert self.s[self.i] == '"'
        self.i += 1
        while self.i < len(self.s):
            c = self.s[self.i]
            if c == "\\":
                self.i += 2
            elif c == '"':
                self.i += 1
                return
            elif c == "\n":
                self.fail("newline in a quoted string")
            elif c in "$%" and self.peek(1) == "{":
                if self.i > 0 and self.s[self.i - 1] == c:  # $${ and %%{: literal
                    self.i += 2
                    continue
                self.i += 2
                self.skip_until_close("}")
            else:
                self.i += 1
        self.fail("unterminated string")

    def skip_heredoc(self):
        m = re.compile(r"<<(-?)([A-Za-z_][A-Za-z0-9_]*)[ \t]*\n").match(self.s, self.i)
        if not m:
            self.fail("malformed heredoc")
        end = re.compile(r"^[ \t]*" + re.escape(m.group(2)) + r"[ \t]*$", re.M).search(self.s, m.end())
        if not end:
            self.fail(f"heredoc {m.group(2)} not closed")
        self.i = end.end()

    def skip_until_close(self, close):
        """Everything up to and including the bracket that closes one
        already opened."""
        pairs = {"{": "}", "[": "]", "(": ")"}
        stack = [close]
        while self.i < len(self.s):
            c = self.s[self.i]
            if c == '"':
                self.skip_string()
            elif c == "<" and self.peek(1) == "<" and re.match(r"<<-?[A-Za-z_]", self.s[self.i : self.i + 4]):
                self.skip_heredoc()
            elif self.skip_comment():
                pass
            elif c in pairs:
                stack.append(pairs[c])
                self.i += 1
            elif c in "}])":
                if c != stack[-1]:
                    self.fail(f"{c!r} where {stack[-1]!r} was expected")
                stack.pop()
                self.i += 1
                if not stack:
                    return
            else:
                self.i += 1
        self.fail(f"{close!r} missing")

    def expression(self):
        """The expression at i, as text: up to the newline (or the closing
        brace of a one-line block) at bracket depth 0."""
        start = self.i
        while self.i < len(self.s):
            c = self.s[self.i]
            if c == "\n" or c == "}":
                break
            if c == '"':
                self.skip_string()
            elif c == "<" and self.peek(1) == "<" and re.match(r"<<-?[A-Za-z_]", self.s[self.i : self.i + 4]):
                self.skip_heredoc()
            elif c in "{[(":
                self.i += 1
                self.skip_until_close({"{": "}", "[": "]", "(": ")"}[c])
            elif c == "#" or (c == "/" and self.peek(1) in "/*"):
                end = self.i
                self.skip_comment()
                return self.s[start:end].strip()
            else:
                self.i += 1
        return self.s[start : self.i].strip()

    def body(self, close=None):
        """Items until `close` ("}") or the end: a list of
        ("attr", name, text) and ("block", type, labels, items, line), and
        ("section", name) for a `# --- Name ---` line at the top level."""
        items = []
        while True:
            # Blank lines and comments; at the top, a section line is kept.
            if close:
                self.skip_blank()
            else:
                self._top_blank(items)
            if self.i >= len(self.s):
                if close:
                    self.fail(f"{close!r} missing")
                return items
            if self.peek() == close:
                self.i += 1
                return items
            m = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*").match(self.s, self.i)
            if not m:
                self.fail(f"unexpected {self.peek()!r}")
            name, line = m.group(0), self.line_of(self.i)
            self.i = m.end()
            self.skip_blank(newlines=False)
            if self.peek() == "=" and self.peek(1) != "=":
                self.i += 1
                self.skip_blank(newlines=False)
                items.append(("attr", name, self.expression()))
                continue
            labels = []
            while self.peek() != "{":
                if self.peek() == '"':
                    start = self.i
                    self.skip_string()
                    labels.append(json.loads(self.s[start : self.i]))
                else:
                    lm = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*").match(self.s, self.i)
                    if not lm:
                        self.fail(f"a label or '{{' expected after {name}")
                    labels.append(lm.group(0))
                    self.i = lm.end()
                self.skip_blank(newlines=False)
            self.i += 1
            items.append(("block", name, labels, self.body("}"), line))

    def _top_blank(self, items):
        """Top-level blanks and comments, keeping section lines."""
        while self.i < len(self.s):
            c = self.s[self.i]
            if c in " \t\r\n":
                self.i += 1
            elif c == "#":
                end = self.s.find("\n", self.i)
                end = len(self.s) if end < 0 else end
                m = SECTION.match(self.s[self.i : end])
                if m:
                    items.append(("section", m.group(1)))
                self.i = end
            elif not self.skip_comment():
                return


def parse(text):
    return Scanner(text).body()


def string_value(expr):
    """A quoted string literal's or a heredoc's text (a template is shown
    as written)."""
    if expr is None:
        return None
    m = re.fullmatch(r"<<(-?)([A-Za-z_][A-Za-z0-9_]*)[ \t]*\n(.*?)^[ \t]*\2[ \t]*", expr, re.S | re.M)
    if m:
        body = m.group(3)
        if m.group(1):  # <<-: the common indentation goes
            import textwrap

            body = textwrap.dedent(body)
        return body.rstrip("\n")
    if expr.startswith('"') and expr.endswith('"'):
        inner = expr[1:-1]
        out, i = [], 0
        escapes = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
        while i < len(inner):
            c = inner[i]
            if c == "\\" and i + 1 < len(inner):
                n = inner[i + 1]
                if n in escapes:
                    out.append(escapes[n])
                    i += 2
                    continue
                if n == "u" and i + 5 < len(inner):
                    out.append(chr(int(inner[i + 2 : i + 6], 16)))
                    i += 6
                    continue
            out.append(c)
            i += 1
        return "".join(out).replace("$${", "${").replace("%%{", "%{")
    return expr


def attrs(items):
    return {i[1]: i[2] for i in items if i[0] == "attr"}


def variables(items):
    """(group, name, attributes, validation count) of each variable."""
    out, group = [], None
    for it in items:
        if it[0] == "section":
            group = it[1]
        elif it[0] == "block" and it[1] == "variable":
            body = it[3]
            validations = sum(1 for b in body if b[0] == "block" and b[1] == "validation")
            out.append((group, it[2][0], attrs(body), validations))
    return out


def outputs(items):
    out, group = [], None
    for it in items:
        if it[0] == "section":
            group = it[1]
        elif it[0] == "block" and it[1] == "output":
            out.append((group, it[2][0], attrs(it[3])))
    return out


def cell(text):
    """Table-cell text: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def code(text):
    text = " ".join(text.split())
    ticks = "``" if "`" in text else "`"
    pad = " " if ticks == "``" else ""
    return f"{ticks}{pad}{text}{pad}{ticks}".replace("|", "\\|")


def grouped(title, header, rows):
    """A `## title` section: one table per group (a `### group` heading
    each, when the file has groups)."""
    lines = [f"## {title}", ""]
    last = object()
    for group, row in rows:
        if group != last:
            if lines[-1] != "":
                lines.append("")
            if group:
                lines += [f"### {group}", ""]
            lines += [header, header_rule(header)]
            last = group
        lines.append(row)
    return lines + [""]


def header_rule(header):
    return "|" + "---|" * (header.count("|") - 1)


def table(variables_tf, outputs_tf):
    inputs = []
    for group, name, a, _ in variables(parse(variables_tf)):
        desc = string_value(a.get("description")) or ""
        if a.get("sensitive") == "true":
            desc += " (sensitive)"
        default = code(a["default"]) if "default" in a else "required"
        inputs.append((group, f"| `{name}` | {cell(desc)} | {code(a.get('type', 'any'))} | {default} |"))
    outs = []
    for group, name, a in outputs(parse(outputs_tf)):
        desc = string_value(a.get("description")) or ""
        if a.get("sensitive") == "true":
            desc += " (sensitive)"
        outs.append((group, f"| `{name}` | {cell(desc)} |"))
    lines = grouped("Inputs", "| Name | Description | Type | Default |", inputs)
    lines += grouped("Outputs", "| Name | Description |", outs)
    return "\n".join(lines)


def render(readme, generated):
    if BEGIN not in readme or END not in readme:
        raise HclError(f"README.md has no {BEGIN} ... {END} section")
    head, rest = readme.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n<!-- generated by scripts/terraform_docs.py from variables.tf and outputs.tf: do not edit -->\n\n{generated}{END}{tail}"


def main(argv):
    check = "--check" in argv
    module = MODULE
    readme_path = module / "README.md"
    readme = readme_path.read_text()
    want = render(readme, table((module / "variables.tf").read_text(), (module / "outputs.tf").read_text()))
    if want == readme:
        if check:
            print(f"terraform_docs: {readme_path.relative_to(ROOT)} is current")
        return 0
    if check:
        sys.stdout.writelines(
            difflib.unified_diff(readme.splitlines(True), want.splitlines(True), "README.md", "generated")
        )
        print(f"terraform_docs: {readme_path.relative_to(ROOT)} is not current: run python3 scripts/terraform_docs.py")
        return 1
    readme_path.write_text(want)
    print(f"terraform_docs: wrote {readme_path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
