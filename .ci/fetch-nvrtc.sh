#!/usr/bin/env bash
# Fetches NVIDIA's run-time CUDA compiler (NVRTC) from Debian non-free and unpacks it into a private cache folder,
# so CI can compile every generated CUDA kernel to PTX without a GPU, a CUDA toolkit or root-wide apt changes.
#
# Usage: .ci/fetch-nvrtc.sh [cache-dir]     (default: $NVRTC_CACHE_DIR, else <repo>/.cache/nvrtc, gitignored)
# Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian), DEBIAN_CODENAME (default: this machine's release).
# Prints the directory that holds libnvrtc.so.11.2 (libnvrtc-builtins.so.11.8 lies next to it); point the tests at it:
#   export TESSERA_NVRTC_PATH="$(.ci/fetch-nvrtc.sh)"
#
# Why Debian: CUDA 11.8's NVRTC (packaged as libnvrtc11.2, the soname) knows sm_90, and bookworm ships it in
# non-free. We keep our own apt sources list, state and cache folders, so the machine's apt setup is left untouched;
# nothing is installed: the .debs are fetched with `apt-get download` and unpacked with `dpkg -x`.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache_dir="${1:-${NVRTC_CACHE_DIR:-$repo_root/.cache/nvrtc}}"
# apt resolves relative Dir:: options against /etc/apt, so every path we hand it must be absolute.
mkdir -p "$cache_dir" && cache_dir="$(cd "$cache_dir" && pwd)"
packages=(libnvrtc11.2 libnvrtc-builtins11.8)
lib_name=libnvrtc.so.11.2
builtins_name=libnvrtc-builtins.so.11.8

fail() { echo "fetch-nvrtc: $*" >&2; exit 1; }

# Where dpkg -x puts the libraries: usr/lib/<multiarch triplet>/ for both packages.
find_lib_dir() {
  local lib
  lib="$(find "$cache_dir/root" -name "$lib_name" \( -type f -o -type l \) 2>/dev/null | head -n 1)"
  [[ -n "$lib" ]] && dirname "$lib"
}

# Idempotent: a previous run left both libraries side by side, so there is nothing to do.
if dir="$(find_lib_dir)" && [[ -e "$dir/$builtins_name" ]]; then
  echo "$dir"
  exit 0
fi

command -v apt-get >/dev/null || fail "apt-get not found: this script needs apt (Debian or a derivative)"
command -v dpkg >/dev/null || fail "dpkg not found"
[[ -r /etc/os-release ]] || fail "/etc/os-release is missing: cannot tell the Debian release"
# shellcheck disable=SC1091
distro="$(. /etc/os-release && echo "${ID:-}")"
codename="${DEBIAN_CODENAME:-$(. /etc/os-release && echo "${VERSION_CODENAME:-}")}"
# Another distribution's codename means nothing to the Debian archive: ask for an explicit one instead of guessing.
[[ "$distro" == debian || -n "${DEBIAN_CODENAME:-}" ]] \
  || fail "this is $distro, not Debian: set DEBIAN_CODENAME (e.g. bookworm) to fetch from Debian's archive anyway"
[[ -n "$codename" ]] || fail "/etc/os-release names no VERSION_CODENAME"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[[ -r "$keyring" ]] || fail "$keyring not found: install debian-archive-keyring"

apt_dir="$cache_dir/apt"
mkdir -p "$apt_dir/etc/sources.list.d" "$apt_dir/etc/preferences.d" "$apt_dir/state/lists/partial" \
         "$apt_dir/cache/archives/partial" "$cache_dir/debs" "$cache_dir/root"
echo "deb [signed-by=$keyring] $mirror $codename non-free" > "$apt_dir/etc/sources.list"

apt_opts=(
  -o "Dir::Etc::SourceList=$apt_dir/etc/sources.list"
  -o "Dir::Etc::SourceParts=$apt_dir/etc/sources.list.d"
  -o "Dir::Etc::PreferencesParts=$apt_dir/etc/preferences.d"
  -o "Dir::State=$apt_dir/state"
  -o "Dir::Cache=$apt_dir/cache"
  -o "Debug::NoLocking=1"
)
# As root apt drops to the _apt user to download, which cannot write into our private folders: stay root instead.
[[ "$(id -u)" == 0 ]] && apt_opts+=(-o "APT::Sandbox::User=root")

log="$cache_dir/fetch.log"
: > "$log"
apt-get "${apt_opts[@]}" --error-on=any update >>"$log" 2>&1 \
  || fail "apt-get update against $mirror $codename non-free failed (log: $log)"$'\n'"$(tail -n 5 "$log")"
(cd "$cache_dir/debs" && apt-get "${apt_opts[@]}" download "${packages[@]}") >>"$log" 2>&1 \
  || fail "apt-get download ${packages[*]} failed (is $codename non-free carrying them? log: $log)"$'\n'"$(tail -n 5 "$log")"

for deb in "$cache_dir"/debs/*.deb; do
  dpkg -x "$deb" "$cache_dir/root" || fail "dpkg -x $deb failed"
done

dir="$(find_lib_dir)" || fail "$lib_name not found after unpacking into $cache_dir/root"
if [[ ! -e "$dir/$builtins_name" ]]; then
  # NVRTC dlopens its builtins by soname; keep it next to libnvrtc so one LD_LIBRARY_PATH entry (or rpath-less
  # loading from the same folder) finds both.
  builtins="$(find "$cache_dir/root" -name "$builtins_name" | head -n 1)"
  [[ -n "$builtins" ]] || fail "$builtins_name not found after unpacking"
  ln -sf "$builtins" "$dir/$builtins_name"
fi
echo "$dir"
