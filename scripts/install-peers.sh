#!/usr/bin/env bash
# Installs the local stand-ins the integration tests, the rehearsal and the benchmarks run against:
#   - OpenSSH sshd + client and rclone (Debian packages; Debian pins their versions),
#   - moto[server] and cfn-lint in the ignored venv .peers/venv,
#   - versitygw built with `go install` into a per-machine cache outside the repo (fresh clones reuse it),
#     linked as .peers/bin/versitygw for test/peers/versitygw.ts,
#   - cfn-guard (AWS CloudFormation Guard) built with `cargo install` into the same cache, linked as
#     .peers/bin/cfn-guard (about 15 minutes on 2 busy cores the first time),
#   - clamav and clamav-daemon (Debian packages): clamd and sigtool for the malware scanner's tests.
#   - pure-ftpd (Debian package) and vsftpd (the Debian package unpacked into the peer cache: the two packages
#     conflict, both provide ftp-server), the legacy FTP/FTPS boxes of the FTP source's tests.
# Idempotent: when everything is in place it only checks versions (about a second).
# Prints one line per peer: name, version, path.
set -euo pipefail

# ---- pinned / expected versions ------------------------------------------------------------------
OPENSSH_EXPECTED_MAJOR=9          # Debian 12 ships OpenSSH 9.2p1
RCLONE_EXPECTED_MINOR=1.60        # Debian 12 ships rclone 1.60.1
MOTO_VERSION=5.2.5
CFN_LINT_VERSION=1.58.0
VERSITYGW_MODULE=github.com/versity/versitygw
VERSITYGW_VERSION=v1.8.0
CFN_GUARD_VERSION=3.1.2
CLAMAV_EXPECTED_MINOR=1.4        # Debian 12 ships ClamAV 1.4.x
PURE_FTPD_VERSION=1.0.50-2.1+b2   # Debian 12
VSFTPD_VERSION=3.0.3-13+b2        # Debian 12
# chromium: the browser tests of the HTML reports (driven by playwright-core, which downloads no browser of its own)
# tmux: the terminal tests drive the CLI in a real 120x40 pseudo-terminal
APT_PACKAGES=(openssh-server openssh-client rclone python3-venv busybox clamav clamav-daemon chromium tmux "pure-ftpd=$PURE_FTPD_VERSION" libwrap0)

# Debian's python3 (stable across pyenv changes); SFTP_CUTOVER_PEER_PYTHON overrides.
PYTHON="${SFTP_CUTOVER_PEER_PYTHON:-/usr/bin/python3}"
[ -x "$PYTHON" ] || PYTHON="$(command -v python3)"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEERS_DIR="$ROOT/.peers"
VENV="$PEERS_DIR/venv"
PEER_CACHE="${SFTP_CUTOVER_PEER_CACHE:-$HOME/.cache/sftp-cutover/peers}"
VGW_DIR="$PEER_CACHE/versitygw-$VERSITYGW_VERSION"
VGW_BIN="$VGW_DIR/versitygw"
GUARD_DIR="$PEER_CACHE/cfn-guard-$CFN_GUARD_VERSION"
GUARD_BIN="$GUARD_DIR/bin/cfn-guard"

die() { echo "install-peers: ERROR: $*" >&2; exit 1; }
log() { echo "install-peers: $*" >&2; }
peer_line() { printf '%-10s %-28s %s\n' "$1" "$2" "$3"; }

[ "$(id -u)" = 0 ] || die "must run as root (sshd serves several throwaway users; apt installs packages)"

# ---- apt: sshd, ssh client, rclone, python venv, tmux (terminal tests) ------------------------------------------------
missing=()
for p in "${APT_PACKAGES[@]}"; do
  if [ "$(dpkg-query -W -f='${db:Status-Status}' "${p%%=*}" 2>/dev/null || true)" != installed ]; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Keep the packages' maintainer scripts from starting a system sshd on port 22, clamd or freshclam (no init
  # system here, so invoke-rc.d would start daemons that nothing stops). Only add the guard if none exists.
  policy=/usr/sbin/policy-rc.d
  added_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    added_policy=1
  fi
  trap '[ "$added_policy" = 1 ] && rm -f "$policy"' EXIT
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ "$added_policy" = 1 ]; then rm -f "$policy"; added_policy=0; fi
  trap - EXIT
