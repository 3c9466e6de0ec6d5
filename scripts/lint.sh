#!/usr/bin/env bash
# `make lint`: banned functions (STYLE.md §2.7), file size, and clang-format.
set -uo pipefail
cd "$(dirname "$0")/.."
rc=0
src=$(git ls-files '*.c' '*.h')

# atoi & co fail silently; sprintf/strcpy/strcat overflow; strtok is not re-entrant.
if grep -nE '\b(atoi|atol|atoll|sscanf|strtok|sprintf|strcpy|strcat|gets)\s*\(' $src |
	grep -vE '^\S+:[0-9]+:\s*(/\*|\*)'; then
	echo "lint: banned function (use str_to_i64, snprintf/buf_printf, memcpy with bounds)" >&2
	rc=1
fi

for f in $src; do
	n=$(wc -l <"$f")
	if [ "$n" -gt 700 ]; then
		echo "lint: $f has $n lines; split it by responsibility (~600)" >&2
		rc=1
	fi
done

if command -v clang-format >/dev/null; then
	if ! clang-format --dry-run -Werror $src 2>/dev/null; then
		echo "lint: formatting differs from .clang-format; run make fmt" >&2
		rc=1
	fi
fi
exit $rc
