"""A Docker engine for kind: the user's own when one answers, else a private one we start and stop.

The private engine must not disturb anything else on the host: it has its own data-root,
exec-root, pidfile and socket under the cache dir, its own pre-created bridge (never
`--bridge=none`, which deletes another engine's docker0), an address pool outside 172.17.0.0/16,
and it leaves the host's iptables and ip_forward alone (kind's traffic stays on this machine).
When the host's capability bounding set lacks a capability Docker grants privileged containers,
the engine's default runtime is our cap-stripping runc wrapper (see capwrapper.py).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from runbooks.errors import ProviderUnavailableError
from runbooks.kindenv import capwrapper, host_limits
from runbooks.kube.commands import CommandResult, run_command
from runbooks.toolchain import cache
from runbooks.waiting import WaitTimeout, wait_for

Progress = Callable[[str], None]
BRIDGE = os.environ.get("KUBE_RUNBOOKS_BRIDGE", "krb0")
# The private bridge's own /24 and the pool kind's network is carved from; neither is 172.17/16.
BRIDGE_CIDR = os.environ.get("KUBE_RUNBOOKS_BRIDGE_CIDR", "10.212.0.1/24")
ADDRESS_POOL = os.environ.get("KUBE_RUNBOOKS_ADDRESS_POOL", "10.213.0.0/16")
RUNTIME_NAME = "kube-runbooks-runc"
START_TIMEOUT = 90.0


@dataclass(frozen=True)
class Engine:
    """How to reach an engine: the env for docker/kind, and whether we own (and must stop) it."""

    docker: str  # the docker client binary
    host: str | None  # DOCKER_HOST, None for the client's default
    private: bool
    pid: int | None = None
    bridge: str | None = None

    def env(self) -> dict[str, str]:
        """The environment kind and docker need to talk to this engine, with this client first on PATH."""
        env = dict(os.environ)
        if self.host:
            env["DOCKER_HOST"] = self.host
        env["PATH"] = f"{Path(self.docker).parent}:{env.get('PATH', '')}"
        return env

    def run(self, *args: str, check: bool = True, timeout: float = 120) -> CommandResult:
        """Run one docker command against this engine (through the one command runner)."""
        result = run_command([self.docker, *args], timeout=timeout, env=self.env(), error=ProviderUnavailableError)
        if check and result.returncode != 0:
            raise ProviderUnavailableError(f"`docker {' '.join(args)}` failed: {result.stderr.strip()}")
        return result


@dataclass(frozen=True)
class Layout:
    """Where the private engine keeps its state: all under <cache>/kindenv."""

    root: Path

    @classmethod
    def default(cls) -> Layout:
        return cls(cache.cache_root() / "kindenv")

    @property
    def data_root(self) -> Path:
        return self.root / "docker-data"

    @property
    def exec_root(self) -> Path:
        return self.root / "run"

    @property
    def socket(self) -> Path:
        return self.root / "run" / "docker.sock"

    @property
    def pidfile(self) -> Path:
        return self.root / "run" / "dockerd.pid"

    @property
    def log(self) -> Path:
        return self.root / "dockerd.log"

    @property
    def state(self) -> Path:
        return self.root / "engine.json"

    @property
    def wrapper(self) -> Path:
        return self.root / "runc-wrapper"


def docker_client() -> str:
    """Debian's docker client (it matches Debian's engine) when present, else whichever is on PATH."""
    for candidate in ("/usr/bin/docker", shutil.which("docker")):
        if candidate and Path(candidate).exists():
            return candidate
    raise ProviderUnavailableError("no docker client: run `apt-get install -y docker.io` (or `python -m runbooks.kindenv up`)")


def answers(docker: str, host: str | None) -> bool:
    env = dict(os.environ)
    if host:
        env["DOCKER_HOST"] = host
    try:
        result = subprocess.run([docker, "info", "--format", "{{.ServerVersion}}"], env=env, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0 and bool(result.stdout.strip())


def existing_engine() -> Engine | None:
    """The user's own engine (DOCKER_HOST or the default socket), if one answers."""
    docker = shutil.which("docker") or (Path("/usr/bin/docker").exists() and "/usr/bin/docker") or None
    if docker and answers(str(docker), os.environ.get("DOCKER_HOST")):
        return Engine(docker=str(docker), host=os.environ.get("DOCKER_HOST"), private=False)
    return None


