#!/usr/bin/env bash
# Checks the policy boundary (docs/architecture.md, "The policy boundary"): layers/, heads/, models/
# and compose/ orchestrate kernels and never loop over tensor data on the host. A loop there is
# reported when its body does arithmetic or element access (`.row(`, `.data() +`, a math function,
# a compound assignment += -= *= /=, an element write `x[i] = ` or `m(r, c) = `) in a statement
# that calls no kernel or layer. Loops over integer host metadata (fields, heads, group boundaries)
# say so with a `// host: <why>` comment on the loop's first line or in the comment lines right
# above it; -v lists the exempted loops. It is a heuristic over the source text, tuned on the loops
# issue 15 listed (it reports each of them at commit 3469bd4); it does not parse C++, so a loop in
# a helper outside these folders is not seen.
# Usage: scripts/check-host-loops.sh [-v] [include dir]   Exit status 1 when a loop is reported.
set -euo pipefail
verbose=0
if [ "${1:-}" = -v ]; then verbose=1; shift; fi
root="$(realpath "${1:-$(dirname "${BASH_SOURCE[0]}")/../include/ctrnet}")"
dirs=()
for d in layers heads models compose; do [ -d "$root/$d" ] && dirs+=("$root/$d"); done
[ ${#dirs[@]} -gt 0 ] || { echo "check-host-loops: no layers/, heads/, models/ or compose/ under $root" >&2; exit 2; }
files=$(find "${dirs[@]}" -name '*.hpp' | sort)
# shellcheck disable=SC2086
awk -v verbose="$verbose" '
function count(s, c,   n) { n = gsub(c, "", s); return n }
# the header of the loop, for (...), is bookkeeping: dropped before the body is checked
function drop_header(s,   i, d, c) {
  i = index(s, "for ("); d = 0
  for (i = i + 4; i <= length(s); ++i) {
    c = substr(s, i, 1)
    if (c == "(") ++d
    else if (c == ")" && --d == 0) return substr(s, 1, index(s, "for (") - 1) "for ()" substr(s, i + 1)
  }
  return s
}
function strip(s) { sub(/\/\/.*/, "", s); gsub(/"([^"\\]|\\.)*"/, "\"\"", s); return s }
function finish(   body, n, i, parts) {
  # statements that call a kernel, a layer, the registry or a check orchestrate: their arguments are not
  # host arithmetic
  n = split(loop_text, parts, ";"); body = ""
  for (i = 1; i <= n; ++i)
    if (parts[i] !~ /kernels::|\.(forward|backward|build|predict|loss)\(|reg\.|CTRNET_CHECK|push_back|emplace_back/)
      body = body "\n" parts[i]
  if (exempt) { if (verbose) printf "exempt   %s:%d: %s\n", FILENAME, loop_line, first; }
  else if (body ~ /\.row\(|\.data\(\) *\+|std::(exp|log|sqrt|pow|fill|copy)\(|[-+*\/]=[^=]|[]\)] *=[^=]/) {
    printf "%s:%d: host loop over tensor data: %s\n", FILENAME, loop_line, first
    bad = 1
  }
  in_loop = 0
}
FNR == 1 { if (in_loop) finish(); host_comment = 0 }
{
  raw = $0; line = strip(raw)
  if (!in_loop && line ~ /(^|[^A-Za-z_])for \(/) {
    in_loop = 1; loop_line = FNR; first = raw; sub(/^ +/, "", first)
    exempt = (raw ~ /\/\/ host:/ || host_comment)
    loop_text = drop_header(line); depth = count(line, "{") - count(line, "}")
    if (depth <= 0 && line ~ /; *$/ && line !~ /for \([^)]*$/) finish()
    else if (depth <= 0 && line ~ /} *$/) finish()
  } else if (in_loop) {
    loop_text = loop_text "\n" line
    depth += count(line, "{") - count(line, "}")
    if (depth <= 0 && (line ~ /; *$/ || line ~ /} *$/)) finish()
  }
  # host_comment: the comment lines right above the current line hold a `// host:` note
  if (raw ~ /^ *\/\//) host_comment = host_comment || raw ~ /\/\/ host:/
  else host_comment = 0
}
END { if (in_loop) finish(); exit bad }
' $files
