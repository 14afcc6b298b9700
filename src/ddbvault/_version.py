"""`__version__`, the installed distribution's version.

Its own module so that any module can import it without importing the package root, which
imports the verbs (backup, restore, ...) and would make a cycle.
"""

from importlib.metadata import PackageNotFoundError, version as _distribution_version

try:
    __version__ = _distribution_version("ddbvault")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
