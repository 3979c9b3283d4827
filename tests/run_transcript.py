#!/usr/bin/env python3
"""Replays a console transcript through the real binary and compares what
the bot printed with what the transcript expects, exactly.

    run_transcript.py ENSEMBLE NAME.chat

NAME.chat reads as a chat log: the console's input as it is typed, each
line followed by what the bot printed because of it, every line of that
output written after "> " (an empty one as ">" alone):

    alice: /remind 1d
    > [console] bot: Only the chat's admins may use /remind this way.
    ~ 2026-12-01T19:00
    > [console] bot: ⏰ #1 · Book club starts in 2 days.
    >   When: Thursday 3 December, 7:00 PM – 9:00 PM

Every other line is console input ("USER: TEXT", "~" clock lines, "#"
comments and empty lines, which the console ignores: see adapters/console.c
and the README's "Console"), so input cannot start with ">", except the
directives, which the runner reads and the binary never sees:

    #! FLAGS             extra flags for this run of the binary
    #! restart [FLAGS]   ends this run and starts the binary again on the
                         same database (with FLAGS, e.g. a later --now)

FLAGS are split at white space.  Every run gets --console --clock=sim
--db TMP/t.db (with ENSEMBLE_TEST_PG set, a PostgreSQL database made for
the transcript instead: tests/dbtarget.py) -q and --set lang=en --set timezone=Europe/Paris, the first
one also --now=2026-12-01T10:00 (a Tuesday); FLAGS come after them.  What
the bot prints as a run starts, before it reads any input, stands above
the run's first input line (below its directives).  The temporary
directory shows as <tmp>, and the random token of each web link
("/cal/TOKEN", "/agenda/TOKEN", "/vote/TOKEN") as <tokenN>, N counting
the distinct ones in the order they first appear in the run.

Each transcript is played twice, and both must print exactly what it
expects:
  - as a file is piped in: the messages between two clock lines run as one
    batch; the output must be the transcript's "> " lines, in order, except
    for the edits that a batch makes once: when several of its lines change
    the same message, the batch shows only its last edit, where the edits
    fall among the batch's other output being the batch's own business.  So
    the output less its edits must be the transcript's lines less theirs, in
    order, and its edits must be, run by run, the last edit of each message
    in each batch (the marked run names the message of each edit with
    "#edit REF", which the transcript omits);
  - with console.marks=1: each line runs alone and is followed by a mark,
    which puts each output line under the input line that caused it; the
    transcript rebuilt from that must be NAME.chat, byte for byte.
A difference shows as a diff of the transcript, or of the output read in
one go when only batching changes it, then the bot's standard error.

UPDATE=1 writes the rebuilt transcript to NAME.chat (review the diff!).
"""
import difflib
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dbtarget  # noqa: E402

BASE_FLAGS = ["--console", "--clock=sim", "--db", None, "-q"]  # None: the database
RUN_FLAGS = ["--set", "lang=en", "--set", "timezone=Europe/Paris"]
FIRST_RUN_FLAGS = ["--now=2026-12-01T10:00"]
MARK_FLAGS = ["--set", "console.marks=1"]

OUTPUT = b">"
RESTART = b"#! restart"
DIRECTIVE = b"#!"
# The console's mark after input line N: everything that line caused is
# printed by then.  "#done 0" comes before the first line, once the start-up
# has printed what it had to.
MARK = re.compile(rb"#done ([0-9]+)")
# Before each edit in a marked run: the message it changes.
EDIT = re.compile(rb"#edit (.*)")
CLOCK = b"~"
# The first line of an edit, as the console prints it.
EDITED = re.compile(rb"\[[^]]*\] bot \(edited\): ")
# The console reads its input 64 KiB at a time, each read a batch of its
# own: a run whose input is longer would be cut into batches this runner
# does not know.
CONSOLE_READ = 65536
SANITIZER = re.compile(rb"runtime error|AddressSanitizer|LeakSanitizer")
# A web link's token (web/): 22 base64url characters, drawn at random.
TOKEN = re.compile(rb"/(cal|agenda|vote)/([A-Za-z0-9_-]{22})")


def name_tokens(out):
    """out with each distinct calendar token named <tokenN>, in the order
    they first appear."""
    seen = {}
    return TOKEN.sub(lambda m: b"/%s/<token%d>" % (m.group(1), seen.setdefault(m.group(2), len(seen) + 1)), out)


