#!/usr/bin/env bash
# Brings the Bicep CLI (pinned) into .tools/ from NuGet with `dotnet restore`, so infra/ can be
# compiled and linted offline (test/infra). Idempotent: does nothing when the pinned binary exists.
# Prints the path of the binary on stdout.
set -euo pipefail
BICEP_VERSION=0.49.2
root="$(cd "$(dirname "$0")/.." && pwd)"
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) rid=linux-x64 ;;
  Linux-aarch64 | Linux-arm64) rid=linux-arm64 ;;
  Darwin-x86_64) rid=osx-x64 ;;
  Darwin-arm64) rid=osx-arm64 ;;
  *) echo "restore-bicep: no Bicep CLI package for $(uname -s)-$(uname -m)" >&2; exit 1 ;;
esac
package="azure.bicep.commandline.${rid}"
tools="$root/.tools"
bin="$tools/nuget/$package/$BICEP_VERSION/tools/bicep"
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi
if ! command -v dotnet >/dev/null 2>&1; then
  echo "restore-bicep: dotnet (the .NET SDK) is needed to restore the Bicep CLI from NuGet" >&2
  exit 2
fi
mkdir -p "$tools/restore"
# A project whose only job is to download one package (PackageDownload: no reference, no build).
cat >"$tools/restore/bicep-cli.proj" <<PROJ
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <TargetFramework>netstandard2.0</TargetFramework>
  </PropertyGroup>
  <ItemGroup>
    <PackageDownload Include="Azure.Bicep.CommandLine.${rid}" Version="[${BICEP_VERSION}]" />
  </ItemGroup>
</Project>
PROJ
DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 \
  dotnet restore "$tools/restore/bicep-cli.proj" --packages "$tools/nuget" >&2
chmod +x "$bin"
"$bin" --version >&2
echo "$bin"
