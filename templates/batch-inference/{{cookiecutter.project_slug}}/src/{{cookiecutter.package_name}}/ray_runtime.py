"""Starting or joining Ray. A local Ray listens on 127.0.0.1 only (by default Ray binds the
machine's network address) and, as Ray 2.60 does by default, requires a token.

Two things Ray does on `init` that a service cannot have: it writes its token to
`~/.ray/auth_token` (the pod's HOME is read-only), and it replaces the process's SIGTERM
handler with `sys.exit` (uvicorn's graceful shutdown would never run). The token is given
to Ray in its environment instead (RAY_AUTH_TOKEN: a Secret in Kubernetes, else a random one
per process), and the previous signal handlers are put back after `init`.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import ray

from .settings import Settings

log = logging.getLogger(__name__)
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
SOURCE_ROOT = Path(__file__).resolve().parents[1]  # so workers import this package uninstalled


@contextmanager
def keep_signal_handlers() -> Iterator[None]:
    """Put back SIGTERM and SIGINT handlers that `ray.init` replaces (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def ensure_ray(settings: Settings) -> bool:
    """Start a loopback Ray (or join RAY_ADDRESS) unless one is running; True if started here."""
    if ray.is_initialized():
        return False
    with keep_signal_handlers():
        return _init(settings)


def _init(settings: Settings) -> bool:
    token = settings.ray_auth_token.get_secret_value() if settings.ray_auth_token else None
    os.environ["RAY_AUTH_TOKEN"] = token or secrets.token_hex(32)  # never written to disk
    os.environ["HF_HUB_OFFLINE"] = "1"  # the model is packaged: never reach the Hub
    paths = [str(SOURCE_ROOT), os.environ.get("PYTHONPATH")]
    env_vars = {"HF_HUB_OFFLINE": "1", "PYTHONPATH": os.pathsep.join(filter(None, paths))}
    if settings.ray_address:
        ray.init(address=settings.ray_address, runtime_env={"env_vars": env_vars})
        log.info("joined ray cluster", extra={"address": settings.ray_address})
        return True
    # Loopback binding comes from RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, set in __init__.py
    # before Ray is imported; the check below refuses to run if Ray bound anything else.
    ray.init(
        # Two logical CPUs more than the predictor pool uses (MAX_CONCURRENCY actors of
        # CPUS_PER_ACTOR, sized to RAY_NUM_CPUS): a resumed job adds Ray Data's
        # checkpoint-filter actor, which asks for a whole CPU (not configurable in Ray 2.60)
        # and mostly waits, and the light read/parse/write tasks (0.25 each) need one to
        # share; without them a full pool starves reads and the job never ends.
        num_cpus=settings.ray_num_cpus + 2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": env_vars},
    )
    addresses = node_addresses()
    if not addresses <= LOOPBACK:
        ray.shutdown()
        raise RuntimeError(
            f"local Ray bound {sorted(addresses)}, not loopback: refusing to run "
            "(import {{ cookiecutter.package_name }} before ray, or set "
            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0)"
        )
    ray.data.DataContext.get_current().enable_progress_bars = False
    log.info("started local ray", extra={"addresses": sorted(addresses)})
    return True


def node_addresses() -> set[str]:
    return {str(node["NodeManagerAddress"]) for node in ray.nodes() if node.get("Alive")}


def ray_ready() -> bool:
    return ray.is_initialized() and bool(node_addresses())


def cluster_gpus() -> float:
    return float(ray.cluster_resources().get("GPU", 0.0)) if ray.is_initialized() else 0.0


def actor_gpus(settings: Settings, available_gpus: float) -> float:
    """GPUs each predictor actor asks Ray for.

    accelerator=gpu asks for `gpus_per_actor` where the cluster has GPUs; on a machine
    without one (a laptop, CI) it runs on CPU instead of waiting forever for a GPU.
    """
    if settings.accelerator != "gpu":
        return 0.0
    if available_gpus <= 0:
        log.warning("accelerator=gpu but Ray sees no GPU: predictors run on CPU")
        return 0.0
    return settings.gpus_per_actor
