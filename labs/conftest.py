"""Makes ``pytest labs/`` a grading run (see docs/instructors.md).

The grading plugin's hooks and the ``credit`` fixture are imported into this
conftest's namespace: ``pytest_plugins = [...]`` is only allowed in the
rootdir's conftest, and pytest applies these hooks to the tests under labs/ only.
"""
from minnet.grading.plugin import *  # noqa: F401,F403  (markers, credit, isolation, grades)
