"""The README's example runs against a live dev node and prints what it says."""

import contextlib
import io
import re
import unittest
from pathlib import Path

from node import DevNode

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


class Readme(unittest.TestCase):
    def test_the_example_runs(self):
        code = re.search(r"```python\n(.*?)```", README, re.S).group(1)
        node = DevNode()
        node.start()
        try:
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                exec(compile(code.replace("http://127.0.0.1:8645", node.url), "README", "exec"), {})
        finally:
            node.stop()
        lines = out.getvalue().splitlines()
        self.assertRegex(lines[0], r"^height \d+ success True$")
        self.assertEqual(lines[1], "carol has 2500000 micro")
        self.assertRegex(lines[2], r"^event \d+ transfer$")


if __name__ == "__main__":
    unittest.main()