fi
mkdir -p /run/sshd
chmod 755 /run/sshd

[ -x /usr/sbin/sshd ] || die "/usr/sbin/sshd missing after installing openssh-server"
# (no `| head` in these pipes: with pipefail an early-closing reader makes the writer's SIGPIPE fail the script)
first_match() { grep -o "$1" <<<"$2" | sed -n 1p || true; }
sshd_version="$(first_match 'OpenSSH_[0-9][0-9.p]*' "$(/usr/sbin/sshd -V 2>&1 || true)")"
[[ "$sshd_version" =~ ^OpenSSH_${OPENSSH_EXPECTED_MAJOR}\. ]] \
  || die "expected OpenSSH ${OPENSSH_EXPECTED_MAJOR}.x sshd, found '${sshd_version:-unknown}' (/usr/sbin/sshd -V)"
ssh_version="$(first_match 'OpenSSH_[0-9][0-9.p]*' "$(/usr/bin/ssh -V 2>&1 || true)")"
[[ "$ssh_version" =~ ^OpenSSH_${OPENSSH_EXPECTED_MAJOR}\. ]] \
  || die "expected OpenSSH ${OPENSSH_EXPECTED_MAJOR}.x client, found '${ssh_version:-unknown}' (/usr/bin/ssh -V)"
rclone_version="$(first_match 'v[0-9][0-9.]*[-A-Za-z0-9]*' "$(/usr/bin/rclone version 2>/dev/null || true)")"
[[ "$rclone_version" == "v${RCLONE_EXPECTED_MINOR}."* ]] \
  || die "expected rclone ${RCLONE_EXPECTED_MINOR}.x, found '${rclone_version:-unknown}' (/usr/bin/rclone version)"
clamd_version="$(first_match '[0-9][0-9.]*' "$(/usr/sbin/clamd --version 2>/dev/null || true)")"
[[ "$clamd_version" == "${CLAMAV_EXPECTED_MINOR}."* ]] && [ -x /usr/bin/sigtool ] \
  || die "expected ClamAV ${CLAMAV_EXPECTED_MINOR}.x clamd and sigtool, found '${clamd_version:-unknown}' (/usr/sbin/clamd --version)"
peer_line sshd "$sshd_version" /usr/sbin/sshd
peer_line ssh "$ssh_version" /usr/bin/ssh
peer_line rclone "$rclone_version" /usr/bin/rclone
[ -x /usr/bin/chromium ] || die "/usr/bin/chromium missing after installing chromium"
chromium_version="$(first_match 'Chromium [0-9][0-9.]*' "$(/usr/bin/chromium --version 2>/dev/null || true)")"
peer_line chromium "${chromium_version:-unknown}" /usr/bin/chromium
peer_line clamd "$clamd_version" /usr/sbin/clamd
pure_ftpd_version="$(dpkg-query -W -f='${Version}' pure-ftpd 2>/dev/null || true)"
[ "$pure_ftpd_version" = "$PURE_FTPD_VERSION" ] && [ -x /usr/sbin/pure-ftpd ] && [ -x /usr/bin/pure-pw ] \
  || die "expected pure-ftpd $PURE_FTPD_VERSION, found '${pure_ftpd_version:-none}' (dpkg-query -W pure-ftpd)"
peer_line pure-ftpd "$pure_ftpd_version" /usr/sbin/pure-ftpd

