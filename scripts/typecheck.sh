#!/usr/bin/env bash
# Strict type check of the package as installed: ``dstream`` with ``receivers/``, ``checkpoint/``
# and ``service/`` inside it (pyproject's package-dir mapping, which mypy cannot follow through an
# editable install). A staging tree under .typecheck/ holds ``dstream/`` as symlinks to the real
# folders; mypy runs there with pyproject's [tool.mypy] and the paths it reports are mapped back
# to the repository's, relative to its root (``dstream/receivers/x.py`` -> ``receivers/x.py``;
# mypy gives some as real absolute paths, through the symlinks).
#
#   scripts/typecheck.sh                      # the whole package: mypy -p dstream
#   scripts/typecheck.sh -p dstream.streaming # any mypy arguments instead (paths relative to the root)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# the Python whose (pinned) mypy runs: $PYTHON, else the project's .venv
python="${PYTHON:-$root/.venv/bin/python}"

# The links are replaced in place (two checks at once see the same tree) and dangling ones, of a
# module removed or renamed, are dropped.
stage="$root/.typecheck"
mkdir -p "$stage/dstream"
for link in "$stage/dstream"/*; do
    [ -e "$link" ] || rm -f "$link"
done
for entry in dstream/*; do
    case "$(basename "$entry")" in __pycache__) continue ;; esac
    ln -sfn "$root/$entry" "$stage/dstream/$(basename "$entry")"
done
for sub in receivers checkpoint service; do
    ln -sfn "$root/$sub" "$stage/dstream/$sub"
done

args=("$@")
if [ ${#args[@]} -eq 0 ]; then
    args=(-p dstream)
fi
# File and folder arguments (``tests/typing``, ``x.py``) are given relative to the root; mypy
# runs in the staging tree, one level down.
for i in "${!args[@]}"; do
    case "${args[$i]}" in
        -* | /*) ;;
        */* | *.py) args[$i]="../${args[$i]}" ;;
    esac
done

cd "$stage"
set +e
"$python" -m mypy --config-file "$root/pyproject.toml" --cache-dir "$root/.mypy_cache" "${args[@]}" 2>&1 \
    | sed -E -e "s#^$root/##" -e 's#^dstream/(receivers|checkpoint|service)/#\1/#' -e 's#^\.\./##'
status=${PIPESTATUS[0]}
exit "$status"
