"""Tests of pyzgc, the ZGC-style collector of a --with-zgc build.

In a stock build (no --with-zgc) they check that nothing of pyzgc shows.
"""
import os
from test.support import load_package_tests


def load_tests(*args):
    return load_package_tests(os.path.dirname(__file__), *args)
