#!/usr/bin/env bash
# Builds the fused head's elementwise helper (lib/backend/native/sf2_head.c) into .cache/native/libsf2head.so with
# Debian's gcc (package build-essential) and OpenMP (libgomp, part of gcc). Run as `deno task build-native`.
# Without the library the kit runs the same maths in TypeScript (slower) and says so in its backend line.
# Flags: -O3 -march=native vectorises the per-element loop for this CPU (the library is built on the machine that
# runs it, never shipped); -fno-math-errno -fno-trapping-math let gcc call glibc's vector expf/log1pf (libmvec)
# without -ffast-math, which would reorder sums and change results between builds.
set -euo pipefail
cd "$(dirname "$0")/../../.."
src=lib/backend/native/sf2_head.c
out=.cache/native/libsf2head.so
cc=${CC:-gcc}
if ! command -v "$cc" >/dev/null; then
  echo "build-native: no C compiler ($cc); apt-get install gcc. The kit runs without the helper (slower)." >&2
  exit 1
fi
mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
"$cc" -O3 -march="${SF2_MARCH:-native}" -fopenmp -fno-math-errno -fno-trapping-math -fPIC -shared \
  -Wall -Wextra -o "$tmp" "$src" -lm
mv -f "$tmp" "$out"
echo "build-native: $out ($("$cc" --version | head -n 1))"
