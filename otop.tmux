#!/usr/bin/env bash
# otop's tmux plugin (TPM runs this with its output discarded; so can `run-shell` in tmux.conf).
# Find otop, or install it into this directory once, in the background; then `otop tmux setup`
# reads the @otop-* options, binds the keys, wires #{otop_status} and the window badges, and
# starts the single watcher.
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# The command as words: a found file is one word, whatever spaces its path holds;
# @otop-command is split on blanks (a command line such as `python3 -m otop`).
OTOP=()
find_otop() {
  local c
  c=$(tmux show-option -gqv @otop-command)
  if [ -n "$c" ]; then read -r -a OTOP <<<"$c"; return 0; fi
  for c in "$DIR/.venv/bin/otop" "$(command -v otop 2>/dev/null)" "$HOME/.local/bin/otop"; do
    if [ "$c" = "$DIR/.venv/bin/otop" ] && stale_venv; then continue; fi
    if [ -n "$c" ] && [ -x "$c" ]; then OTOP=("$c"); return 0; fi
  done
  return 1
}

# The plugin's own install is made again when an update changed pyproject.toml since it was
# made (its entry point, its packages): the old `otop` script would not start.
stale_venv() { [ "$DIR/pyproject.toml" -nt "$DIR/.venv/.otop-plugin-installed" ]; }

if find_otop; then
  if ! out=$("${OTOP[@]}" tmux setup 2>&1 >/dev/null); then
    tmux set-option -gq @otop_status "otop: setup failed"
    tmux display-message "otop: setup failed: $(printf '%s' "$out" | tail -n 1 | sed 's/#/##/g')"
  fi
else
  # Show the install's progress where the counts will be (tmux-cpu style interpolation).
  for opt in status-left status-right; do
    v=$(tmux show-option -gqv "$opt")
    case $v in *'#{otop_status}'*) tmux set-option -gq "$opt" "${v//\#\{otop_status\}/#{@otop_status\}}" ;; esac
  done
  if [ -f "$DIR/.venv-install-failed" ]; then
    # Said once when it failed; every later load stays quiet until the user asks again.
    tmux set-option -gq @otop_status "otop: install failed"
  else
    "$DIR/scripts/plugin-bootstrap" </dev/null >/dev/null 2>&1 &
  fi
fi
exit 0
