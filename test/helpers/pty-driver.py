#!/usr/bin/env python3
"""Runs a program on a pseudo-terminal of a fixed size, as a job of a small
shell: the program's process group is the terminal's foreground group, so
Ctrl-C, Ctrl-Z and Ctrl-\\ typed as bytes become signals, and a stopped job can
be resumed as `fg` does. Reads one JSON spec on stdin:
  {"argv": [...], "cwd": "...", "env": {...}, "rows": 24, "cols": 80,
   "timeout_ms": 60000, "stdout_path": "optional file for stdout",
   "steps": [{"wait_output": "regex"}, {"sleep_ms": 200}, {"send": "\\u0003"},
             {"wait_stopped": true}, {"resume": true}]}
and prints one JSON result: status or signal, all output, the times (ms since
start) of each send, stop and the exit, and the terminal's local modes after
the program ended."""
import json, os, pty, re, select, signal, struct, sys, termios, fcntl, time

spec = json.load(sys.stdin)
start = time.monotonic()
def now_ms(): return round((time.monotonic() - start) * 1000, 1)

events_r, events_w = os.pipe()   # shell -> driver: stopped / exited
orders_r, orders_w = os.pipe()   # driver -> shell: resume

pid, master = pty.fork()
if pid == 0:
    # The shell: session leader with the terminal, runs the program as a job.
    os.close(events_r); os.close(orders_w)
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", spec.get("rows", 24), spec.get("cols", 80), 0, 0))
    signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTSTP, signal.SIG_IGN)
    signal.signal(signal.SIGQUIT, signal.SIG_IGN)
    job = os.fork()
    if job == 0:
        os.setpgid(0, 0)
        os.tcsetpgrp(0, os.getpgrp())
        for sig in (signal.SIGTTOU, signal.SIGINT, signal.SIGTSTP, signal.SIGQUIT, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        os.chdir(spec.get("cwd", "."))
        if spec.get("stdout_path"):
            # Results to a file, so that only stderr (progress, errors) is on the terminal.
            out = os.open(spec["stdout_path"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(out, 1)
        os.execvpe(spec["argv"][0], spec["argv"], spec.get("env", dict(os.environ)))
    # The job does both itself too; whichever runs first wins (after its exec, setpgid here is refused).
    try:
        os.setpgid(job, job)
        os.tcsetpgrp(0, job)
    except OSError:
        pass
    while True:
        _, status = os.waitpid(job, os.WUNTRACED)
        if os.WIFSTOPPED(status):
            os.tcsetpgrp(0, os.getpgrp())
            os.write(events_w, b"stopped\n")
            os.read(orders_r, 1)
            os.tcsetpgrp(0, job)
            os.killpg(job, signal.SIGCONT)
            continue
        lflag = termios.tcgetattr(0)[3]
        modes = {"isig": bool(lflag & termios.ISIG), "icanon": bool(lflag & termios.ICANON),
                 "echo": bool(lflag & termios.ECHO)}
        result = {"status": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                  "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None, "modes": modes}
        os.write(events_w, (json.dumps(result) + "\n").encode())
        os._exit(0)

os.close(events_w); os.close(orders_r)
output = bytearray()
events = []
sends, stops, stop_offsets = [], [], []
result = None
deadline = start + spec.get("timeout_ms", 60000) / 1000

def pump(timeout):
    """Reads what is ready for up to `timeout` seconds; returns False once the shell reported the exit."""
    global result
    ready, _, _ = select.select([master, events_r], [], [], max(0, timeout))
    if master in ready:
        try:
            output.extend(os.read(master, 65536))
        except OSError:
            pass
    if events_r in ready:
        for line in os.read(events_r, 65536).decode().splitlines():
            if line == "stopped":
                stops.append(now_ms()); events.append("stopped")
                # What the program wrote before it stopped, then where that ends.
                while select.select([master], [], [], 0.05)[0]:
                    try:
                        output.extend(os.read(master, 65536))
                    except OSError:
                        break
                # In characters, as the caller indexes the decoded text.
                stop_offsets.append(len(output.decode("utf-8", "replace")))
            else:
                result = json.loads(line); result["exit_ms"] = now_ms()
    return result is None

def wait_until(done):
    while not done() and time.monotonic() < deadline and pump(0.02):
        pass
    return done()

failed_step = None
for step in spec.get("steps", []):
    if result is not None:
        failed_step = step; break
    if "wait_output" in step:
        pattern = re.compile(step["wait_output"].encode())
        if not wait_until(lambda: pattern.search(bytes(output))):
            failed_step = step; break
    elif "sleep_ms" in step:
        until = time.monotonic() + step["sleep_ms"] / 1000
        wait_until(lambda: time.monotonic() >= until)
    elif "send" in step:
        os.write(master, step["send"].encode()); sends.append(now_ms())
    elif "wait_stopped" in step:
        seen = len(stops)
        if not wait_until(lambda: len(stops) > seen):
            failed_step = step; break
    elif "resume" in step:
        os.write(orders_w, b"r")

wait_until(lambda: result is not None)
if result is None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
# What the program wrote last may still be buffered in the terminal.
while True:
    ready, _, _ = select.select([master], [], [], 0.05)
    if not ready: break
    try:
        chunk = os.read(master, 65536)
    except OSError:
        break
    if not chunk: break
    output.extend(chunk)
try:
    os.waitpid(pid, 0)
except ChildProcessError:
    pass
print(json.dumps({"result": result, "output": output.decode("utf-8", "replace"), "sends": sends,
                  "stops": stops, "stop_offsets": stop_offsets, "failed_step": failed_step, "timed_out": result is None}))