def running_private_engine(layout: Layout) -> Engine | None:
    """Our private engine from an earlier `up`, if it is still alive and answering."""
    try:
        state = json.loads(layout.state.read_text())
        engine = Engine(**state)
    except (OSError, ValueError, TypeError):
        return None
    if engine.pid and _alive(engine.pid) and answers(engine.docker, engine.host):
        return engine
    return None


def current_engine(layout: Layout | None = None) -> Engine | None:
    """The engine kind should use right now, without starting anything."""
    return running_private_engine(layout or Layout.default()) or existing_engine()


def needs_cap_wrapper() -> bool:
    with open("/proc/self/status") as handle:
        return bool(capwrapper.missing_capabilities(capwrapper.bounding_set(handle.read())))


def dockerd_argv(layout: Layout, wrapper: bool) -> list[str]:
    """The private engine's command line: everything it owns is its own, nothing host-wide changes."""
    argv = [
        _require_binary("dockerd"),
        f"--data-root={layout.data_root}",
        f"--exec-root={layout.exec_root}",
        f"--pidfile={layout.pidfile}",
        f"--host=unix://{layout.socket}",
        f"--bridge={BRIDGE}",
        f"--default-address-pool=base={ADDRESS_POOL},size=24",
        "--cgroup-parent=/kube-runbooks-docker",
        # kind's nodes talk to each other on their own bridge and the host reaches them there;
        # nothing needs NAT to the outside, so the host's firewall and forwarding stay untouched.
        "--iptables=false",
        "--ip-forward=false",
        "--ip-masq=false",
    ]
    if wrapper:
        argv += [f"--add-runtime={RUNTIME_NAME}={layout.wrapper}", f"--default-runtime={RUNTIME_NAME}"]
    return argv


def write_wrapper(layout: Layout) -> None:
    """A tiny executable the engine can call as a runtime: our wrapper under this Python."""
    layout.wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} -S {capwrapper.__file__} "$@"\n')
    layout.wrapper.chmod(0o755)


def start_private_engine(layout: Layout, progress: Progress) -> Engine:
    """Create our bridge and start dockerd on it; an error names the log when it does not answer."""
    if len(str(layout.exec_root)) > 60:
        # containerd's sockets live deeper under the exec-root; unix socket paths stop at 108 bytes.
        raise ProviderUnavailableError(f"{layout.exec_root} is too long for the engine's sockets: set KUBE_RUNBOOKS_CACHE to a shorter path")
    layout.exec_root.mkdir(parents=True, exist_ok=True)
    layout.data_root.mkdir(parents=True, exist_ok=True)
    _ensure_bridge(progress)
    host_limits.raise_inotify_limits(progress)
    wrapper = needs_cap_wrapper()
    if wrapper:
        write_wrapper(layout)
        progress("the capability bounding set lacks CAP_SYS_RESOURCE: using the cap-stripping runc wrapper")
    argv = dockerd_argv(layout, wrapper)
    progress(f"starting a private Docker engine on unix://{layout.socket}")
    with layout.log.open("ab") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, close_fds=True)
    engine = Engine(docker=docker_client(), host=f"unix://{layout.socket}", private=True, pid=process.pid, bridge=BRIDGE)
    layout.state.write_text(json.dumps(asdict(engine)))

    def running() -> None:
        if process.poll() is not None:
            raise ProviderUnavailableError(f"dockerd exited with code {process.returncode}: see {layout.log}")

    wait_for(
        lambda: answers(engine.docker, engine.host),
        f"dockerd answering on unix://{layout.socket}",
        START_TIMEOUT,
        f"see {layout.log}",
        interval=0.5,
        error=ProviderUnavailableError,
        on_poll=running,
    )
    return engine


# Debian packages the kind tier needs on the host: the engine, the rootfs builder, a C compiler for pause.
HOST_PACKAGES = {"dockerd": "docker.io", "debootstrap": "debootstrap", "gcc": "gcc", "dpkg-scanpackages": "dpkg-dev"}


def missing_host_tools() -> list[str]:
    return [tool for tool in HOST_PACKAGES if not (shutil.which(tool) or Path("/usr/sbin", tool).exists())]


def host_packages(tools: list[str]) -> list[str]:
    """The Debian packages that bring `tools` (gcc links pause statically: it needs libc6-dev too)."""
    return sorted({HOST_PACKAGES[tool] for tool in tools} | ({"libc6-dev"} if "gcc" in tools else set()))


