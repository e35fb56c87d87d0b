#!/bin/sh
# Fail when a built binary or layer zip is larger than its budget.
#
# Usage: scripts/size-check.sh BUDGETS_JSON EXTENSION GOARCH...
# (`make size-check` runs it for ARCHS, after `make layer`.)
#
# Checks build/<goarch>/extensions/<EXTENSION> against binary_bytes.<goarch>
# and dist/<EXTENSION>-<goarch>.zip against layer_zip_bytes.<goarch> in
# BUDGETS_JSON, a flat JSON file of whole numbers of bytes:
#
#   {
#     "binary_bytes": {"amd64": 9000000, "arm64": 9000000},
#     "layer_zip_bytes": {"amd64": 4000000, "arm64": 4000000}
#   }
#
# POSIX sh, sed and wc only: the file is read with sed, so keep it in this
# shape (two objects of "goarch": number; no comments, no nesting deeper).
set -eu

if [ "$#" -lt 3 ]; then
	echo "usage: $0 BUDGETS_JSON EXTENSION GOARCH..." >&2
	exit 2
fi
budgets="$1"
extension="$2"
shift 2
[ -f "$budgets" ] || {
	echo "size-check: $budgets: no such file" >&2
	exit 2
}

# The whole file on one line without blanks, so one sed expression finds a value.
flat="$(tr -d ' \t\r\n' <"$budgets")"

# budget KEY GOARCH: the number at KEY.GOARCH, or nothing.
budget() {
	printf '%s' "$flat" | sed -n "s/.*\"$1\":{\([^}]*\)}.*/\1/p" |
		sed -n "s/.*\"$2\":\([0-9][0-9]*\).*/\1/p"
}

# 1234567 -> 1,234,567
commas() {
	printf '%s\n' "$1" | awk '{
		s = $0; out = ""
		while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
		print s out
	}'
}

status=0
check() { # check KEY GOARCH FILE WHAT
	limit="$(budget "$1" "$2")"
	if [ -z "$limit" ]; then
		echo "size-check: $budgets has no $1.$2 (a whole number of bytes): add it" >&2
		status=1
		return
	fi
	if [ ! -f "$3" ]; then
		echo "size-check: $3: no such file (run 'make layer' first)" >&2
		status=1
		return
	fi
	size="$(wc -c <"$3" | tr -d ' ')"
	if [ "$size" -gt "$limit" ]; then
		echo "size-check: FAIL: $3 is $(commas "$size") bytes, over its budget of $(commas "$limit") ($1.$2 in $budgets); if the growth is intended, raise the budget there" >&2
		status=1
	else
		echo "size-check: ok: $3 is $(commas "$size") bytes, budget $(commas "$limit") ($4)"
	fi
}

for goarch in "$@"; do
	check binary_bytes "$goarch" "build/$goarch/extensions/$extension" "binary"
	check layer_zip_bytes "$goarch" "dist/$extension-$goarch.zip" "layer zip"
done
exit "$status"
