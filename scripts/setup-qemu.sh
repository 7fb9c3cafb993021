#!/usr/bin/env bash
# Installs what livemig's real-QEMU tests need. Idempotent; needs root.
#
#   * QEMU >= 9.0 (qemu-system-x86). Debian 12's 7.2 loses dirty pages under TCG (upstream fix
#     03bfc2188f, QEMU 9.0), so on bookworm it comes from <codename>-backports. The apt source for
#     backports is derived from the machine's own /etc/apt sources (same mirror, same keyring): no
#     host name is written here.
#   * busybox-static, gcc + static libc, binutils: to build the test guests (qemu-guests/).
#   * a Debian kernel image: the linux-image package is downloaded (not installed) and only its
#     vmlinuz is extracted to $LIVEMIG_QEMU_DIR/vmlinuz.
#
# Usage: sudo scripts/setup-qemu.sh [--force]
# Env:   LIVEMIG_QEMU_DIR (default /var/lib/livemig/qemu): where the kernel and the marker go.
# Exit:  0 when everything is in place; non-zero with a message on stderr otherwise.
set -euo pipefail

SETUP_VERSION=1
MIN_QEMU_MAJOR=9
STATE_DIR="${LIVEMIG_QEMU_DIR:-/var/lib/livemig/qemu}"
MARKER="$STATE_DIR/setup.done"
FORCE=0
[ "${1:-}" = "--force" ] && FORCE=1

die() { echo "setup-qemu: $*" >&2; exit 1; }
log() { echo "setup-qemu: $*" >&2; }

qemu_major() {
  local v
  v=$(qemu-system-x86_64 --version 2>/dev/null | sed -n 's/^QEMU emulator version \([0-9]*\)\..*/\1/p' | head -1)
  echo "${v:-0}"
}

all_present() {
  [ "$(qemu_major)" -ge "$MIN_QEMU_MAJOR" ] && [ -x /bin/busybox ] && busybox --list >/dev/null 2>&1 &&
    command -v gcc >/dev/null && command -v as >/dev/null && command -v ld >/dev/null && command -v xz >/dev/null &&
    [ -f /usr/lib/x86_64-linux-gnu/libc.a ] && [ -s "$STATE_DIR/vmlinuz" ]
}

if [ "$FORCE" = 0 ] && [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$SETUP_VERSION" ] && all_present; then
  exit 0
fi
[ "$(id -u)" = 0 ] || die "must run as root to install packages (try: sudo $0)"
command -v apt-get >/dev/null || die "apt-get not found: only Debian-based machines are supported"

# shellcheck disable=SC1091
. /etc/os-release
CODENAME="${VERSION_CODENAME:-}"
[ -n "$CODENAME" ] || die "cannot tell the Debian codename from /etc/os-release"
export DEBIAN_FRONTEND=noninteractive

# --- backports source, derived from the machine's own sources -----------------------------------
BACKPORTS_FILE=/etc/apt/sources.list.d/livemig-backports.sources
BACKPORTS_LIST=/etc/apt/sources.list.d/livemig-backports.list
have_backports() {
  grep -rqsE "(^|[[:space:]])${CODENAME}-backports([[:space:]]|$)" /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null
}
add_backports() {
  local deb822
  deb822=$(ls /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v livemig-backports || true)
  if [ -n "$deb822" ]; then
    # deb822: keep each stanza whose Suites has the bare codename (the main archive, not
    # -security/-updates), with its URIs and Signed-By, and point it at <codename>-backports.
    # shellcheck disable=SC2086
    awk -v cn="$CODENAME" 'BEGIN { RS = ""; ORS = "\n\n" }
      {
        n = split($0, lines, "\n"); keep = 0; nodeb = 0; out = ""
        for (i = 1; i <= n; i++) {
          if (lines[i] ~ /^Suites:/) {
            m = split(substr(lines[i], 8), s, /[ \t]+/)
            for (j = 1; j <= m; j++) if (s[j] == cn) keep = 1
            lines[i] = "Suites: " cn "-backports"
          }
          if (lines[i] ~ /^Types:/ && lines[i] !~ /(^|[ \t])deb([ \t]|$)/) nodeb = 1
          if (lines[i] ~ /^Types:/) lines[i] = "Types: deb"
          if (lines[i] ~ /^Components:/) lines[i] = "Components: main"
          if (lines[i] !~ /^#/) out = out lines[i] "\n"
        }
        if (keep && !nodeb) printf "%s\n", out
      }' $deb822 >"$BACKPORTS_FILE.tmp"
    if [ -s "$BACKPORTS_FILE.tmp" ]; then mv "$BACKPORTS_FILE.tmp" "$BACKPORTS_FILE"; return 0; fi
    rm -f "$BACKPORTS_FILE.tmp"
  fi
  # One-line format: "deb [opts] URI <codename> components..." -> same URI, <codename>-backports main.
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk -v cn="$CODENAME" '$1 == "deb" {
        i = 2; opts = ""
        if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) { opts = opts $i " "; i++ } opts = opts $i " "; i++ }
        if ($(i + 1) == cn) print "deb " opts $i " " cn "-backports main"
      }' | sort -u >"$BACKPORTS_LIST.tmp"
  if [ -s "$BACKPORTS_LIST.tmp" ]; then mv "$BACKPORTS_LIST.tmp" "$BACKPORTS_LIST"; return 0; fi
  rm -f "$BACKPORTS_LIST.tmp"
  return 1
}

