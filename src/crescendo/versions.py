"""What `cr --version` prints: crescendo's version and the versions of the libraries it stands on.

Read from the installed packages' metadata (importlib.metadata), never by importing them: the answer
must come as fast as `cr --help`, without torch or Lightning.
"""

from __future__ import annotations

from importlib import metadata

from crescendo import __version__

#: (shown name, distribution name) of each library whose behaviour a user of crescendo observes
LIBRARIES = (("Hydra", "hydra-core"), ("Lightning", "lightning"), ("torch", "torch"), ("Optuna", "optuna"))


def installed_version(distribution: str) -> str:
    """The installed version of `distribution`, or "not installed"."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def version_text() -> str:
    """`crescendo 0.1.0 (Hydra 1.3.2, Lightning 2.6.0, torch 2.13.0, Optuna 4.6.0)`"""
    libraries = ", ".join(f"{name} {installed_version(dist)}" for name, dist in LIBRARIES)
    return f"crescendo {__version__} ({libraries})"