class Transcript:
    """A transcript split into what the runner needs.

    entries: its input lines in order, each as (kind, line), kind being
             "restart", "flags" or "input" (a line the binary reads);
    expected: the output lines it expects, in order, without "> ";
    runs: one (flags, input lines) pair per run of the binary."""

    def __init__(self, data, name):
        self.entries = []
        self.expected = []
        self.runs = [([], [])]
        for number, line in enumerate(lines_of(data), 1):
            if line.startswith(OUTPUT):
                self.expected.append(parse_output(line, name, number))
            elif line.startswith(RESTART):
                self.entries.append(("restart", line))
                self.runs.append((line[len(RESTART):].split(), []))
            elif line.startswith(DIRECTIVE):
                self.entries.append(("flags", line))
                self.runs[-1][0].extend(line[len(DIRECTIVE):].split())
            else:
                self.entries.append(("input", line))
                self.runs[-1][1].append(line)


def parse_output(line, name, number):
    """The output line that a transcript line starting with ">" holds."""
    if line == OUTPUT:
        return b""
    if line.startswith(b"> "):
        return line[2:]
    raise ValueError("%s:%d: '>' starts the bot's output and is followed by a space, "
                     "or stands alone for an empty line" % (name, number))


def lines_of(data):
    """data's lines, without their newlines (a last one without is kept)."""
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return lines