# ---- vsftpd: the Debian package unpacked into the peer cache (it conflicts with pure-ftpd as an installed package) --
VSFTPD_DIR="${SFTP_CUTOVER_PEER_CACHE:-$HOME/.cache/sftp-cutover/peers}/vsftpd-$VSFTPD_VERSION"
if [ ! -x "$VSFTPD_DIR/usr/sbin/vsftpd" ]; then
  log "unpacking vsftpd $VSFTPD_VERSION into $VSFTPD_DIR"
  tmpdeb="$(mktemp -d)"
  (cd "$tmpdeb" && apt-get download -qq "vsftpd=$VSFTPD_VERSION" 2>/dev/null || { apt-get update -qq && apt-get download -qq "vsftpd=$VSFTPD_VERSION"; })
  mkdir -p "$VSFTPD_DIR"
  dpkg -x "$tmpdeb"/vsftpd_*.deb "$VSFTPD_DIR"
  rm -rf "$tmpdeb"
fi
[ -x "$VSFTPD_DIR/usr/sbin/vsftpd" ] || die "vsftpd $VSFTPD_VERSION missing from $VSFTPD_DIR"
mkdir -p "$PEERS_DIR/bin"
ln -sfn "$VSFTPD_DIR/usr/sbin/vsftpd" "$PEERS_DIR/bin/vsftpd"
peer_line vsftpd "$VSFTPD_VERSION" "$VSFTPD_DIR/usr/sbin/vsftpd"

# ---- python venv: moto[server], cfn-lint ---------------------------------------------------------
venv_versions() {
  "$VENV/bin/python" - <<'EOF' 2>/dev/null || true
import importlib.metadata as m
try:
    import flask, flask_cors  # noqa: F401  (the [server] extra)
    print(m.version("moto"), m.version("cfn-lint"))
except Exception:
    pass
EOF
}
want="$MOTO_VERSION $CFN_LINT_VERSION"
have=""
[ -x "$VENV/bin/python" ] && have="$(venv_versions)"
if [ "$have" != "$want" ] || [ ! -x "$VENV/bin/moto_server" ] || [ ! -x "$VENV/bin/cfn-lint" ]; then
  log "python venv $VENV (moto[server]==$MOTO_VERSION cfn-lint==$CFN_LINT_VERSION; had: '${have:-none}')"
  mkdir -p "$PEERS_DIR"
  if ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
    "$PYTHON" -m venv --clear "$VENV" || die "$PYTHON -m venv failed (is python3-venv installed?)"
  fi
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
    "moto[server]==$MOTO_VERSION" "cfn-lint==$CFN_LINT_VERSION"
  have="$(venv_versions)"
  [ "$have" = "$want" ] || die "venv has '$have', expected '$want'"
fi
peer_line moto "$MOTO_VERSION" "$VENV/bin/moto_server"
peer_line cfn-lint "$CFN_LINT_VERSION" "$VENV/bin/cfn-lint"

# ---- versitygw (pinned Go module, cached outside the repo) --------------------------------------
command -v go >/dev/null || [ -x /usr/local/go/bin/go ] || die "go is required to build versitygw"
GO="$(command -v go || echo /usr/local/go/bin/go)"
module_version() { # BINARY MODULE: prints the module's version recorded in a Go binary, or nothing
  [ -x "$1" ] || return 0
  local info
  info="$("$GO" version -m "$1" 2>/dev/null || true)"
  awk -v m="$2" '$1 == "mod" && $2 == m && !found {print $3; found = 1}' <<<"$info"
}
go_build() { # BINARY MODULE/CMD VERSION: go install into a scratch GOBIN beside BINARY, then move the result into place
  local tmpbin
  tmpbin="$(mktemp -d "$(dirname "$1")/build.XXXXXX")"
  GOBIN="$tmpbin" "$GO" install "$2@$3"
  mv -f "$tmpbin/$(basename "$2")" "$1"
  rm -rf "$tmpbin"
}
mkdir -p "$VGW_DIR"
exec 9>"$VGW_DIR/.lock"
flock 9   # two checkouts installing at once build once
if [ "$(module_version "$VGW_BIN" "$VERSITYGW_MODULE")" != "$VERSITYGW_VERSION" ]; then
  reused=""
  for cand in "$("$GO" env GOPATH 2>/dev/null)/bin/versitygw" "$(command -v versitygw || true)"; do
    if [ -n "$cand" ] && [ "$(module_version "$cand" "$VERSITYGW_MODULE")" = "$VERSITYGW_VERSION" ]; then
      log "reusing $cand ($VERSITYGW_VERSION)"
      cp "$cand" "$VGW_BIN.tmp" && mv -f "$VGW_BIN.tmp" "$VGW_BIN"
      reused=1
      break
    fi
  done
  if [ -z "$reused" ]; then
    log "building versitygw $VERSITYGW_VERSION with go install (a few minutes on 2 cores)"
    go_build "$VGW_BIN" "$VERSITYGW_MODULE/cmd/versitygw" "$VERSITYGW_VERSION"
  fi
  [ "$(module_version "$VGW_BIN" "$VERSITYGW_MODULE")" = "$VERSITYGW_VERSION" ] || die "$VGW_BIN is not versitygw $VERSITYGW_VERSION"
