#!/usr/bin/env bash
# Builds the addon with AddressSanitizer + UndefinedBehaviorSanitizer into a scratch copy of the package and runs the
# whole ava suite against it. The checkout's own build/ is never touched, so the normal build needs no restoring.
#
#   scripts/test-asan.sh [extra ava arguments]      e.g. scripts/test-asan.sh test/robustness
#
# Exit status: non-zero when the build fails, a test fails, or any sanitizer report appears in the output.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="${LRP_ASAN_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/lrp-asan.XXXXXX")}"
LOG="$WORK/asan-run.log"
KEEP="${LRP_ASAN_KEEP:-0}"
cleanup() { if [ "$KEEP" != 1 ]; then rm -rf "$WORK"; fi; }
trap cleanup EXIT

LIBASAN="$(gcc -print-file-name=libasan.so)"
if [ ! -e "$LIBASAN" ]; then
  echo "test-asan: libasan.so not found (gcc -print-file-name=libasan.so gave '$LIBASAN'); install gcc's sanitizer runtime" >&2
  exit 2
fi

echo "test-asan: copying the package to $WORK"
# A copy (not symlinks): node resolves symlinks to their real path, and lib/native.ts loads the addon relative to
# its own file, so the copy's lib/ and dist/ must sit next to the copy's build/Release.
mkdir -p "$WORK"
tar -C "$ROOT" --exclude=./node_modules --exclude=./build --exclude=./build-cmake --exclude=./build-asan \
    --exclude=./prebuilds --exclude=./.git -cf - . | tar -C "$WORK" -xf -
ln -s "$ROOT/node_modules" "$WORK/node_modules"

SAN_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g -O1"
echo "test-asan: building the addon with $SAN_FLAGS"
(
  cd "$WORK"
  # cmake-js sets CMAKE_CXX_FLAGS itself, so the sanitizer flags go into the build type's flags, which are appended.
  # cmake-js works offline because package.json declares binary.napi_versions (see shared/NOTES.md).
  npx cmake-js compile --out build-asan --config RelWithDebInfo \
    --CDCMAKE_CXX_FLAGS_RELWITHDEBINFO="$SAN_FLAGS" \
    --CDCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" >"$WORK/asan-build.log" 2>&1 \
    || { tail -50 "$WORK/asan-build.log"; echo "test-asan: build failed" >&2; exit 3; }
  ADDON="$(find build-asan -name lrp.node -type f -print -quit)"
  [ -n "$ADDON" ] || { echo "test-asan: no lrp.node under build-asan" >&2; exit 3; }
  mkdir -p build/Release
  cp "$ADDON" build/Release/lrp.node
  # Read nm's whole output first: `nm | grep -q` under pipefail fails at random when grep exits early (SIGPIPE).
  symbols="$(nm -D --undefined-only build/Release/lrp.node)"
  grep -q __asan_ <<<"$symbols" || { echo "test-asan: the addon is not instrumented" >&2; exit 3; }
  node scripts/build-ts.mjs >/dev/null
)

# LD_PRELOAD puts the ASan runtime first (node itself is not instrumented); ava's worker processes inherit the
# environment. Leak detection is off: V8 does not free everything at exit.
export LD_PRELOAD="$LIBASAN"
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:allocator_may_return_null=1:handle_segv=1:detect_stack_use_after_return=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export LRP_ASAN=1

echo "test-asan: running ava against the instrumented addon"
set +e
(
  cd "$WORK"
  # The embedding test checks that the addon imports only Node-API symbols; an instrumented addon imports __asan_*.
  npx ava --timeout=600s --match='!the addon imports only Node-API symbols from the host' "$@"
) 2>&1 | tee "$LOG"
STATUS=${PIPESTATUS[0]}
set -e

if grep -Eq 'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer|SUMMARY: (Address|UndefinedBehavior)Sanitizer' "$LOG"; then
  echo "test-asan: sanitizer report found (see above)" >&2
  KEEP=1
  echo "test-asan: kept $WORK for inspection" >&2
  exit 1
fi
if [ "$STATUS" -ne 0 ]; then
  echo "test-asan: the suite failed under the sanitizers (ava exit status $STATUS)" >&2
  exit "$STATUS"
fi
echo "test-asan: suite clean under AddressSanitizer + UndefinedBehaviorSanitizer"
