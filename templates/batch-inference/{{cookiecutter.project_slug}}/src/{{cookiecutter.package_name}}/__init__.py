"""{{ cookiecutter.description }}"""

import os

# Ray reads this when it is first imported: "0" makes a local Ray bind 127.0.0.1 only (its
# ports are unauthenticated). This package is imported before Ray everywhere; a process that
# joins a real cluster (the RayJob driver) sets it to "1" in its environment.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
