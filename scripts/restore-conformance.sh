#!/usr/bin/env bash
# Restores (NuGet, through dotnet) and builds the conformance harness's .NET host: a WebJobs SDK host with
# Microsoft's Durable Task extension, pinned in local/conformance/host/ConformanceHost.csproj. Packages go to
# .conformance/nuget, the build to .conformance/host (both ignored, never committed). Idempotent: rebuilds
# only when the host's sources changed. Prints the path of the host assembly on stdout.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
project="$root/local/conformance/host/ConformanceHost.csproj"
out="$root/.conformance/host"
packages="$root/.conformance/nuget"
assembly="$out/ConformanceHost.dll"
if ! command -v dotnet >/dev/null 2>&1; then
  echo "restore-conformance: dotnet (the .NET SDK) is needed to restore and build the conformance host" >&2
  exit 2
fi
# Two test files (test/conformance/*.test.ts) call this at once under jest: one restore and build at a time (the
# second then finds the stamp and builds nothing). flock is util-linux; without it, no lock.
mkdir -p "$root/.conformance"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$root/.conformance/.lock"
  flock 9
fi
# What the build depends on: the project files and sources (the stamp names their hash).
stamp="$(cd "$root/local/conformance/host" && find . -path ./obj -prune -o -path ./bin -prune -o -path ./RpcShim/obj -prune -o -path ./RpcShim/bin -prune -o -type f \( -name '*.cs' -o -name '*.csproj' \) -print | sort | xargs sha256sum | sha256sum | cut -c1-16)"
if [ -f "$assembly" ] && [ "$(cat "$out/.stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "$assembly"
  exit 0
fi
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
dotnet restore "$project" --packages "$packages" >&2
# One build job: the machine may be shared (and the host is small).
dotnet build "$project" -c Release --no-restore -o "$out" -maxcpucount:1 -nologo -v:q >&2
echo "$stamp" >"$out/.stamp"
echo "$assembly"
