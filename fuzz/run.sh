#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 600; CI runs 60) and
# prints one line per target: executions, coverage (edges) and features.
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# cargo-fuzz is installed if missing. The targets build with the stable
# toolchain (RUSTC_BOOTSTRAP=1 lets it take the sanitizer flags; the
# AddressSanitizer runtime ships with it). FUZZ_SANITIZER=none builds
# without ASan (faster; the Rust code is safe but for a few crates).
# fuzz/seeds/<target> holds the seeds (fuzz/seeds.py writes them); what
# the fuzzer finds grows fuzz/corpus/<target> (not committed), logs go
# to fuzz/work/. A crash leaves its input in fuzz/artifacts/<target>/
# and fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(wire config pipeline fpm)
sanitizer=${FUZZ_SANITIZER:-address}
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
export RUSTC_BOOTSTRAP=1
cargo fuzz build --release --sanitizer "$sanitizer"
summary=()
for t in "${targets[@]}"; do
  mkdir -p fuzz/work "fuzz/corpus/$t"
  log="fuzz/work/$t.log"
  echo "== fuzz $t for ${seconds}s"
  if ! cargo fuzz run --release --sanitizer "$sanitizer" "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
      -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=4096 >"$log" 2>&1; then
    tail -60 "$log"
    echo "fuzz: target $t failed (input in fuzz/artifacts/$t/)" >&2
    exit 1
  fi
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
  execs=$(grep -E 'stat::number_of_executed_units' "$log" | awk '{print $2}' || true)
  cov=$(sed -nE 's/.*cov: ([0-9]+).*/\1/p' <<<"$done_line")
  ft=$(sed -nE 's/.*ft: ([0-9]+).*/\1/p' <<<"$done_line")
  corp=$(sed -nE 's/.*corp: ([0-9]+).*/\1/p' <<<"$done_line")
  summary+=("fuzz target=$t seconds=$seconds execs=${execs:-?} cov=${cov:-?} ft=${ft:-?} corpus=${corp:-?}")
done
printf '%s\n' "${summary[@]}"