fi
exec 9>&-
mkdir -p "$PEERS_DIR/bin"
ln -sfn "$VGW_BIN" "$PEERS_DIR/bin/versitygw"
peer_line versitygw "$VERSITYGW_VERSION" "$VGW_BIN"

# ---- cfn-guard (pinned crate, cached outside the repo) --------------------------------------------
guard_version() { [ -x "$1" ] && "$1" --version 2>/dev/null | awk '{print $2}' || true; }
mkdir -p "$GUARD_DIR"
exec 9>"$GUARD_DIR/.lock"
flock 9   # two checkouts installing at once build once
if [ "$(guard_version "$GUARD_BIN")" != "$CFN_GUARD_VERSION" ]; then
  command -v cargo >/dev/null || [ -x "$HOME/.cargo/bin/cargo" ] || die "cargo is required to build cfn-guard"
  CARGO="$(command -v cargo || echo "$HOME/.cargo/bin/cargo")"
  log "building cfn-guard $CFN_GUARD_VERSION with cargo install (about 15 minutes on 2 cores)"
  tmproot="$(mktemp -d "$GUARD_DIR/build.XXXXXX")"
  "$CARGO" install cfn-guard --version "$CFN_GUARD_VERSION" --locked --root "$tmproot" >&2
  mkdir -p "$GUARD_DIR/bin"
  mv -f "$tmproot/bin/cfn-guard" "$GUARD_BIN"
  rm -rf "$tmproot"
  [ "$(guard_version "$GUARD_BIN")" = "$CFN_GUARD_VERSION" ] || die "$GUARD_BIN is not cfn-guard $CFN_GUARD_VERSION"
fi
exec 9>&-
ln -sfn "$GUARD_BIN" "$PEERS_DIR/bin/cfn-guard"
peer_line cfn-guard "$CFN_GUARD_VERSION" "$GUARD_BIN"

# ---- toxiproxy (pinned Go module, cached outside the repo): the shaped link of bench/wan.ts ------
TOXIPROXY_MODULE=github.com/Shopify/toxiproxy/v2
TOXIPROXY_VERSION=v2.12.0
TP_DIR="$PEER_CACHE/toxiproxy-$TOXIPROXY_VERSION"
TP_BIN="$TP_DIR/toxiproxy-server"
mkdir -p "$TP_DIR"
exec 9>"$TP_DIR/.lock"
flock 9
if [ "$(module_version "$TP_BIN" "$TOXIPROXY_MODULE")" != "$TOXIPROXY_VERSION" ]; then
  log "building toxiproxy-server $TOXIPROXY_VERSION with go install"
  go_build "$TP_BIN" "$TOXIPROXY_MODULE/cmd/server" "$TOXIPROXY_VERSION"
  [ "$(module_version "$TP_BIN" "$TOXIPROXY_MODULE")" = "$TOXIPROXY_VERSION" ] || die "$TP_BIN is not toxiproxy $TOXIPROXY_VERSION"
fi
exec 9>&-
ln -sfn "$TP_BIN" "$PEERS_DIR/bin/toxiproxy-server"
peer_line toxiproxy "$TOXIPROXY_VERSION" "$TP_BIN"
