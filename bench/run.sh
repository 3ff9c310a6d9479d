#!/usr/bin/env bash
# vmesh benchmark: prints one Markdown table per topic for the README.
#
#   bench/run.sh            # tiers 4x50 and 20x100
#   bench/run.sh --large    # also 50x200 (about 1 M objects, 1 GB of YAML, several GB of RAM)
#   SKIP_TIERS=1 bench/run.sh   # only the host tools and certificates
#
# Every measurement is a separate process timed by /usr/bin/time (wall seconds, peak RSS).
# The YAML floor is serde-saphyr parsing the same input plus emitting the same output
# (examples/yaml_floor.rs). kpt and kustomize are run on the same objects only where they
# finish in minutes (their cost grows much faster than linearly).
set -euo pipefail
cd "$(dirname "$0")/.."

LARGE=0
[ "${1:-}" = "--large" ] && LARGE=1
for tool in /usr/bin/time kpt kubectl openssl; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is required" >&2; exit 2; }
done

cargo build --release --quiet --bin vmesh --examples
VMESH=$PWD/target/release/vmesh
SCALE=$PWD/target/release/examples/scale
FLOOR=$PWD/target/release/examples/yaml_floor
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# measure OUT_FILE CMD...: runs CMD with stdout to OUT_FILE; prints "seconds peak_kb"
# (wall time to the millisecond; /usr/bin/time's own is in hundredths).
measure() {
  local out=$1; shift
  local start end
  start=$(date +%s%N)
  /usr/bin/time -f "%M" -o "$WORK/time" "$@" > "$out"
  end=$(date +%s%N)
  echo "$(( (end - start) / 1000000 )) $(cat "$WORK/time")" | awk '{ printf "%.3f %d\n", $1 / 1000, $2 }'
}

# median FILE: the median of the first column of FILE's lines, and the largest second column.
median() {
  sort -n "$1" | awk '{ t[NR] = $1; if ($2 > p) p = $2 } END { print t[int((NR + 1) / 2)], p }'
}

tiers="4x50 20x100"
[ "$LARGE" = 1 ] && tiers="$tiers 50x200"

echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(date -u +%Y-%m-%d)"
echo
if [ "${SKIP_TIERS:-0}" != 1 ]; then
# A single run of a few hundred ms varies by tens of percent on a shared machine: the render
# and slice columns are medians of TIER_RUNS runs, alternating (peak memory: the largest).
echo "Render and slice: median of ${TIER_RUNS:-5} alternating runs (3 at 50x200)."
echo
echo "| tier | objects | output MB | render s | peak MB | peak/output | floor s | render/floor | slice s | slice/full | re-render s | re-render peak MB | µs/object |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for tier in $tiers; do
  m=${tier%x*}; s=${tier#*x}
  "$SCALE" "$m" "$s" > "$WORK/in.yaml"
  { cat "$WORK/in.yaml"; printf 'functionConfig:\n  apiVersion: vmesh.dev/v1alpha1\n  kind: VirtualMeshRenderer\n  metadata:\n    name: vmesh\n  spec:\n    cluster: cluster-0\n'; } > "$WORK/slice.yaml"
  runs=${TIER_RUNS:-5}; [ "$tier" = 50x200 ] && runs=3
  : > "$WORK/full.times"; : > "$WORK/slice.times"
  for _ in $(seq "$runs"); do
    measure "$WORK/out.yaml" "$VMESH" < "$WORK/in.yaml" >> "$WORK/full.times"
    measure /dev/null "$VMESH" < "$WORK/slice.yaml" >> "$WORK/slice.times"
  done
  read -r full peak < <(median "$WORK/full.times")
  read -r slice _ < <(median "$WORK/slice.times")
  objects=$(grep -c '^    vmesh.dev/cluster:\|^      vmesh.dev/cluster:' "$WORK/out.yaml" || true)
  bytes=$(stat -c %s "$WORK/out.yaml")
  read -r parse emit < <("$FLOOR" "$WORK/in.yaml" "$WORK/out.yaml")
  read -r rerender rpeak < <(measure /dev/null "$VMESH" < "$WORK/out.yaml")
  awk -v t="$tier" -v o="$objects" -v b="$bytes" -v f="$full" -v p="$peak" -v pa="$parse" -v e="$emit" \
      -v sl="$slice" -v r="$rerender" -v rp="$rpeak" 'BEGIN {
    floor = pa + e
    printf "| %s | %d | %.1f | %.2f | %.0f | %.2f | %.2f | %.2f | %.3f | %.1f%% | %.2f | %.0f | %.1f |\n",
      t, o, b/1e6, f, p/1024, (p*1024)/b, floor, f/floor, sl, 100*sl/f, r, rp/1024, 1e6*f/o }'
