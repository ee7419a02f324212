"""The GC log: -X zgc_log[=PATH] and PYTHONZGCLOG."""
import os
import re
import sysconfig
import unittest
from test.support import os_helper
from test.support.script_helper import assert_python_failure, assert_python_ok

ZGC = sysconfig.get_config_var("Py_ZGC") == 1

LINE = re.compile(
    r"^\[zgc (\d+\.\d{3})s\] (young|incremental|full) #(\d+) pauses (\d+) "
    r"max (\d+\.\d{3})ms total (\d+\.\d{3})ms visited (\d+) "
    r"collected (\d+) rss (\d+\.\dM|\?)->(\d+\.\dM|\?) purged (\d+\.\dM)$")

SCRIPT = """if 1:
    import gc
    class Node:
        pass
    a = Node(); a.self = a
    del a
    gc.collect(0)
    gc.collect()
"""


def parse(text):
    lines = [line for line in text.splitlines() if line.startswith("[zgc ")]
    matches = [LINE.match(line) for line in lines]
    return lines, matches


@unittest.skipUnless(ZGC, "requires a --with-zgc build")
class GCLogTests(unittest.TestCase):

    def check_lines(self, text):
        lines, matches = parse(text)
        self.assertTrue(lines, text)
        for line, m in zip(lines, matches):
            self.assertIsNotNone(m, line)
            self.assertLessEqual(float(m.group(5)), float(m.group(6)))
        kinds = [m.group(2) for m in matches]
        self.assertIn("young", kinds)
        self.assertIn("incremental", kinds)
        # The explicit young collection found the cycle.
        young = [m for m in matches if m.group(2) == "young"]
        self.assertTrue(any(int(m.group(8)) >= 1 for m in young))

    def test_stderr(self):
        for args in (["-X", "zgc_log"], ["-X", "zgc_log=stderr"]):
            rc, out, err = assert_python_ok(*args, "-c", SCRIPT)
            self.check_lines(err.decode())

    def test_file(self):
        path = os_helper.TESTFN + ".zgclog"
        self.addCleanup(os_helper.unlink, path)
        assert_python_ok("-X", f"zgc_log={path}", "-c", SCRIPT)
        with open(path) as f:
            self.check_lines(f.read())

    def test_environment_variable(self):
        path = os_helper.TESTFN + ".zgclog"
        self.addCleanup(os_helper.unlink, path)
        assert_python_ok("-c", SCRIPT, PYTHONZGCLOG=path)
        with open(path) as f:
            self.check_lines(f.read())
        rc, out, err = assert_python_ok("-c", SCRIPT, PYTHONZGCLOG="1")
        self.check_lines(err.decode())

    def test_no_log_by_default(self):
        rc, out, err = assert_python_ok("-c", SCRIPT)
        self.assertNotIn(b"[zgc ", err)

    def test_unwritable_path_is_a_startup_error(self):
        bad = os.path.join(os_helper.TESTFN + ".missing-dir", "gc.log")
        rc, out, err = assert_python_failure("-X", f"zgc_log={bad}",
                                             "-c", "pass")
        self.assertIn(b"cannot open", err)
        self.assertIn(bad.encode(), err)
        rc, out, err = assert_python_failure("-c", "pass", PYTHONZGCLOG=bad)
        self.assertIn(b"PYTHONZGCLOG", err)


if __name__ == "__main__":
    unittest.main()