# Which suite offers a new-enough QEMU: the default one (trixie and later) or backports (bookworm).
candidate_major() {
  apt-cache policy qemu-system-x86 2>/dev/null | sed -n "s/^ *Candidate: [0-9]*:\{0,1\}\([0-9]*\)\..*/\1/p" | head -1
}
updated=0
apt_update() { [ "$updated" = 1 ] || { log "apt-get update"; apt-get update -qq >&2; updated=1; }; }

QEMU_TARGET=()
if [ "$(qemu_major)" -lt "$MIN_QEMU_MAJOR" ]; then
  apt_update
  if [ "$(candidate_major)" -lt "$MIN_QEMU_MAJOR" ] 2>/dev/null || [ -z "$(candidate_major)" ]; then
    if ! have_backports; then
      add_backports || die "could not derive a ${CODENAME}-backports source from /etc/apt (no Debian archive entry for '$CODENAME' found)"
      log "added ${CODENAME}-backports from the machine's own apt sources"
      updated=0
      apt_update
    fi
    QEMU_TARGET=(-t "${CODENAME}-backports")
  fi
fi

PKGS=()
[ "$(qemu_major)" -ge "$MIN_QEMU_MAJOR" ] || PKGS+=(qemu-system-x86)
{ [ -x /bin/busybox ] && busybox --list >/dev/null 2>&1; } || PKGS+=(busybox-static)
command -v gcc >/dev/null || PKGS+=(gcc)
{ command -v as >/dev/null && command -v ld >/dev/null; } || PKGS+=(binutils)
[ -f /usr/lib/x86_64-linux-gnu/libc.a ] || PKGS+=(libc6-dev)
command -v xz >/dev/null || PKGS+=(xz-utils)  # to unpack the kernel for a fast PVH boot
if [ ${#PKGS[@]} -gt 0 ]; then
  apt_update
  log "installing ${PKGS[*]} ${QEMU_TARGET[*]}"
  # -t only raises the priority of backports: packages not in it still come from the main suite.
  apt-get install -y -qq --no-install-recommends "${QEMU_TARGET[@]}" "${PKGS[@]}" >&2 ||
    die "apt-get install ${PKGS[*]} failed"
fi
[ "$(qemu_major)" -ge "$MIN_QEMU_MAJOR" ] ||
  die "QEMU $(qemu_major) is installed but >= $MIN_QEMU_MAJOR.0 is required (7.2 loses dirty pages under TCG)"

# --- Debian kernel image, extracted from the downloaded package ----------------------------------
if [ ! -s "$STATE_DIR/vmlinuz" ]; then
  apt_update
  mkdir -p "$STATE_DIR"
  pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -1)
  [ -n "$pkg" ] || die "cannot resolve linux-image-amd64 to a kernel package"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  chown _apt "$tmp" 2>/dev/null || true  # apt's sandbox user writes the download
  log "downloading $pkg for its vmlinuz"
  (cd "$tmp" && apt-get download -qq "$pkg" >&2) || die "apt-get download $pkg failed"
  deb=$(ls "$tmp"/*.deb)
  member=$(dpkg-deb --fsys-tarfile "$deb" | tar -t | grep -E '^\./boot/vmlinuz-' | head -1)
  [ -n "$member" ] || die "$pkg has no /boot/vmlinuz-*"
  dpkg-deb --fsys-tarfile "$deb" | tar -xO "$member" >"$STATE_DIR/vmlinuz.tmp"
  mv "$STATE_DIR/vmlinuz.tmp" "$STATE_DIR/vmlinuz"
  basename "$member" >"$STATE_DIR/vmlinuz.version"
fi

all_present || die "setup finished but something is still missing (qemu >= $MIN_QEMU_MAJOR, busybox, gcc, libc.a, $STATE_DIR/vmlinuz)"
echo "$SETUP_VERSION" >"$MARKER"
log "ready: $(qemu-system-x86_64 --version | head -1); kernel $(cat "$STATE_DIR/vmlinuz.version" 2>/dev/null)"
