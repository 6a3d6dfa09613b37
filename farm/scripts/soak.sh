#!/usr/bin/env bash
# The fault soak (not part of the test suite): a real coordinator on a real redis-server, real agents training for
# real, N runs back to back with one fault each (agent/coordinator/Redis killed, agent cut off, corrupt, NaN,
# wrong-shape, duplicate and stale uploads, stragglers). Prints runs, faults by kind, runs completed, manifests
# verified, coordinator memory and open files, leftover processes; exits non-zero on any miss.
# --failover: two coordinators (leader and standby, restarted as systemd would) on Redis behind Sentinel (a primary,
# two replicas, three sentinels), with the leader SIGKILLed, the leader SIGSTOPped past its lease, and the Redis
# primary SIGKILLed among the faults; it adds takeover and promotion times and results retried to the figures.
#   farm/scripts/soak.sh [--runs 20] [--agents 3] [--seed 1] [--failover]
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v redis-server >/dev/null || { echo "soak: redis-server is missing: sudo apt-get install -y redis-server" >&2; exit 2; }
exec dotnet run --project tests/RMTC.Farm.Benchmarks -c Release -- soak "$@"
