"""Run a submission's Jupyter kernel where it can neither reach the network nor read anything it does not need.

Three levels, the strongest the machine allows (``isolation_level()``):

- ``"namespaces"`` (running as root, with util-linux ``unshare``/``setpriv``/``prlimit``/``pivot_root``):
  the kernel starts in new network, mount and PID namespaces, in a file system built for it from an
  allowlist (``visible_paths()``): an empty in-memory root into which only the system's shared
  libraries and ``/usr/bin``, the Python installation, the virtual environment, the ``lecture_utils``
  package and the data folder are bound read-only, its own scratch folder read-write, a few files of
  ``/etc``, a minimal ``/dev`` and its own ``/proc``. The old root is unmounted: the repository, the
  reference notebooks, the submissions, the output folder, the temporary folder (other kernels'
  scratch, pytest's folders), home and every other mount are simply not there. Notebooks holding
  nbgrader solutions or hidden tests inside the allowlisted trees (nbgrader's own test files) are
  masked (``masked_paths()``). No network at all (not even loopback); it sees and can signal only its
  own processes, which all die with it; capabilities dropped (it cannot undo any of this); files larger
  than 1 GiB refused. It talks to the grader over Unix sockets (ZeroMQ's ``ipc`` transport) in its
  scratch folder.
- ``"network"`` (unprivileged user namespaces): no network, nothing else.
- ``"none"``: neither. ``make grade`` refuses to run below ``"namespaces"`` unless the instructor
  passes ``--allow-unsandboxed`` (tools/assignments.py).

Independently of the level, the grader never reads back what a kernel could write: reference notebooks
and submissions are read into memory before any kernel starts, and results travel over each worker's
pipe (the kernel's standard streams go to /dev/null).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from functools import cache
from pathlib import Path

from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

from tools.lab_environment import KERNEL_ENV

ROOT = Path(__file__).resolve().parents[1]
MAX_FILE_BYTES = 1 << 30  # a kernel cannot write a file larger than 1 GiB (RLIMIT_FSIZE)
SHM_BYTES = 256 << 20  # the kernel's private /dev/shm (torch's inter-process tensors)
KERNEL_CONFIG = "c.HistoryManager.enabled = False\n"  # no sqlite history: nothing to read back, no writes
ETC_FILES = ("passwd", "group", "nsswitch.conf", "hosts", "ld.so.cache", "localtime")
DEVICES = ("null", "zero", "full", "random", "urandom")
SECRET_MARKERS = (b"BEGIN SOLUTION", b"BEGIN HIDDEN TESTS")

# Runs as root inside the new namespaces, builds the kernel's root file system, then becomes the kernel.
# Arguments: connection file, scratch folder, the Python executable, the paths to bind read-only, "--mask",
# the paths to mask (files become /dev/null, folders empty).
NAMESPACE_SCRIPT = r"""set -eu
conn=$0 scratch=$1 python=$2
shift 2
unset JPY_PARENT_PID
mount --make-rprivate /
root=$scratch/.root
mount -t tmpfs -o size=4m,mode=755 sandbox "$root"
mask=0
for path in "$@"; do
    if [ "$path" = --mask ]; then mask=1; continue; fi
    if [ $mask = 1 ]; then
        if [ -d "$root$path" ]; then mount -t tmpfs -o size=16k,mode=755,ro masked "$root$path"
        elif [ -e "$root$path" ]; then mount --bind /dev/null "$root$path"; fi
    elif [ -L "$path" ]; then
        mkdir -p "$root${path%/*}"
        ln -s "$(readlink "$path")" "$root$path"
    elif [ -d "$path" ]; then
        mkdir -p "$root$path"
        mount --bind "$path" "$root$path"
        mount -o remount,bind,ro,nosuid,nodev "$root$path"
    fi
done
mkdir -p "$root/etc" "$root$scratch" "$root/dev" "$root/proc" "$root/.old"
for name in ETC_FILES; do if [ -e "/etc/$name" ]; then cp -L "/etc/$name" "$root/etc/$name"; fi; done
mount --bind "$scratch" "$root$scratch"
mount -t tmpfs -o size=64k,mode=755,nosuid dev "$root/dev"
for name in DEVICES; do touch "$root/dev/$name"; mount --bind "/dev/$name" "$root/dev/$name"; done
ln -s /proc/self/fd "$root/dev/fd"
mkdir "$root/dev/shm"
mount -t tmpfs -o size=SHM_BYTES,mode=1777,nosuid,nodev shm "$root/dev/shm"
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount -o remount,ro,nosuid "$root/dev"
cd "$root"
pivot_root . .old
cd /
umount -l /.old
rmdir /.old
mount -o remount,bind,ro /
cd "$scratch"
exec setpriv --no-new-privs --bounding-set=-all --inh-caps=-all -- \
    prlimit --fsize=MAX_FILE_BYTES -- "$python" -m ipykernel_launcher -f "$conn"
