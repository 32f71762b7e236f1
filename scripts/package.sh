#!/usr/bin/env bash
# Builds wirecheck to be copied onto a cluster node (or into a node debugging
# pod), where there is no Swift toolchain and maybe no libpcap:
#   scripts/package.sh [OUTDIR]    -> OUTDIR/wirecheck-linux-ARCH.tar.gz (default dist/)
# The tarball holds bin/wirecheck with the Swift runtime linked in, lib/ with
# every shared library it loads except the C library's own (libpcap and what
# libpcap loads, zlib, libstdc++), and share/doc/ with those libraries'
# copyright files, listed with their Debian versions in share/doc/LIBRARIES
# (for tracking their security updates). It needs the node's glibc, at least the version printed at
# the end; the binary finds lib/ beside it, wherever the tarball is unpacked.
# scripts/check-package.sh runs it where only glibc is installed.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
out=${1:-dist}
arch=$(uname -m)
name=wirecheck-linux-$arch
build=.build-package

# --disable-new-dtags writes DT_RPATH, not DT_RUNPATH: the loader searches an
# executable's RPATH for the libraries its libraries load too (libpcap's
# libdbus), where RUNPATH would cover only the executable's own.
swift build -c release --static-swift-stdlib --build-path "$build" --product wirecheck \
  -Xlinker --disable-new-dtags -Xlinker -rpath -Xlinker '$ORIGIN/../lib'

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/$name
mkdir -p "$root/bin" "$root/lib" "$root/share/doc"
# Debug information stays in the build directory; the symbol table stays in
# the binary, so a crash's backtrace still names functions.
strip --strip-debug -o "$root/bin/wirecheck" "$build/release/wirecheck"

# The C library, its loader and its companions are the host's: they must
# match each other, and every glibc system has them.
glibc_part() {
  case $1 in
    libc.so.* | libm.so.* | libpthread.so.* | libdl.so.* | librt.so.* | libresolv.so.* | ld-linux*) return 0 ;;
  esac
  return 1
}
# The Debian package that installed a library (merged /usr: dpkg may know
# it under /lib or /usr/lib, by its soname link or by its real file).
owner() {
  local candidate real
  real=$(realpath "$1")
  for candidate in "$1" "$real" "${1#/usr}" "/usr${1#/usr}" "${real#/usr}"; do
    dpkg -S "$candidate" 2>/dev/null | head -1 | cut -d: -f1 && return 0
  done
  return 0
}
bundled=()
inventory=$root/share/doc/LIBRARIES
printf '# soname\tDebian package\tversion\n' >"$inventory"
while read -r soname path; do
  glibc_part "$soname" && continue
  cp -L "$path" "$root/lib/$soname"
  bundled+=("$soname")
  package=$(owner "$path")
  version=$([[ -n $package ]] && dpkg-query -W -f='${Version}' "$package" 2>/dev/null || true)
  printf '%s\t%s\t%s\n' "$soname" "${package:-unknown}" "${version:-unknown}" >>"$inventory"
  if [[ -n $package && -f /usr/share/doc/$package/copyright ]]; then
    mkdir -p "$root/share/doc/$package"
    cp "/usr/share/doc/$package/copyright" "$root/share/doc/$package/copyright"
  fi
done < <(ldd "$build/release/wirecheck" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }')

# What the binary needs from glibc: the newest symbol version it, or any
# bundled library, refers to.
glibc=$(for f in "$root/bin/wirecheck" "$root"/lib/*; do objdump -T "$f"; done |
  grep -o 'GLIBC_[0-9][0-9.]*' | sort -u -V | tail -1)
printf 'wirecheck for Linux %s; needs glibc %s or newer.\nBuilt from %s.\n' "$arch" "${glibc#GLIBC_}" \
  "$(git describe --always --dirty 2>/dev/null || echo 'an unknown commit')" >"$root/BUILD"

mkdir -p "$out"
tarball=$(realpath "$out")/$name.tar.gz
tar -C "$stage" --owner=0 --group=0 -czf "$tarball" "$name"
echo "package: $tarball ($(du -h "$tarball" | cut -f1))"
echo "package: bundled ${#bundled[@]} libraries: ${bundled[*]}"
echo "package: needs glibc ${glibc#GLIBC_} or newer"
