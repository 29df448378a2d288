#!/usr/bin/env python3
"""Every command of README.md (docs/*.md, examples/*.md) runs, so examples cannot go stale.

    scripts/readme-check.py [--list] [--keep] [PATH_TO_LK] [MARKDOWN ...]
        (default: target/debug/lk; README.md, docs/*.md and examples/*.md; --list prints
        the commands as they would run, --keep keeps the temporary directories)

Reads the fenced code blocks of each file:

- `sh` (`bash`, `shell`) blocks: every command, a line (with its `\\` continuations and
  here-documents), run with `bash -o pipefail` and must exit 0;
- `text` (`console`) blocks: every line starting with `$ ` is a command and the lines
  under it are its output as shown. The command runs; it must exit 0, or fail when the
  output shown is an `lk: error:` (whose first clause must then be the error's);
  `$ cat FILE` shown with its contents writes FILE instead (the file the next commands
  read);
- a `text` block without `$ ` lines right after an `sh` block shows that block's output;
- a `toml` block whose `name` is that of a spec shipped as examples/NAME.toml must show
  that file (comment lines aside).

The output shown is checked loosely, for its shape, never for figures: every line shown
without a digit in it (column headers, section titles, fixed messages) must be a line of
the real output (whitespace runs compared as one space), and a line shown ending in an
HTTP status (curl's ` [%{http_code}]`) needs a line ending in the same status. Every
`lk query` and every curl of a `/rows` URL must answer at least one row: an example that
answers nothing has gone stale.

Commands run in a fresh temporary directory per `##` section (its subsections share it;
CONTINUES below names the few sections that go on with another's data), with the `lk`
under test first in PATH, the default data directory `./lk-data` of that temporary
directory (LK_DATA and LK_LOG_URI unset), NO_COLOR=1, and the repository's top-level
directories linked into it, so that paths such as `examples/…` read as from the
repository root. An `lk` command with `--addr` that does not stop by itself (`lk serve`,
`lk lambda run`/`lk kappa run` without `--until-caught-up`) runs in the background until
/health answers; the curl commands after it talk to it, and it gets SIGINT (Ctrl-C)
before the next other command, when it must exit cleanly. A curl to a port nothing of the
section serves is answered by an `lk serve --addr` on that port, started first (said in
the output). A command shown ending in `&` runs in the background beside the rest of its
block and gets SIGINT at the block's end. Every loopback port of a section is mapped to
a free one. No process of a command outlives it (each runs in a session of its own).

What cannot run here as written is either run with a substitution (SUBSTITUTIONS: each
is printed beside the command it changed) or not run (NOT_RUN, NOT_RUN_BLOCKS, NOT_RUN_FILES:
each is printed with its reason). Failures name the file and line of the command; the
script goes on with the other sections and exits 1 if anything failed.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))

# Commands not run, with why: (pattern searched in the command, reason).
NOT_RUN = [
    (r"^scripts/test\.sh\b", "the whole test suite, which runs this check"),
    (
        r"(^|[\s\"(])scripts/",
        "the repository's own check and benchmark scripts: scripts/test.sh runs them "
        "(scripts/peer/run.py in its --smoke mode)",
    ),
    (r"^cargo (bench|build|test)\b", "a build or a benchmark of the workspace, minutes long"),
]
# Blocks not run, with why: (pattern searched in the block, reason).
NOT_RUN_BLOCKS = [
    (
        r"kafka://",
        "needs a Kafka cluster; lk/tests/kafka.rs runs these commands (both pipelines, "
        "workers, lk compare) against a tansu broker",
    ),
]
# Files not checked, with why (paths from the repository root).
NOT_RUN_FILES = {
    "docs/tour.md": "the output of `lk tour --markdown`; its `$ lk` lines run inside the "
    "tour's own steps, which lk/tests/tour.rs runs (`lk tour --quick`)",
}
# Sections that go on with the data of another section (nearest heading -> heading of
# the section whose directory they use, after all of that section's blocks ran).
CONTINUES = {
    "Kappa: one stream job, and reprocessing by replay": "Lambda, layer by layer",
    "The HTTP API": "Workloads in SQL",
}

# Sizes that a debug build runs in seconds instead of minutes.
COMPARE_EVENTS = 20000
MAX_GENERATE_EVENTS = 200000
COMMAND_TIMEOUT_S = 600
SERVER_START_TIMEOUT_S = 120


def sub_cargo_run(cmd):
    new = re.sub(r"\bcargo run --release -p lk --(\s|$)", r"lk\1", cmd)
    return new, "the lk under test stands in for `cargo run --release -p lk --`"


def set_option(segment, name, value):
    """`segment` with `--name value` (replacing its value if given)."""
    pattern = rf"(\s--{name})(=|\s+)\S+"
    if re.search(pattern, segment):
        return re.sub(pattern, rf"\g<1>\g<2>{value}", segment)
    return f"{segment} --{name} {value}"


def sub_compare(cmd):
    def fix(m):
        seg = m.group(0).rstrip()
        if "--topic" in seg:
            return m.group(0)
        seg = set_option(seg, "events", COMPARE_EVENTS)
        seg = set_option(seg, "rate", COMPARE_EVENTS)
        if "--batch-every" not in seg:
            seg = set_option(seg, "batch-every", "1s")
        return seg + (" " if m.group(0).endswith(" ") else "")

    new = re.sub(r"\blk\s+compare\b[^;|&#\n]*", fix, cmd)
    return new, (
        f"`lk compare` fed {COMPARE_EVENTS:,} events at {COMPARE_EVENTS:,}/s instead of "
        "its minute-long default feed, with batch runs every second so that the short run "
        "has several"
    )


def sub_generate(cmd):
    def fix(m):
        seg = m.group(0)
        n = re.search(r"--events(?:=|\s+)(\d+)", seg)
        if n and int(n.group(1)) > MAX_GENERATE_EVENTS:
            return set_option(seg.rstrip(), "events", MAX_GENERATE_EVENTS)
        return seg

    new = re.sub(r"\blk\s+generate\b(?:[^;|&#\n]|\\\n)*", fix, cmd)
    return new, f"`lk generate` of at most {MAX_GENERATE_EVENTS:,} events"


# Substitutions: (pattern that selects the command, function giving the new command and
# what it changed). Each is printed where it applies.
SUBSTITUTIONS = [
    (r"\bcargo run --release -p lk --", sub_cargo_run),
    (r"\blk\s+compare\b", sub_compare),
    (r"\blk\s+generate\b", sub_generate),
]


@dataclass
class Command:
    """One command of a block: its README line, text, and output as shown (if any)."""

    line: int
    text: str
    shown: list = field(default_factory=list)
    prompt: bool = False


@dataclass
class Block:
    """One fenced code block."""

    path: str
    line: int
    lang: str
    lines: list
    heading: str
    section: str
    commands: list = field(default_factory=list)
    output_block: "Block" = None


def parse(path, rel):
    """The fenced blocks of a markdown file, with the heading and `##` section of each."""
    blocks, heading, section = [], "", ""
    lines = path.read_text(encoding="utf-8").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = re.match(r"^( *)(```+|~~~+)\s*([\w-]*)", line)
        if fence:
            indent, end = len(fence.group(1)), i + 1
            while end < len(lines) and not lines[end].lstrip().startswith(fence.group(2)):
                end += 1
            body = [l[indent:] if l[:indent].isspace() else l for l in lines[i + 1 : end]]
            blocks.append(Block(rel, i + 2, fence.group(3).lower(), body, heading, section))
            i = end + 1
            continue
        h = re.match(r"^(#{1,6})\s+(.*?)\s*$", line)
        if h:
            heading = h.group(2)
            if len(h.group(1)) <= 2:
                section = heading
        i += 1
    return blocks


def shell_commands(lines, first):
    """Split an sh block into commands: `\\` continuations and here-documents joined."""
    out, i = [], 0
    while i < len(lines):
        s = lines[i].strip()
        if not s or s.startswith("#"):
            i += 1
            continue
        start, text = i, lines[i]
        while text.rstrip().endswith("\\") and i + 1 < len(lines):
            i += 1
            text += "\n" + lines[i]
        doc = re.search(r"<<-?\s*(['\"]?)(\w+)\1", text)
        if doc:
            while i + 1 < len(lines):
                i += 1
                text += "\n" + lines[i]
                if lines[i].strip() == doc.group(2):
                    break
        out.append(Command(first + start, text))
        i += 1
    return out


def prompt_commands(lines, first):
    """The `$ ` commands of a text block, each with the output lines shown under it."""
    out = []
    for i, line in enumerate(lines):
        if line.startswith("$ "):
            out.append(Command(first + i, line[2:], prompt=True))
        elif out:
            out[-1].shown.append(line)
    return out


def norm(line):
    return " ".join(line.split())


def shape_problems(shown, output):
    """What of the output shown is not in the real output (see the module's doc)."""
    real = {norm(l) for l in output.split("\n")}
    problems = []
    for line in shown:
        n = norm(line)
        if not n or n.startswith("…") or n.startswith("$ "):
            continue
        if not re.search(r"\d", n) and n not in real:
            problems.append(f"shown line {line.strip()!r} is not in the output")
        status = re.search(r" \[(\d{3})\]$", n)
        if status and not any(r.endswith(f" [{status.group(1)}]") for r in real):
            problems.append(f"shown HTTP status {status.group(1)} not answered ({line.strip()!r})")
    return problems


def answers_no_rows(cmd, output):
    asks = re.search(r"\blk\b.*\bquery\b", cmd) or re.search(r"\bcurl\b.*/rows\b", cmd)
    if not asks:
        return False
    return bool(
        re.search(r"^0 rows[;,]", output, re.M) or re.search(r'"rows"\s*:\s*\[\s*\]', output)
    )


def run_shell(text, unit):
    """Run one command with bash in the unit's directory; nothing of it outlives it."""
    proc = subprocess.Popen(
        ["bash", "-o", "pipefail", "-c", text],
        cwd=unit.dir,
        env=unit.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=COMMAND_TIMEOUT_S)
    except subprocess.TimeoutExpired as e:
        kill_group(proc)
        e.output = proc.communicate()[0]
        raise
    finally:
        kill_group(proc)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def is_server(cmd):
    if not re.match(r"^lk\s", cmd):
        return False
    if re.match(r"^lk\s+(--\S+\s+\S+\s+)*serve\b", cmd):
        return True
    return "--addr" in cmd and "--until-caught-up" not in cmd


@dataclass
class Background:
    """A command running in the background: a server, or a command shown with `&`."""

    proc: subprocess.Popen
    log: Path
    cmd: Command
    to_block_end: bool
    cmd_text: str = ""

    def __post_init__(self):
        self.cmd_text = " ".join(self.proc.args)


def kill_group(proc):
    """SIGKILL what is left of the process group of `proc` (it runs in a session of its own)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


class Unit:
    """The commands of one section (and those that continue it), in one directory."""

    def __init__(self, name, lk, keep):
        self.name = name
        self.dir = Path(tempfile.mkdtemp(prefix="lk-readme-"))
        self.keep = keep
        bindir = self.dir / ".bin"
        bindir.mkdir()
        (bindir / "lk").symlink_to(Path(lk).resolve())
        for entry in ROOT.iterdir():
            if entry.is_dir() and not entry.name.startswith(".") and entry.name != "target":
                (self.dir / entry.name).symlink_to(entry)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("LK_")}
        self.env["PATH"] = f"{bindir}{os.pathsep}{self.env.get('PATH', '')}"
        self.env["NO_COLOR"] = "1"
        # Loopback requests never go through a proxy the environment may name.
        for var in ("no_proxy", "NO_PROXY"):
            self.env[var] = ",".join(filter(None, [self.env.get(var), "127.0.0.1", "localhost"]))
        self.ports = {}
        self.servers = []  # (port, Popen, log path, Command)
        self.failed = False

    def map_ports(self, cmd):
        def port(m):
            p = int(m.group(2))
            if p == 0:
                return m.group(0)
            self.ports.setdefault(p, free_port())
            return f"{m.group(1)}{self.ports[p]}"

        return re.sub(r"((?:127\.0\.0\.1|localhost):)(\d+)", port, cmd)

    def start_server(self, checker, block, cmd, text, to_block_end=False):
        """Start `text` in the background; with --addr, wait until its /health answers."""
        port = re.search(r"--addr(?:=|\s+)\S*:(\d+)", text)
        log = self.dir / f".background-{len(self.servers)}.log"
        with open(log, "w") as f:
            proc = subprocess.Popen(
                ["bash", "-c", "exec " + text],
                cwd=self.dir,
                env=self.env,
                stdout=f,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.servers.append(Background(proc, log, cmd, to_block_end))
        if port is None:
            if not to_block_end:
                checker.fail(self, cmd, block.path, "serves HTTP without --addr HOST:PORT")
            return
        port = int(port.group(1))
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                why = f"stopped with exit status {proc.returncode} before serving"
                checker.fail(self, cmd, block.path, why, log.read_text(errors="replace"))
                return
            try:
                with NO_PROXY.open(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if r.status == 200:
                        print(f"    serving on 127.0.0.1:{port}")
                        return
            except OSError:
                time.sleep(0.2)
        why = f"/health did not answer within {SERVER_START_TIMEOUT_S} s"
        checker.fail(self, cmd, block.path, why, log.read_text(errors="replace"))

    def serves(self, port):
        return any(re.search(rf"--addr(?:=|\s+)\S*:{port}\b", b.cmd_text) for b in self.servers)

    def stop_servers_into(self, checker, block, combined, block_end=False):
        """Ctrl-C the background commands (those started with `&` only at the block's end);
        each must exit 0 (or 130, or by SIGINT, as after Ctrl-C)."""
        keep = []
        for b in self.servers:
            if b.to_block_end and not block_end:
                keep.append(b)
                continue
            if b.proc.poll() is None:
                b.proc.send_signal(signal.SIGINT)
                try:
                    b.proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    kill_group(b.proc)
                    why = "did not stop within 60 s of SIGINT"
                    checker.fail(self, b.cmd, block.path, why, b.log.read_text(errors="replace"))
                    continue
            kill_group(b.proc)
            out = b.log.read_text(errors="replace")
            combined.append(out)
            if b.proc.returncode not in (0, 130, -signal.SIGINT) and not self.failed:
                why = f"exit status {b.proc.returncode} after SIGINT"
                checker.fail(self, b.cmd, block.path, why, out)
        self.servers = keep

    def stop_servers(self):
        for b in self.servers:
            kill_group(b.proc)
        self.servers = []

    def close(self):
        self.stop_servers()
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)


class Checker:
    """Runs the blocks and collects failures."""

    def __init__(self, lk, keep):
        self.lk = lk
        self.keep = keep
        self.failures = []
        self.counts = {"run": 0, "not run": 0}

    def fail(self, unit, cmd, path, why, output=""):
        unit.failed = True
        tail = "\n".join(output.rstrip().split("\n")[-15:]) if output.strip() else ""
        msg = f"{path}:{cmd.line}: FAILED: {cmd.text.splitlines()[0]}\n    {why}"
        if tail:
            msg += "\n    output (last lines):\n" + "\n".join(
                "      " + l for l in tail.split("\n")
            )
        self.failures.append(msg)
        print(msg, flush=True)

    def substitute(self, text):
        notes = []
        for pattern, fn in SUBSTITUTIONS:
            if re.search(pattern, text):
                new, note = fn(text)
                if new != text:
                    notes.append(note)
                    text = new
        return text, notes

    def run_block(self, unit, block):
        for pattern, reason in NOT_RUN_BLOCKS:
            if re.search(pattern, "\n".join(block.lines)):
                print(f"{block.path}:{block.line}: block not run: {reason}")
                self.counts["not run"] += len(block.commands)
                return
        combined = []
        for cmd in block.commands:
            if unit.failed:
                print(
                    f"{block.path}:{cmd.line}: not run (an earlier command of the section failed)"
                )
                continue
            self.run_command(unit, block, cmd, combined)
        unit.stop_servers_into(self, block, combined, block_end=True)
        out = block.output_block
        if out is not None and not unit.failed and block.commands:
            for p in shape_problems(out.lines, "\n".join(combined)):
                self.fail(
                    unit,
                    block.commands[-1],
                    block.path,
                    f"the output shown at {out.path}:{out.line}: {p}",
                )

    def run_command(self, unit, block, cmd, combined):
        path = block.path
        first = cmd.text.splitlines()[0]
        for pattern, reason in NOT_RUN:
            if re.search(pattern, cmd.text):
                print(f"{path}:{cmd.line}: not run: {first}\n    ({reason})")
                self.counts["not run"] += 1
                return
        cat = re.match(r"^cat\s+(\S+)\s*$", cmd.text) if cmd.prompt else None
        if cat and cmd.shown:
            (unit.dir / cat.group(1)).write_text("\n".join(cmd.shown).rstrip("\n") + "\n")
            print(f"{path}:{cmd.line}: wrote {cat.group(1)} as shown")
            return
        text, notes = self.substitute(cmd.text)
        text = unit.map_ports(text)
        if text != cmd.text and not notes:
            notes.append("loopback ports mapped to free ones")
        print(f"{path}:{cmd.line}: {first}", flush=True)
        if text != cmd.text:
            print(f"    run as: {text}\n    ({'; '.join(notes)})")
        self.counts["run"] += 1
        background = re.search(r"(?<!&)&\s*(#.*)?$", text)
        if background:
            # Shown running beside what follows: until the end of the block.
            unit.start_server(self, block, cmd, text[: background.start()].rstrip(), True)
            return
        if is_server(text):
            unit.stop_servers_into(self, block, combined)
            unit.start_server(self, block, cmd, text)
            return
        if not re.match(r"^curl\b", text):
            unit.stop_servers_into(self, block, combined)
        else:
            self.ensure_server(unit, block, cmd, text)
        if unit.failed:
            return
        self.run_one(unit, block, cmd, text, combined)

    def ensure_server(self, unit, block, cmd, text):
        for m in re.finditer(r"(?:127\.0\.0\.1|localhost):(\d+)", text):
            port = int(m.group(1))
            if not unit.serves(port):
                serve = f"lk serve --addr 127.0.0.1:{port}"
                print(f"    (nothing of this section serves port {port}: started `{serve}`)")
                unit.start_server(self, block, cmd, serve)

    def run_one(self, unit, block, cmd, text, combined):
        started = time.monotonic()
        deadline = started + 15
        while True:
            try:
                p = run_shell(text, unit)
            except subprocess.TimeoutExpired as e:
                why = f"still running after {COMMAND_TIMEOUT_S} s"
                self.fail(unit, cmd, block.path, why, e.output or "")
                return
            # A live server may still be catching up: ask again for a while.
            if (
                p.returncode == 0
                and text.startswith("curl")
                and answers_no_rows(text, p.stdout)
                and time.monotonic() < deadline
            ):
                time.sleep(0.5)
                continue
            break
        combined.append(p.stdout)
        print(f"    exit {p.returncode} in {time.monotonic() - started:.1f} s")
        expect_error = any(l.startswith("lk: error:") for l in cmd.shown)
        if expect_error:
            if p.returncode == 0:
                self.fail(unit, cmd, block.path, "exit 0, but the README shows an error", p.stdout)
                return
            shown = next(l for l in cmd.shown if l.startswith("lk: error:"))
            clause = shown.split(" (")[0]
            if not any(l.startswith(clause) for l in p.stdout.split("\n")):
                self.fail(
                    unit,
                    cmd,
                    block.path,
                    f"the error shown begins {clause!r}; it no longer does",
                    p.stdout,
                )
            return
        if p.returncode != 0:
            self.fail(unit, cmd, block.path, f"exit status {p.returncode}", p.stdout)
            return
        if answers_no_rows(text, p.stdout):
            self.fail(
                unit,
                cmd,
                block.path,
                "answered no rows (the example no longer matches the data)",
                p.stdout,
            )
            return
        for problem in shape_problems(cmd.shown, p.stdout):
            self.fail(unit, cmd, block.path, problem, p.stdout)


def settings(lines):
    """A TOML text's lines without comment lines and blank lines, whitespace normalized."""
    return [norm(l) for l in lines if l.strip() and not l.lstrip().startswith("#")]


def spec_problems(block):
    """A `toml` block naming a spec shipped in examples/ must be that file (comments aside)."""
    name = next(
        (re.match(r'^name\s*=\s*"([^"]+)"', l) for l in block.lines if re.match(r"^name\s*=", l)),
        None,
    )
    shipped = ROOT / "examples" / f"{name.group(1)}.toml" if name else None
    if shipped is None or not shipped.is_file():
        return []
    if settings(block.lines) != settings(shipped.read_text(encoding="utf-8").split("\n")):
        return [
            f"{block.path}:{block.line}: the spec shown is not examples/{shipped.name} (comments aside)"
        ]
    print(f"{block.path}:{block.line}: the spec shown is examples/{shipped.name}")
    return []


def units_of(files, checker):
    """The blocks to run, grouped into units in the order they run."""
    units = {}
    pending = []
    for rel in files:
        if rel in NOT_RUN_FILES:
            print(f"{rel}: not checked: {NOT_RUN_FILES[rel]}")
            continue
        blocks = parse(ROOT / rel, rel)
        for i, b in enumerate(blocks):
            if b.lang in ("sh", "bash", "shell"):
                b.commands = shell_commands(b.lines, b.line)
                nxt = blocks[i + 1] if i + 1 < len(blocks) else None
                if (
                    nxt
                    and nxt.lang in ("text", "console")
                    and not any(l.startswith("$ ") for l in nxt.lines)
                ):
                    b.output_block = nxt
            elif b.lang in ("text", "console"):
                b.commands = prompt_commands(b.lines, b.line)
            elif b.lang == "toml":
                for problem in spec_problems(b):
                    checker.failures.append(problem)
                    print("FAILED: " + problem)
            if not b.commands:
                continue
            key = (rel, CONTINUES.get(b.heading, b.section))
            if b.heading in CONTINUES:
                pending.append((key, b))
            else:
                units.setdefault(key, []).append(b)
        headings = {b.heading for b in blocks} | {b.section for b in blocks}
        for name, target in CONTINUES.items():
            if rel == "README.md" and (name not in headings or target not in headings):
                sys.exit(
                    f"readme-check: CONTINUES names a section README.md lacks: {name!r} -> {target!r}"
                )
    for key, b in pending:
        units.setdefault(key, []).append(b)
    return units


def main():
    args = sys.argv[1:]
    keep = "--keep" in args
    listing = "--list" in args
    args = [a for a in args if a not in ("--keep", "--list")]
    lk = args[0] if args else str(ROOT / "target" / "debug" / "lk")
    if not Path(lk).is_file():
        sys.exit(f"readme-check: no lk binary at {lk}")
    files = args[1:] or ["README.md"] + sorted(
        str(p.relative_to(ROOT)) for d in ("docs", "examples") for p in (ROOT / d).glob("*.md")
    )
    checker = Checker(lk, keep)
    started = time.monotonic()
    units = units_of(files, checker)
    if listing:
        for (rel, name), blocks in units.items():
            print(f"== {rel}: {name}")
            for b in blocks:
                for c in b.commands:
                    text, notes = checker.substitute(c.text)
                    print(f"{rel}:{c.line}: {text}" + (f"   [{'; '.join(notes)}]" if notes else ""))
        return
    for (rel, name), blocks in units.items():
        unit = Unit(name, lk, keep)
        print(f"== {rel}: {name or '(top)'} (in {unit.dir})", flush=True)
        try:
            for b in blocks:
                checker.run_block(unit, b)
        finally:
            unit.close()
    took = time.monotonic() - started
    print(
        f"\n{checker.counts['run']} commands run, {checker.counts['not run']} not run (reasons above), "
        f"{len(checker.failures)} failed, in {took:.0f} s"
    )
    if checker.failures:
        print("\nfailures:\n" + "\n".join(checker.failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
