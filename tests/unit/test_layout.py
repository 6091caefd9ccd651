"""The suite's own layout: pytest imports test modules by basename (rootdir-relative
sys.path insertion), so two test files with one name break collection."""

import collections
import os

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_test_module_basenames_are_unique():
    seen = collections.defaultdict(list)
    for root, _, files in os.walk(TESTS):
        for name in files:
            if name.startswith("test_") and name.endswith(".py"):
                seen[name].append(os.path.relpath(os.path.join(root, name), TESTS))
    assert {n: p for n, p in seen.items() if len(p) > 1} == {}
