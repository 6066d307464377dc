"""The browser the browser tests drive, and the one rule for when they may skip.

$TFVAE_CHROMIUM if set, else Debian's chromium, else Google Chrome (preinstalled on GitHub's
Ubuntu runners, where the apt package chromium-browser is only a snap shim). The launch
options keep Chromium off the network: this machine's network is closed, and without them
Chromium tries Google's hosts at every start.
"""

import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("TFVAE_CHROMIUM") or next(
    (c for c in ("/usr/bin/chromium", "/usr/bin/google-chrome") if Path(c).exists()), "/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def missing_browser() -> str | None:
    """Why no browser test can run here (Playwright or the browser is missing), or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright (python) is not installed"
    if not Path(CHROMIUM).exists():
        return (f"no browser at {CHROMIUM} (Debian package chromium, which `./run setup` installs, "
                "or Google Chrome; or point TFVAE_CHROMIUM at one)")
    return None


def skip_module_unless_runnable(missing: str | None, what: str):
    """Skip the calling test module for `missing`, except where the browser is required (CI sets
    TFVAE_REQUIRE_BROWSER=1): there a machine that lost its browser fails instead of passing quietly."""
    if missing is None:
        return
    if os.environ.get("TFVAE_REQUIRE_BROWSER") == "1":
        raise RuntimeError(f"{what} is required here, but {missing}")
    pytest.skip(missing, allow_module_level=True)
