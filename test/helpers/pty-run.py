"""Runs a command on a pseudo-terminal and answers its prompts, like a person at a terminal.

Usage: python3 pty-run.py '<json: [[expect_regex, answer], ...]>' command args...
Each expect is waited for (in order) in the output since the previous match, then its answer is typed
(a newline is added). Prints the whole transcript on stdout and exits with the command's exit code;
exits 124 if an expected prompt does not come within 60 s (the transcript says where it stopped).
"""
import json
import os
import pty
import re
import select
import sys
import time

steps = json.loads(sys.argv[1])
argv = sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)

transcript = b""
cursor = 0
status = None


def read_some(timeout):
    global transcript
    ready, _, _ = select.select([fd], [], [], timeout)
    if not ready:
        return True
    try:
        data = os.read(fd, 4096)
    except OSError:
        return False
    if not data:
        return False
    transcript += data
    return True


for pattern, answer in steps:
    deadline = time.time() + 60
    regex = re.compile(pattern.encode())
    while True:
        match = regex.search(transcript, cursor)
        if match:
            cursor = match.end()
            break
        if time.time() > deadline or not read_some(0.5):
            sys.stdout.write(transcript.decode(errors="replace"))
            sys.stdout.write(f"\n[pty-run: gave up waiting for {pattern!r}]\n")
            os.kill(pid, 9)
            sys.exit(124)
    os.write(fd, answer.encode() + b"\r")

deadline = time.time() + 60
while time.time() < deadline and read_some(0.5):
    pass
_, status = os.waitpid(pid, 0)
sys.stdout.write(transcript.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 125)
