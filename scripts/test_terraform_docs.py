"""Tests of scripts/terraform_docs.py: the HCL it must read right (what
can hide a brace, a quote or a newline), the table it writes, and the
module itself read completely.

    python3 -m unittest scripts/test_terraform_docs.py
"""

import re
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import terraform_docs as td  # noqa: E402

TRICKY = r'''
# A comment with a "quote" and a { brace
terraform {
  required_version = ">= 1.5"
}

# --- First group ---

variable "plain" {
  description = "A \"quoted\" word, a { brace } and a | pipe"
  type        = string
}

/* A block comment
variable "commented_out" {
  description = "not a variable"
}
*/

variable "templated" {
  description = "Uses ${var.plain == "}" ? "x" : "y"} and $${literal} // not a comment"
  type        = map(object({ a = string, b = list(number) }))
  default = {
    a = "one"  # a comment after a value
    b = [1, 2,
    3]
  }
  validation {
    condition     = length(var.templated) > 0
    error_message = "templated: not empty."
  }
  validation {
    condition     = true
    error_message = "templated: twice."
  }
}

# --- Second group ---

variable "heredoc" {
  description = <<-EOT
    Several lines,
    with a } brace.
  EOT
  type        = string
  default     = <<EOF
}"
EOF
  sensitive   = true
}

variable "bare" {}

variable "one_line_block" { default = "x" }
'''


class Scanner(unittest.TestCase):
    def test_reads_the_variables_through_strings_comments_and_heredocs(self):
        got = td.variables(td.parse(TRICKY))
        self.assertEqual(
            [(g, n) for g, n, _, _ in got],
            [
                ("First group", "plain"),
                ("First group", "templated"),
                ("Second group", "heredoc"),
                ("Second group", "bare"),
                ("Second group", "one_line_block"),
            ],
        )
        attrs = {n: a for _, n, a, _ in got}
        self.assertEqual(td.string_value(attrs["plain"]["description"]), 'A "quoted" word, a { brace } and a | pipe')
        self.assertEqual(
            td.string_value(attrs["templated"]["description"]),
            'Uses ${var.plain == "}" ? "x" : "y"} and ${literal} // not a comment',
        )
        self.assertEqual(attrs["templated"]["type"], "map(object({ a = string, b = list(number) }))")
        self.assertIn('a = "one"  # a comment after a value', attrs["templated"]["default"])
        self.assertTrue(attrs["templated"]["default"].endswith("3]\n  }"))
        self.assertEqual(attrs["heredoc"]["sensitive"], "true")
        self.assertTrue(attrs["heredoc"]["default"].startswith("<<EOF"))
        self.assertEqual(attrs["bare"], {})
        self.assertEqual(attrs["one_line_block"]["default"], '"x"')
        self.assertEqual({n: v for _, n, _, v in got}["templated"], 2)

    def test_a_comment_ends_an_attribute(self):
        items = td.parse('x = 1 # one\ny = "#" // two\nz = "a" /* three */\n')
        self.assertEqual(td.attrs(items), {"x": "1", "y": '"#"', "z": '"a"'})

    def test_refuses_what_it_cannot_read(self):
        for bad in ['variable "a" {', 'x = "open\n', "x = [1, 2\n", 'v "a" { d = <<EOT\nno end\n}', "x = (1]\n"]:
            with self.assertRaises(td.HclError, msg=bad):
                td.parse(bad)

    def test_the_table(self):
        out = td.table(TRICKY, 'output "o" {\n  description = "An | output"\n  value = 1\n}\n')
        self.assertIn("### First group", out)
        self.assertIn("| `plain` | A \"quoted\" word, a { brace } and a \\| pipe | `string` | required |", out)
        self.assertIn("| `heredoc` | Several lines, with a } brace. (sensitive) |", out)
        self.assertIn("| `bare` |  | `any` | required |", out)
        self.assertIn("## Outputs", out)
        self.assertIn("| `o` | An \\| output |", out)
        # Each group's table is closed by a blank line before the next heading.
        self.assertIn("3] }` |\n\n### Second group\n\n| Name |", out)

    def test_render_replaces_only_the_marked_section(self):
        readme = f"intro\n{td.BEGIN}\nold\n{td.END}\nafter\n"
        out = td.render(readme, "new\n")
        self.assertTrue(out.startswith("intro\n" + td.BEGIN))
        self.assertIn("new\n" + td.END + "\nafter\n", out)
        self.assertNotIn("old", out)
        with self.assertRaises(td.HclError):
            td.render("no markers", "x")


class TheModule(unittest.TestCase):
    """The module's own files, read completely."""

    def test_every_variable_and_output_is_in_the_table(self):
        variables_tf = (td.MODULE / "variables.tf").read_text()
        outputs_tf = (td.MODULE / "outputs.tf").read_text()
        names = [n for _, n, _, _ in td.variables(td.parse(variables_tf))]
        self.assertEqual(names, re.findall(r'^variable "([^"]+)"', variables_tf, re.M))
        outs = [n for _, n, _ in td.outputs(td.parse(outputs_tf))]
        self.assertEqual(outs, re.findall(r'^output "([^"]+)"', outputs_tf, re.M))
        table = td.table(variables_tf, outputs_tf)
        for n in names + outs:
            self.assertIn(f"| `{n}` |", table)
        # Every top-level item of the module's files is read (a scanner
        # lost in a string would swallow blocks).
        for f in sorted(td.MODULE.glob("*.tf")):
            text = f.read_text()
            blocks = [i for i in td.parse(text) if i[0] == "block"]
            self.assertEqual(len(blocks), len(re.findall(r"^[a-z_]+( \"[^\"]+\")* \{", text, re.M)), f.name)

    def test_the_readme_is_current(self):
        self.assertEqual(td.main(["--check"]), 0)

    def test_the_check_fails_on_a_stale_table_and_the_rewrite_fixes_it(self):
        import contextlib
        import io
        import shutil
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / "firelens-router"
            shutil.copytree(td.MODULE, copy, ignore=shutil.ignore_patterns("tests", ".terraform*"))
            variables_tf = copy / "variables.tf"
            variables_tf.write_text(variables_tf.read_text().replace('"Prefix of every resource', '"The prefix of every resource'))
            saved, td.MODULE, td.ROOT = (td.MODULE, td.ROOT), copy, Path(tmp)
            try:
                with contextlib.redirect_stdout(io.StringIO()) as out:
                    self.assertEqual(td.main(["--check"]), 1)
                    self.assertEqual(td.main([]), 0)
                    self.assertEqual(td.main(["--check"]), 0)
                self.assertIn("+| `name` | The prefix of every resource", out.getvalue())
            finally:
                td.MODULE, td.ROOT = saved


if __name__ == "__main__":
    unittest.main()
