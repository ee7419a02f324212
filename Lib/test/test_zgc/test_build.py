"""Build facts: what ./configure --with-zgc promises, and what a stock build
from the same checkout must not show."""
import platform
import subprocess
import sys
import sysconfig
import unittest

ZGC = sysconfig.get_config_var("Py_ZGC") == 1


class BuildFactsTests(unittest.TestCase):

    @unittest.skipUnless(ZGC, "requires a --with-zgc build")
    def test_zgc_build_is_free_threaded(self):
        self.assertEqual(sysconfig.get_config_var("Py_GIL_DISABLED"), 1)
        self.assertEqual(sysconfig.get_config_var("WITH_MIMALLOC"), 1)
        self.assertIn("t", sys.abiflags)
        self.assertFalse(sys._is_gil_enabled())

    @unittest.skipUnless(ZGC, "requires a --with-zgc build")
    def test_zgc_in_config_args(self):
        self.assertIn("--with-zgc", sysconfig.get_config_var("CONFIG_ARGS"))

    @unittest.skipIf(ZGC, "stock builds only")
    def test_stock_build_has_no_zgc(self):
        self.assertIn(sysconfig.get_config_var("Py_ZGC"), (None, 0))
        self.assertNotIn("--with-zgc",
                         sysconfig.get_config_var("CONFIG_ARGS") or "")

    def test_version_flag_names_the_collector(self):
        out = subprocess.run([sys.executable, "-VV"], capture_output=True,
                             text=True, check=True).stdout
        self.assertTrue(out.startswith("Python " + sys.version), out)
        self.assertEqual("[pyzgc]" in out, ZGC, out)
        out = subprocess.run([sys.executable, "-V"], capture_output=True,
                             text=True, check=True).stdout
        self.assertEqual(out.strip(), "Python " + platform.python_version())

    def test_sys_version_is_upstreams(self):
        # platform parses sys.version; pyzgc must not change its format.
        self.assertNotIn("pyzgc", sys.version)
        self.assertEqual(platform.python_implementation(), "CPython")
        self.assertEqual(platform.python_version_tuple()[:2], ("3", "14"))


if __name__ == "__main__":
    unittest.main()
