"""goldenpath: golden paths to production AI services, and the template CI that keeps them
working."""

from pathlib import Path

__version__ = "0.1.0"

KIT_ROOT = Path(__file__).resolve().parents[2]
TEMPLATES_DIR = KIT_ROOT / "templates"
