"""Run a submission's Jupyter kernel where it can neither reach the network nor touch other students' work.

Three levels, the strongest the machine allows (``isolation_level()``):

- ``"namespaces"`` (running as root, with util-linux ``unshare``/``setpriv``/``prlimit``): the kernel
  starts in new network, mount and PID namespaces: no network at all (not even loopback); every file
  system read-only except its own scratch folder; the reference notebooks, the submissions, the output
  folder and ``/root`` (but Python) hidden under empty mounts; it sees and can signal only its own
  processes, which all die with it; capabilities dropped (it cannot undo any of this); files larger
  than 1 GiB refused. It talks to the grader over Unix sockets (ZeroMQ's ``ipc`` transport) in its
  scratch folder.
- ``"network"`` (unprivileged user namespaces): no network, nothing else.
- ``"none"``: neither; the grader says so in its summary.

Independently of the level, the grader never reads back what a kernel could write: reference notebooks
and submissions are read into memory before any kernel starts, and results travel over each worker's
pipe (the kernel's standard streams go to /dev/null).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

MAX_FILE_BYTES = 1 << 30  # a kernel cannot write a file larger than 1 GiB (RLIMIT_FSIZE)
KERNEL_CONFIG = "c.HistoryManager.enabled = False\n"  # no sqlite history: nothing to read back, no writes

# Runs as root inside the new namespaces, then becomes the kernel. Arguments: connection file, scratch
# folder, Python's prefix, the home folder to hide, the Python executable, then the folders to hide.
NAMESPACE_SCRIPT = r"""set -eu
conn=$0 scratch=$1 prefix=$2 home=$3 python=$4
shift 4
unset JPY_PARENT_PID
mount --make-rprivate /
mount --bind "$scratch" "$scratch"
for hidden in "$@"; do mount -t tmpfs -o size=16k,mode=755 hidden "$hidden"; done
if [ -n "$home" ] && [ -n "$prefix" ]; then mount --bind "$prefix" "$scratch/.python"; fi
if [ -n "$home" ]; then mount -t tmpfs -o size=64k,mode=755 hidden "$home"; fi
if [ -n "$home" ] && [ -n "$prefix" ]; then
    mkdir -p "$prefix"
    mount --bind "$scratch/.python" "$prefix"
    umount "$scratch/.python"
fi
mount -o remount,bind,ro /
awk '{print $5}' /proc/self/mountinfo | while read -r point; do
    case "$point" in
        /|/proc|/proc/*|/dev|/dev/*|"$scratch") ;;
        *) mount -o remount,bind,ro "$point" || true ;;
    esac
done
exec setpriv --no-new-privs --bounding-set=-all --inh-caps=-all -- \
    prlimit --fsize=MAX_FILE_BYTES -- "$python" -m ipykernel_launcher -f "$conn"
""".replace("MAX_FILE_BYTES", str(MAX_FILE_BYTES))


@cache
def isolation_level() -> str:
    """``"namespaces"``, ``"network"`` or ``"none"``: how strongly kernels are isolated on this machine."""
    tools = all(shutil.which(t) for t in ("unshare", "setpriv", "prlimit", "mount"))
    namespaces = ["unshare", "--net", "--mount", "--pid", "--fork", "--", "true"]
    if tools and os.geteuid() == 0 and _works(namespaces):
        return "namespaces"
    if shutil.which("unshare") and _works(["unshare", "--map-root-user", "--net", "--", "true"]):
        return "network"
    return "none"


def _works(argv: list[str]) -> bool:
    try:
        return subprocess.run(argv, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def kernel_argv(level: str, scratch: Path, hidden: list[Path]) -> list[str]:
    """The command that starts an IPython kernel at ``level``, with ``{connection_file}`` to fill in.

    ``hidden`` are folders the kernel must not see (reference notebooks, submissions, grader output).
    """
    python = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    if level == "namespaces":
        prefix, home = Path(sys.base_prefix).resolve(), Path.home().resolve()
        needed = (Path(sys.prefix).resolve(), Path(__file__).resolve().parents[1])  # the venv, the repository
        hide_home = home != Path("/") and not any(p.is_relative_to(home) for p in needed)
        keep_prefix = str(prefix) if hide_home and prefix.is_relative_to(home) else ""
        folders = [str(p) for p in dict.fromkeys(h.resolve() for h in hidden) if p.is_dir()]
        # --pdeathsig: if the grader's worker dies, so does the kernel (unshare kills its forked child).
        return ["setpriv", "--pdeathsig=SIGKILL", "--", "unshare", "--net", "--mount", "--pid", "--fork",
                "--kill-child=SIGKILL", "--mount-proc", "--", "sh", "-c", NAMESPACE_SCRIPT,
                "{connection_file}", str(scratch), keep_prefix, str(home) if hide_home else "",
                sys.executable, *folders]
    if level == "network":
        return ["unshare", "--map-root-user", "--net", "--", *python]
    return python


class SandboxSpecs(KernelSpecManager):
    """A kernel-spec manager that knows one kernel: Python in the sandbox."""

    def __init__(self, argv: list[str]) -> None:
        super().__init__()
        self._argv = argv

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return KernelSpec(argv=self._argv, display_name="Python 3 (grading sandbox)", language="python")


def make_scratch() -> Path:
    """A fresh private folder for one kernel: its working directory, home and temporary files."""
    scratch = Path(tempfile.mkdtemp(prefix="grading-"))
    profile = scratch / "ipython" / "profile_default"
    profile.mkdir(parents=True)
    (profile / "ipython_kernel_config.py").write_text(KERNEL_CONFIG, encoding="utf-8")
    (scratch / ".python").mkdir()
    fonts = Path(os.environ.get("MPLCONFIGDIR", Path.home() / ".cache" / "matplotlib"))
    (scratch / "matplotlib").mkdir()
    for cached in fonts.glob("fontlist-*.json"):  # saves matplotlib rebuilding its font list per kernel
        shutil.copy(cached, scratch / "matplotlib" / cached.name)
    return scratch


def kernel_env(scratch: Path, *, fast: bool) -> dict[str, str]:
    """The kernel's environment: the grader's, with home and caches in the scratch folder, no proxies.

    ``fast`` sets the notebooks' fast mode (``LECTURE_FAST=1``: smaller data and epochs, same exercises).
    """
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy") and k != "LECTURE_FAST"}
    if fast:
        env["LECTURE_FAST"] = "1"
    env.update(
        HOME=str(scratch), TMPDIR=str(scratch), MPLCONFIGDIR=str(scratch / "matplotlib"),
        IPYTHONDIR=str(scratch / "ipython"), JUPYTER_RUNTIME_DIR=str(scratch),
        PYTHONDONTWRITEBYTECODE="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE",
    )
    return env
