#!/usr/bin/env bash
# otop's tmux plugin (TPM runs this with its output discarded; so can `run-shell` in tmux.conf).
# Find otop, or install it into this directory once, in the background; then `otop tmux setup`
# reads the @otop-* options, binds the keys, wires #{otop_status} and the window badges, and
# starts the single watcher.
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

find_otop() {
  local c
  c=$(tmux show-option -gqv @otop-command)
  if [ -n "$c" ]; then echo "$c"; return 0; fi
  for c in "$DIR/.venv/bin/otop" "$(command -v otop 2>/dev/null)" "$HOME/.local/bin/otop"; do
    if [ -n "$c" ] && [ -x "$c" ]; then echo "$c"; return 0; fi
  done
  return 1
}

if otop=$(find_otop); then
  if ! out=$($otop tmux setup 2>&1 >/dev/null); then
    tmux set-option -gq @otop_status "otop: setup failed"
    tmux display-message "otop: setup failed: $(printf '%s' "$out" | tail -n 1 | sed 's/#/##/g')"
  fi
else
  # Show the install's progress where the counts will be (tmux-cpu style interpolation).
  for opt in status-left status-right; do
    v=$(tmux show-option -gqv "$opt")
    case $v in *'#{otop_status}'*) tmux set-option -gq "$opt" "${v//\#\{otop_status\}/#{@otop_status\}}" ;; esac
  done
  "$DIR/scripts/plugin-bootstrap" </dev/null >/dev/null 2>&1 &
fi
exit 0