""".replace("MAX_FILE_BYTES", str(MAX_FILE_BYTES)).replace("SHM_BYTES", str(SHM_BYTES)).replace(
    "ETC_FILES", " ".join(ETC_FILES)).replace("DEVICES", " ".join(DEVICES))


@cache
def isolation_level() -> str:
    """``"namespaces"``, ``"network"`` or ``"none"``: how strongly kernels are isolated on this machine."""
    tools = all(shutil.which(t) for t in ("unshare", "setpriv", "prlimit", "mount", "pivot_root"))
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


def data_dir() -> Path | None:
    """The folder the notebooks read their data from: ``$LECTURE_DATA_DIR``, else the cache ``data/ud``."""
    env = os.environ.get("LECTURE_DATA_DIR", "").strip()
    for candidate in ([Path(env)] if env else []) + [ROOT / "data" / "ud"]:
        if candidate.is_dir():
            return candidate.resolve()
    return None


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    locations = list(spec.submodule_search_locations or []) if spec else []
    return Path(locations[0]).resolve() if locations else None


@cache
def visible_paths() -> tuple[str, ...]:
    """Everything a sandboxed kernel sees besides its scratch folder, ``/etc`` files, ``/dev`` and ``/proc``.

    Bound read-only: ``/usr/bin``, the shared libraries, the Python installation, the virtual environment,
    the ``lecture_utils`` package and the data folder; the top-level links of a merged ``/usr`` (``/bin``,
    ``/lib``, ...) are recreated. Nothing else of the machine.
    """
    multiarch = sysconfig.get_config_var("MULTIARCH") or ""
    libraries = Path("/usr/lib", multiarch) if multiarch and Path("/usr/lib", multiarch).is_dir() else Path("/usr/lib")
    paths = [Path("/usr/bin"), libraries, Path("/usr/lib64"), Path("/usr/lib/locale")]
    paths += [Path(p) for p in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")]
    paths += [Path(sys.base_prefix).resolve(), Path(sys.prefix), Path(sys.prefix).resolve()]
    paths += [p for p in (_package_dir("lecture_utils"), data_dir()) if p is not None]
    links = [p for p in paths if p.is_symlink()]
    folders = sorted({p for p in paths if p.is_dir() and not p.is_symlink()}, key=lambda p: (len(p.parts), p))
    kept: list[Path] = []
    for folder in folders:  # a folder inside one already bound is visible through it
        if not any(folder.is_relative_to(k) for k in kept):
            kept.append(folder)
    return tuple(str(p) for p in [*dict.fromkeys(links), *kept])


@cache
def masked_paths() -> tuple[str, ...]:
    """Paths inside the visible trees a kernel must not read: nbgrader's package (its test notebooks hold
    solutions) and any notebook there that holds ``BEGIN SOLUTION`` or ``BEGIN HIDDEN TESTS``."""
    masked = [p for p in (_package_dir("nbgrader"),) if p is not None]
    for top in visible_paths():
        if Path(top).is_symlink():
            continue
        for folder, subfolders, files in os.walk(top):
            subfolders[:] = [s for s in subfolders if not any(Path(folder, s) == m for m in masked)]
            for name in files:
                if name.endswith(".ipynb"):
                    path = Path(folder, name)
                    try:
                        data = path.read_bytes()
                    except OSError:
                        continue
                    if any(marker in data for marker in SECRET_MARKERS):
                        masked.append(path)
    return tuple(str(p) for p in masked)


def kernel_argv(level: str, scratch: Path, masked: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The command that starts an IPython kernel at ``level``, with ``{connection_file}`` to fill in.

    ``masked`` (at ``"namespaces"``): paths inside the visible trees to hide, ``masked_paths()`` by default.
    """
    python = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    if level == "namespaces":
        # --pdeathsig: if the grader's worker dies, so does the kernel (unshare kills its forked child).
        return ["setpriv", "--pdeathsig=SIGKILL", "--", "unshare", "--net", "--mount", "--pid", "--fork",
                "--kill-child=SIGKILL", "--", "sh", "-c", NAMESPACE_SCRIPT, "{connection_file}", str(scratch),
                sys.executable, *visible_paths(), "--mask", *(masked or masked_paths())]
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
    (scratch / ".root").mkdir()  # the mount point of the kernel's root file system (namespaces level)
    fonts = Path(os.environ.get("MPLCONFIGDIR", Path.home() / ".cache" / "matplotlib"))
    (scratch / "matplotlib").mkdir()
    for cached in fonts.glob("fontlist-*.json"):  # saves matplotlib rebuilding its font list per kernel
        shutil.copy(cached, scratch / "matplotlib" / cached.name)
    return scratch


def kernel_env(scratch: Path, *, fast: bool, level: str = "none") -> dict[str, str]:
    """The kernel's environment: the grader's, with home and caches in the scratch folder, no proxies, and the
    thread and numeric-path settings of every other kernel (``tools.lab_environment.KERNEL_ENV``).

    ``fast`` sets the notebooks' fast mode (``LECTURE_FAST=1``: smaller data and epochs, same exercises). At
    ``"namespaces"`` the kernel finds the data folder through ``LECTURE_DATA_DIR`` (the repository, where
    the download cache lives, is not there).
    """
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy") and k != "LECTURE_FAST"}
    if fast:
        env["LECTURE_FAST"] = "1"
    if level == "namespaces":
        data = data_dir()
        env.pop("LECTURE_DATA_DIR", None)
        if data is not None:
            env["LECTURE_DATA_DIR"] = str(data)
    env.update(
        HOME=str(scratch), TMPDIR=str(scratch), MPLCONFIGDIR=str(scratch / "matplotlib"),
        IPYTHONDIR=str(scratch / "ipython"), JUPYTER_RUNTIME_DIR=str(scratch),
        # torch writes the inductor cache's path into os.environ the first time anything imports
        # torch._inductor (torch.use_deterministic_algorithms does): a path inherited from the grader's
        # process would point outside the sandbox, where nothing is writable
        TORCHINDUCTOR_CACHE_DIR=str(scratch / "torchinductor"),
        PYTHONDONTWRITEBYTECODE="1", **KERNEL_ENV,
    )
    return env
