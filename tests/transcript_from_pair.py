#!/usr/bin/env python3
"""Turns transcripts of the old form, a pair NAME.in (the console's input,
with the runner's "#!" directives) and NAME.out (the exact output expected),
into NAME.chat, the conversation run_transcript.py reads, and removes the
pair.  For a branch begun before transcripts were conversations.

    transcript_from_pair.py ENSEMBLE NAME.in...

The binary itself places each output line under the input line that caused
it: NAME.chat starts as the input alone and is rebuilt by the runner
(UPDATE=1), which also plays it as the old runner did, read in one go.  The
pair is removed only when NAME.chat keeps every byte of both: its input
lines, in order, are NAME.in and its "> " lines, without the "> ", are
NAME.out.  Prints one line per pair; exits 1 if any was left as it was."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # run_transcript.py
import run_transcript


def keeps_pair(chat, old_in, old_out):
    """True when the conversation chat holds old_in's lines and old_out's,
    byte for byte (all three are bytes)."""
    lines = run_transcript.lines_of(chat)
    said = [line for line in lines if not line.startswith(run_transcript.OUTPUT)]
    shown = [line[2:] for line in lines if line.startswith(run_transcript.OUTPUT)]
    return (b"".join(line + b"\n" for line in said) == old_in and
            b"".join(line + b"\n" for line in shown) == old_out)


def convert(binary, in_path):
    """Writes NAME.chat from NAME.in and NAME.out, then removes them; or
    leaves all as they were and says why.  True when converted."""
    base = in_path[:-len(".in")]
    chat_path = base + ".chat"
    with open(in_path, "rb") as f:
        old_in = f.read()
    with open(base + ".out", "rb") as f:
        old_out = f.read()
    why = None
    if os.path.exists(chat_path):
        why = "%s exists already" % chat_path
    elif not old_in.endswith(b"\n"):
        why = "its last line has no newline"
    elif any(line.startswith(run_transcript.OUTPUT) for line in run_transcript.lines_of(old_in)):
        why = "an input line starts with '>', which marks the bot's output"
    if why:
        print("%s: left as it was: %s" % (in_path, why))
        return False
    with open(chat_path, "wb") as f:
        f.write(old_in)
    if run_transcript.check(binary, chat_path, update=True):
        why = "the bot does not print NAME.out (run the old runner)"
    else:
        with open(chat_path, "rb") as f:
            if not keeps_pair(f.read(), old_in, old_out):
                why = "the conversation does not keep the pair's bytes"
    if why:
        os.remove(chat_path)
        print("%s: left as it was: %s" % (in_path, why))
        return False
    os.remove(in_path)
    os.remove(base + ".out")
    print("%s: converted to %s" % (in_path, chat_path))
    return True


if __name__ == "__main__":
    if len(sys.argv) < 3 or not all(p.endswith(".in") for p in sys.argv[2:]):
        sys.exit("usage: transcript_from_pair.py ENSEMBLE NAME.in...")
    ok = [convert(sys.argv[1], p) for p in sys.argv[2:]]
    sys.exit(0 if all(ok) else 1)