done
fi

echo
echo "Host tools on one cluster's objects (kustomize refuses two objects with the same kind,"
echo "namespace and name, so each cluster is its own kustomization), against vmesh rendering"
echo "that cluster's slice from the Gloo Mesh inputs:"
echo
echo "| tier (cluster-0) | objects | kpt fn eval s | kpt peak MB | kubectl kustomize s | kustomize peak MB | vmesh render --cluster s |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
printf '#!/bin/sh\nexec cat\n' > "$WORK/passthrough"; chmod +x "$WORK/passthrough"
for tier in 4x50 10x50 20x100; do
  m=${tier%x*}; s=${tier#*x}
  "$SCALE" "$m" "$s" > "$WORK/host-in.yaml"
  # kpt fn sink wants a directory that does not exist yet.
  src=$WORK/src-$tier
  kpt fn sink "$src" < "$WORK/host-in.yaml"
  pkg=$WORK/pkg-$tier; mkdir -p "$pkg"
  read -r vr _ < <(measure "$pkg/objects.yaml" "$VMESH" render --cluster cluster-0 "$src")
  objects=$(grep -c '^kind:' "$pkg/objects.yaml" || true)
  read -r kt kp < <(measure /dev/null kpt fn eval "$pkg" --exec "$WORK/passthrough" --output unwrap)
  kust=$WORK/kust-$tier; mkdir -p "$kust"
  cp "$pkg/objects.yaml" "$kust/objects.yaml"
  printf 'resources:\n- objects.yaml\n' > "$kust/kustomization.yaml"
  read -r ku kup < <(measure /dev/null timeout 1200 kubectl kustomize "$kust")
  echo "| $tier | $objects | $kt | $((kp / 1024)) | $ku | $((kup / 1024)) | $vr |"
done

echo
RUNS=5
echo "Certificates (4 meshes and one root: 5 keys, seedless, generated in parallel on $(nproc) cores; mean of $RUNS runs):"
echo
echo "| key size | render with certificates s | without s | per key s | openssl genrsa s | per key / openssl | re-render (reuse) s |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
"$SCALE" 4 50 > "$WORK/plain.yaml"
read -r plain _ < <(measure /dev/null "$VMESH" < "$WORK/plain.yaml")
for bits in 2048 4096; do
  "$SCALE" 4 50 --mtls --rsa-bits "$bits" > "$WORK/mtls.yaml"
  # RSA key generation time varies from key to key: average RUNS runs of each.
  with=0; ossl=0
  for _ in $(seq "$RUNS"); do
    read -r t _ < <(measure "$WORK/mtls-out.yaml" "$VMESH" < "$WORK/mtls.yaml")
    with=$(awk -v a="$with" -v b="$t" 'BEGIN { print a + b }')
    read -r t _ < <(measure /dev/null openssl genrsa "$bits")
    ossl=$(awk -v a="$ossl" -v b="$t" 'BEGIN { print a + b }')
  done
  read -r reuse _ < <(measure /dev/null "$VMESH" < "$WORK/mtls-out.yaml")
  awk -v b="$bits" -v w="$with" -v p="$plain" -v o="$ossl" -v r="$reuse" -v n="$RUNS" 'BEGIN {
    keys = 5; w = w / n; per = (w - p) / keys; ossl = o / n
    printf "| RSA-%d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", b, w, p, per, ossl, per / ossl, r }'
done