def install_host_packages(progress: Progress) -> None:
    """apt-get install what is missing (root only); the packages come from Debian's mirror."""
    missing = missing_host_tools()
    if not missing or os.geteuid() != 0 or not shutil.which("apt-get"):
        return
    packages = host_packages(missing)
    progress(f"installing {' '.join(packages)} from Debian")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=False, capture_output=True)
    result = subprocess.run(["apt-get", "install", "-y", "-qq", *packages], env=env, check=False, capture_output=True, text=True)
    if result.returncode != 0:
        raise ProviderUnavailableError(f"apt-get install {' '.join(packages)} failed: {result.stderr.strip()[-500:]}")


def why_not(layout: Layout | None = None) -> str | None:
    """None when the kind tier can run here, else the reason and the fix, for `make test` to print."""
    if current_engine(layout) is not None:
        missing = [tool for tool in missing_host_tools() if tool != "dockerd"]
        return f"{', '.join(missing)} missing: run `apt-get install -y {' '.join(host_packages(missing))}`" if missing else None
    if os.geteuid() != 0:
        return "no Docker engine answers and starting a private one needs root: start Docker or run as root"
    missing = missing_host_tools()
    if missing:
        return f"{', '.join(missing)} missing: run `apt-get install -y {' '.join(host_packages(missing))}`"
    return None


def up(progress: Progress = lambda _: None, layout: Layout | None = None) -> Engine:
    """An engine kind can use: ours if already up, the user's if one answers, else a new private one."""
    layout = layout or Layout.default()
    engine = running_private_engine(layout) or existing_engine()
    if engine:
        progress(f"using the {'private' if engine.private else 'existing'} Docker engine at {engine.host or 'the default socket'}")
        return engine
    if os.geteuid() != 0:
        raise ProviderUnavailableError("no Docker engine answers and starting a private one needs root: start Docker (or run as root)")
    _require_binary("dockerd")
    return start_private_engine(layout, progress)


def down(progress: Progress = lambda _: None, layout: Layout | None = None) -> bool:
    """Stop what `up` started: containers and networks in our engine, the engine, its bridge.

    Never touches an engine we did not start. Returns True when something was stopped.
    """
    layout = layout or Layout.default()
    try:
        engine = Engine(**json.loads(layout.state.read_text()))
    except (OSError, ValueError, TypeError):
        progress("no private Docker engine was started here; nothing to stop")
        return False
    if engine.pid and _alive(engine.pid) and answers(engine.docker, engine.host):
        containers = engine.run("ps", "-aq", check=False).stdout.split()
        if containers:
            progress(f"removing {len(containers)} container(s) of the private engine")
            engine.run("rm", "-f", "-v", *containers, check=False, timeout=300)
        engine.run("network", "prune", "-f", check=False)
    if engine.pid and _alive(engine.pid):
        progress(f"stopping the private Docker engine (pid {engine.pid})")
        _stop(engine.pid)
    # dockerd bind-mounts its data-root onto itself; one that died early leaves that mount behind.
    if os.path.ismount(layout.data_root):
        subprocess.run(["umount", str(layout.data_root)], check=False, capture_output=True)
    if engine.bridge and Path(f"/sys/class/net/{engine.bridge}").exists():
        progress(f"deleting bridge {engine.bridge}")
        subprocess.run(["ip", "link", "delete", engine.bridge], check=False, capture_output=True)
    layout.state.unlink(missing_ok=True)
    return True


def _ensure_bridge(progress: Progress) -> None:
    if Path(f"/sys/class/net/{BRIDGE}").exists():
        return
    progress(f"creating bridge {BRIDGE} ({BRIDGE_CIDR})")
    for argv in (["ip", "link", "add", BRIDGE, "type", "bridge"], ["ip", "addr", "add", BRIDGE_CIDR, "dev", BRIDGE], ["ip", "link", "set", BRIDGE, "up"]):
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ProviderUnavailableError(f"`{' '.join(argv)}` failed: {result.stderr.strip()}")


def _require_binary(name: str) -> str:
    path = shutil.which(name) or (Path("/usr/sbin", name).exists() and f"/usr/sbin/{name}") or None
    if not path:
        raise ProviderUnavailableError(f"`{name}` is not installed: run `apt-get install -y docker.io`")
    return str(path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still "exists"; /proc tells the truth.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _stop(pid: int, timeout: float = 60.0) -> None:
    """SIGTERM, and SIGKILL if the process is still alive `timeout` seconds later."""
    os.kill(pid, signal.SIGTERM)
    try:
        wait_for(lambda: not _alive(pid), f"process {pid} exiting after SIGTERM", timeout, "it gets SIGKILL", interval=0.3)
    except WaitTimeout:
        os.kill(pid, signal.SIGKILL)
