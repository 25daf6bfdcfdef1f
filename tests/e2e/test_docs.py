"""Every command in every README runs as written, in order, on a fresh copy
of the repository.

For each README.md the repository tracks (git ls-files), the test copies the
tracked files to a scratch folder (a fresh clone of the working tree, with
build/bin linked to the binaries under test) and runs, in order:
  - each ```sh (or bash/shell) block as one bash script with -euo pipefail;
  - each line "$ command" of a transcript block (a plain ``` block), expecting
    exit status 0, or the status that a following "$ echo $?" shows.
Other blocks (output, file layouts) are text.

Commands run with build/bin and /usr/bin first on PATH and NO_COLOR set. The
port number 50051 in a command is replaced by a free port, so that the test
never collides with a server already on the machine; that is the only change
made to what the README says. Background processes a block starts are
stopped when the README is done.

An HTML comment on the line before a block changes how it runs:
  <!-- docs-test: server -->            the block starts actd for the commands
      that follow (`make run`); the test starts build/bin/actd on the free
      port instead and sets ACTCTL_TARGET to it.
  <!-- docs-test: skip (reason) -->     the block needs what a test machine
      does not have (a Kubernetes cluster, a container registry); the reason
      is required, and the test lists every skipped block in its output.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

from actctl_e2e import ACTCTL, ACTD, actd_harness, free_port

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                     "..", ".."))
MARKER = re.compile(r"^<!--\s*docs-test:\s*(server|skip)\s*(\((.+)\))?\s*-->$")
SHELLS = ("sh", "bash", "shell")
BLOCK_TIMEOUT = 180


class Block:
    def __init__(self, readme, line, kind, lines, marker, reason):
        self.readme, self.line, self.kind = readme, line, kind
        self.lines, self.marker, self.reason = lines, marker, reason

    def where(self):
        return "%s:%d" % (self.readme, self.line)


def parse(readme):
    """The command blocks of a README, in order."""
    with open(os.path.join(REPO, readme), encoding="utf-8") as f:
        lines = f.read().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        fence = lines[i].strip()
        if not fence.startswith("```"):
            i += 1
            continue
        info = fence[3:].strip()
        start = i
        j = i + 1
        while j < len(lines) and lines[j].strip() != "```":
            j += 1
        body = lines[i + 1:j]
        k = start - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        m = MARKER.match(lines[k].strip()) if k >= 0 else None
        marker, reason = (m.group(1), m.group(3)) if m else (None, None)
        if m and marker == "skip" and not reason:
            raise AssertionError("%s:%d: a skip marker needs a (reason)" % (readme, k + 1))
        if info in SHELLS:
            blocks.append(Block(readme, start + 1, "script", body, marker, reason))
        elif not info and any(l.startswith("$ ") for l in body):
            blocks.append(Block(readme, start + 1, "transcript", body, marker, reason))
        i = j + 1
    return blocks


def transcript_commands(block):
    """(command, expected exit status) of each "$ " line but "echo $?"."""
    commands = []
    for n, line in enumerate(block.lines):
        if not line.startswith("$ "):
            continue
        command = line[2:]
        if command.strip() == "echo $?":
            expected = block.lines[n + 1].strip()
            if not commands or not expected.isdigit():
                raise AssertionError("%s: 'echo $?' without a command or a status"
                                     % block.where())
            commands[-1] = (commands[-1][0], int(expected))
            continue
        commands.append((command, 0))
    return commands


def readmes():
    out = subprocess.run(["git", "-C", REPO, "ls-files", "*README.md"],
                         capture_output=True, text=True, check=True).stdout.split()
    return sorted(p for p in out if "node_modules" not in p)


def fresh_copy(dest):
    """The tracked files of the working tree, with build/bin linked in."""
    files = subprocess.run(["git", "-C", REPO, "ls-files", "-z"], capture_output=True,
                           check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        src = os.path.join(REPO, name)
        if not os.path.isfile(src):
            continue  # deleted in the working tree
        os.makedirs(os.path.dirname(os.path.join(dest, name)), exist_ok=True)
        shutil.copy2(src, os.path.join(dest, name))
    os.makedirs(os.path.join(dest, "build"))
    os.symlink(os.path.dirname(ACTCTL), os.path.join(dest, "build", "bin"))


class DocsTest(unittest.TestCase):
    maxDiff = None

    def run_readme(self, readme):
        root = tempfile.mkdtemp(prefix="actd-docs-")
        self.addCleanup(shutil.rmtree, root, True)
        clone = os.path.join(root, "repo")
        fresh_copy(clone)
        port = free_port()
        env = dict(os.environ, NO_COLOR="1",
                   PATH=os.pathsep.join([os.path.join(clone, "build", "bin"), "/usr/bin",
                                         os.environ.get("PATH", "")]))
        env.pop("ACTCTL_TARGET", None)
        groups, skipped = [], []
        try:
            for block in parse(readme):
                if block.marker == "skip":
                    skipped.append("%s %s" % (block.where(), block.reason))
                    continue
                if block.marker == "server":
                    server = actd_harness.ActdServer(port=port)
                    self.addCleanup(server.stop)
                    env["ACTCTL_TARGET"] = server.target
                    continue
                if block.kind == "script":
                    steps = [("\n".join(block.lines), 0)]
                else:
                    steps = transcript_commands(block)
                for command, expected in steps:
                    self.run_step(block, command, expected, port, clone, env, root, groups)
        finally:
            for pgid in groups:
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for line in skipped:
            print("  skipped %s" % line, file=sys.stderr)

    def run_step(self, block, command, expected, port, clone, env, root, groups):
        command = command.replace("50051", str(port))
        log = os.path.join(root, "output.txt")
        with open(log, "w+") as out:
            # A file, not a pipe: a background process a block starts keeps
            # its copy open, and must not make the test wait for it.
            proc = subprocess.Popen(["bash", "-euo", "pipefail", "-c", command],
                                    cwd=clone, env=env, stdout=out,
                                    stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
            groups.append(proc.pid)
            try:
                code = proc.wait(timeout=BLOCK_TIMEOUT)
            except subprocess.TimeoutExpired:
                code = "timeout"
            out.seek(0)
            output = out.read()
        self.assertEqual(code, expected, "%s: `%s` exited %s, the README expects %d:\n%s"
                         % (block.where(), command, code, expected, output[-3000:]))


def add_tests():
    for readme in readmes():
        name = "test_" + re.sub(r"\W", "_", readme)
        setattr(DocsTest, name, lambda self, r=readme: self.run_readme(r))


add_tests()


class MarkersTest(unittest.TestCase):
    def test_every_skip_has_a_reason_and_the_list_is_short(self):
        skips = [b for r in readmes() for b in parse(r) if b.marker == "skip"]
        for b in skips:
            self.assertTrue(b.reason, b.where())
        self.assertLessEqual(len(skips), 12, [b.where() for b in skips])


if __name__ == "__main__":
    for path in (ACTD, ACTCTL):
        if not os.access(path, os.X_OK):
            sys.exit("not an executable: %s (set ACTD and ACTCTL)" % path)
    unittest.main(verbosity=2)