def play(binary, transcript, marks, problems):
    """Runs the binary once per run of the transcript in a temporary
    directory of its own, each reading its lines from a file as a user's
    redirection would.  Returns each run's standard output (<tmp> for the
    directory) and the standard error of all of them; a run that exits
    other than 0 is added to problems."""
    outputs = []
    errors = b""
    with tempfile.TemporaryDirectory() as tmp, dbtarget.database(tmp, "t.db") as db:
        base = [db if f is None else f for f in BASE_FLAGS]
        for i, (flags, lines) in enumerate(transcript.runs):
            args = [binary] + base + (FIRST_RUN_FLAGS if i == 0 else []) + RUN_FLAGS
            args += (MARK_FLAGS if marks else []) + [os.fsdecode(f) for f in flags]
            path = os.path.join(tmp, "run%d.in" % i)
            with open(path, "wb") as f:
                f.write(b"".join(line + b"\n" for line in lines))
            with open(path, "rb") as stdin:
                p = subprocess.run(args, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            if p.returncode != 0:
                problems.append("run %d%s exited with %d" % (i, " (marked)" if marks else "", p.returncode))
            outputs.append(name_tokens(p.stdout.replace(os.fsencode(tmp), b"<tmp>")))
            errors += p.stderr
    return outputs, errors


class Line(bytes):
    """An output line of a marked run; ref names the message when the line
    is part of an edit (None otherwise)."""

    def __new__(cls, text, ref=None):
        line = super().__new__(cls, text)
        line.ref = ref
        return line


def split_marks(output, n, run, problems):
    """Splits the output of a marked run of n input lines into n + 1 lists
    of lines: what the start printed, then what each line caused.  What
    comes after the last mark (as the input ends) goes with the last line."""
    parts = [[] for _ in range(n + 1)]
    done = -1  # the last mark read: the output that follows is line done + 1's
    ref = None  # the message of the edit being read, if one is
    fresh = False  # "#edit" was just read: the next line begins the edit
    for line in lines_of(output):
        mark = MARK.fullmatch(line)
        edit = EDIT.fullmatch(line)
        if mark and int(mark.group(1)) == done + 1 and done < n:
            done += 1
            ref, fresh = None, False
        elif mark:
            problems.append("run %d: mark %s after mark %d" % (run, mark.group(1).decode(), done))
        elif edit:
            ref, fresh = edit.group(1), True
        else:
            if not fresh and not line.startswith(b"  "):
                ref = None  # the edit's text has ended: a new message begins
            fresh = False
            parts[min(done + 1, n)].append(Line(line, ref))
    if n and done != n:
        problems.append("run %d: the bot stopped before input line %d was done" % (run, done + 1))
    if output and not output.endswith(b"\n"):
        problems.append("run %d: the output does not end with a newline" % run)
    return parts


def once_per_batch(transcript, parts, problems):
    """What the runs read in one go must print, as (the output less its
    edits, the edits), both bytes: the marked runs' output, batch by batch
    (the start-up's output, each clock line's, and the lines between two
    clock lines together), where only the last edit of each message in a
    batch is kept; the edits of a run are sorted, since a batch may show
    its edits anywhere among its output."""
    rest, edits = [], []
    for run, ((_, lines), run_parts) in enumerate(zip(transcript.runs, parts)):
        if sum(len(line) + 1 for line in lines) > CONSOLE_READ:
            problems.append("run %d: more than %d bytes of input, which the console reads in "
                            "several batches" % (run, CONSOLE_READ))
        batches = [run_parts[0]]
        batch = None
        for line, caused in zip(lines, run_parts[1:]):
            if line.startswith(CLOCK):
                batches.append(caused)
                batch = None
            else:
                if batch is None:
                    batch = []
                    batches.append(batch)
                batch.extend(caused)
        run_edits = []
        for batch in batches:
            last = {}
            for block in blocks(batch):
                if block[0].ref is None:
                    rest.extend(block)
                else:
                    last[block[0].ref] = block
            run_edits += [b"".join(o + b"\n" for o in block) for block in last.values()]
        edits += sorted(run_edits)
    return b"".join(o + b"\n" for o in rest), b"".join(edits)


def blocks(lines):
    """lines cut into messages: each starts with a line that is not a
    continuation (two spaces) or, in a marked run, where an edit begins."""
    out = []
    for line in lines:
        starts = not line.startswith(b"  ") or (getattr(line, "ref", None) is not None and
                                               out and out[-1][-1].ref != line.ref)
        if starts or not out:
            out.append([line])
        else:
            out[-1].append(line)
    return out


def split_edits(output):
    """The output of runs read in one go, as (the output less its edits,
    its edits sorted run by run), both bytes."""
    rest, edits = [], []
    for run in output:
        run_edits = []
        for block in blocks(lines_of(run)):
            if EDITED.match(block[0]):
                run_edits.append(b"".join(o + b"\n" for o in block))
            else:
                rest.extend(block)
        edits += sorted(run_edits)
    return b"".join(o + b"\n" for o in rest), b"".join(edits)


def quoted(output):
    """Output lines as a transcript writes them."""
    return [b"> " + line if line else OUTPUT for line in output]


def rebuild(transcript, parts):
    """The transcript with the output of parts (split_marks' lists, one per
    run) under the lines that caused it, as bytes.  A run's start-up output
    goes above its first input line, below its directives."""
    out = []
    run, line = 0, 0
    start = parts[0][0]  # the start-up's output, not written yet
    for kind, text in transcript.entries:
        if kind == "restart":
            out += quoted(start)
            run, line = run + 1, 0
            start = parts[run][0]
            out.append(text)
        elif kind == "flags":
            out.append(text)
        else:
            out += quoted(start)
            start = []
            line += 1
            out.append(text)
            out += quoted(parts[run][line])
    out += quoted(start)
    return b"".join(o + b"\n" for o in out)


def show_diff(title, expected, actual, names):
    """Prints a unified diff of two byte strings on standard output."""
    print(title, flush=True)
    diff = difflib.diff_bytes(difflib.unified_diff, lines_of(expected), lines_of(actual),
                              os.fsencode(names[0]), os.fsencode(names[1]), lineterm=b"")
    sys.stdout.buffer.write(b"".join(d + b"\n" for d in diff))
    sys.stdout.buffer.flush()


def check(binary, path, update=False):
    """Plays the transcript at path both ways and compares; 0 or 1.  With
    update, the transcript rebuilt from the marked runs is written to path
    first."""
    name = os.path.basename(path)
    with open(path, "rb") as f:
        data = f.read()
    problems = []
    try:
        transcript = Transcript(data, name)
    except ValueError as e:
        print(e, file=sys.stderr)
        return 1
    marked, marked_err = play(binary, transcript, True, problems)
    plain, plain_err = play(binary, transcript, False, problems)
    parts = [split_marks(out, len(lines), i, problems)
             for i, (out, (_, lines)) in enumerate(zip(marked, transcript.runs))]
    actual = rebuild(transcript, parts)
    if update and actual != data:
        with open(path, "wb") as f:
            f.write(actual)
        print("updated " + path)
        data = actual
        transcript = Transcript(data, name)
    failed = bool(problems)
    if actual != data:
        show_diff("--- the transcript, as expected (-) and as the bot answered (+):",
                  data, actual, (name, name + " (actual)"))
        failed = True
    expected_rest, expected_edits = once_per_batch(transcript, parts, problems)
    plain_rest, plain_edits = split_edits(plain)
    if (plain_rest, plain_edits) != (expected_rest, expected_edits):
        if actual == data:  # else the transcript's diff shows it
            show_diff("--- read in one go (each batch up to a clock line), the bot printed otherwise "
                      "(its output less the edits, then the edits of each run, sorted):",
                      expected_rest + expected_edits, plain_rest + plain_edits,
                      (name + " (expected output)", "output"))
        failed = True
    for p in problems:
        print(p, file=sys.stderr)
    errors = marked_err + plain_err
    if failed:
        sys.stderr.write("--- stderr of the bot (marked runs, then runs read in one go):\n")
        sys.stderr.flush()
        sys.stderr.buffer.write(errors)
    bad = [e for e in lines_of(errors) if SANITIZER.search(e)]
    if bad:
        sys.stderr.buffer.write(b"".join(e + b"\n" for e in bad))
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: run_transcript.py ENSEMBLE NAME.chat")
    sys.exit(check(sys.argv[1], sys.argv[2], os.environ.get("UPDATE") == "1"))
