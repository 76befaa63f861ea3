#!/usr/bin/env bash
# The TUI as a new user runs it: `kimicode` in this repository, in tmux, against the loopback
# OpenAI-compatible server (tests/tui/serve_loopback.py). Prints the screen after each step.
#   bash tests/tui/tmux_check.sh
# Uses a temp KIMICODE_HOME (removed at the end): the real user dirs are never touched.
set -u
REPO=$(cd "$(dirname "$0")/../.." && pwd)
PY=$REPO/.venv/bin/python
HOME_DIR=$(mktemp -d)
URLFILE=$HOME_DIR/url
(cd "$REPO" && KIMICODE_HOME=$HOME_DIR "$PY" -m tests.tui.serve_loopback "$URLFILE" >/dev/null 2>&1) &
SERVER=$!
for _ in $(seq 100); do [ -s "$URLFILE" ] && break; sleep 0.1; done
URL=$(cat "$URLFILE")
T=kimicode-check-$$
ENV="KIMICODE_HOME=$HOME_DIR KIMICODE_BASE_URL=$URL"
cap() { echo "=== $1"; tmux capture-pane -p -t "$T" | sed 's/[[:space:]]*$//' | grep -v '^$'; }
keys() { tmux send-keys -t "$T" "$@"; }
idle() {  # until the window is up and no spinner line (opening, answering, packing...) is on it
  for _ in $(seq 160); do
    sleep 0.25
    screen=$(tmux capture-pane -p -t "$T" | sed 's/[[:space:]]*$//')
    echo "$screen" | grep -q '^ kimicode · ' || continue
    echo "$screen" | grep -q '\.\.\. [0-9]* s$' || return 0
  done
}
start() { tmux new-session -d -s "$T" -x 120 -y 36 "cd $REPO && $ENV $REPO/.venv/bin/kimicode $*; echo EXITED \$?; sleep 30"; }
quit() {
  keys C-q
  for i in $(seq 40); do sleep 0.25; tmux capture-pane -p -t "$T" | grep -q '^EXITED' && break; done
  echo "=== Ctrl+Q: $(tmux capture-pane -p -t "$T" | grep '^EXITED') after $((i * 250)) ms"
  tmux kill-session -t "$T" 2>/dev/null
}

start
sleep 0.8; cap "0.8 s after start: the window is up, the repository is being packed"
idle; cap "session open: budget bar filled"
keys "what does calc.py do?" Enter; sleep 2.5; cap "streaming"
keys C-c; sleep 1; cap "after Ctrl+C: the partial answer is kept"
idle; keys "/add kimicode/tui/keys.py" Enter; idle; cap "/add"
keys F2; sleep 1; cap "files panel (F2)"
keys F2; sleep 0.3
keys "/drop kimicode/tui/keys.py" Enter; idle; cap "/drop"
keys "second question" Enter; idle; cap "second answer"
keys "/compact" Enter; idle; cap "/compact: recent moves into state"
quit
start --resume
idle; cap "kimicode --resume"
quit
echo "=== the session file"
"$PY" - "$HOME_DIR" <<'PY'
import json, pathlib, sys
for path in pathlib.Path(sys.argv[1], "data", "sessions").rglob("*.jsonl"):
    for line in path.read_text().splitlines():
        r = json.loads(line)
        if r.get("type") == "turn":
            print(f"turn {r['id']:>2} {r['role']:<9} partial={r.get('partial', False)!s:<5} {r['text'][:60]!r}")
        else:
            print(r["type"])
PY
kill "$SERVER"
rm -rf "$HOME_DIR"
