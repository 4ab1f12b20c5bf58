/**
 * The collector: a POSIX sh script an administrator runs on the legacy box (or inventory runs over SSH with
 * `sh -s`) that prints one JSON "bundle" describing accounts, sshd's configuration and authorized keys.
 * It is plain text here so it can be reviewed, shown with --print-script and piped anywhere; bundle.ts reads
 * what it prints.
 */

export const BUNDLE_FORMAT = 'sftp-cutover-bundle'
export const BUNDLE_VERSION = 1

export interface CollectScriptOptions {
  /**
   * sshd's configuration file. The script's first argument overrides it. Default: the configuration of the sshd
   * listening on `port` (its -f argument), else /etc/ssh/sshd_config.
   */
  sshdConfig?: string
  /** The port clients connect to: the script reads the configuration (and uses the binary) of the sshd serving it. */
  port?: number
  /** sshd binary for `sshd -T`; default: sshd on PATH, else /usr/sbin/sshd or /usr/local/sbin/sshd */
  sshdBinary?: string
}

/** Single-quotes a value for sh. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`
}

// awk functions shared by the programs below. j() escapes a string for JSON: backslash, double quote and the
// control characters 0x01-0x1f (as \uXXXX); bytes >= 0x80 pass through (the files read are expected to be UTF-8).
const JSON_AWK_LIB = String.raw`
function jinit(   i) {
  for (i = 1; i < 32; i++) esc[sprintf("%c", i)] = sprintf("\\u%04x", i)
  esc["\\"] = "\\\\"; esc["\""] = "\\\""
  ctrl = "["; for (i = 1; i < 32; i++) ctrl = ctrl sprintf("%c", i); ctrl = ctrl "]"
}
function j(s,   out, i, n, c) {
  if (index(s, "\\") == 0 && index(s, "\"") == 0 && s !~ ctrl) return s
  out = ""; n = length(s)
  for (i = 1; i <= n; i++) { c = substr(s, i, 1); out = out ((c in esc) ? esc[c] : c) }
  return out
}
BEGIN { jinit() }
`

const SCRIPT_BODY = String.raw`
LC_ALL=C; export LC_ALL
umask 077
[ -n "\${1:-}" ] && SSHD_CONFIG=$1
NL='
'
ERRORS=''
err() { ERRORS="$ERRORS$*$NL"; }
have() { command -v "$1" >/dev/null 2>&1; }

JSON_LIB='__JSON_AWK_LIB__'
# The whole input as one JSON string. The input ends with a sentinel "x" so that a missing final newline is kept.
JSON_STR_AWK="$JSON_LIB"'
BEGIN { printf "\"" }
NR > 1 { printf "%s%s", (NR > 2 ? "\\n" : ""), j(prev) }
{ prev = $0 }
END { printf "%s%s\"", (NR > 1 ? "\\n" : ""), j(substr(prev, 1, length(prev) - 1)) }'
# Non-empty input lines as a JSON array of strings.
JSON_LINES_AWK="$JSON_LIB"'
BEGIN { printf "[" }
$0 != "" { printf "%s\"%s\"", (n++ ? "," : ""), j($0) }
END { printf "]" }'

json_str() { printf '%sx' "$1" | awk "$JSON_STR_AWK"; }
json_file() { { tr -d '\000' < "$1"; printf x; } | awk "$JSON_STR_AWK"; }
json_lines() { awk "$JSON_LINES_AWK"; }

MY_UID=$(id -u)
IS_ROOT=0
[ "$MY_UID" = 0 ] && IS_ROOT=1
[ "$IS_ROOT" = 1 ] || err "collected as uid $MY_UID, not root: password states are unknown, sshd -T may fail and other users' files may be unreadable; run as root for full results"

if have getent; then
  PASSWD=$(getent passwd 2>/dev/null)
  GROUPS_DB=$(getent group 2>/dev/null)
fi
[ -n "\${PASSWD:-}" ] || PASSWD=$(cat /etc/passwd 2>/dev/null) || err "cannot read /etc/passwd"
[ -n "\${GROUPS_DB:-}" ] || GROUPS_DB=$(cat /etc/group 2>/dev/null) || err "cannot read /etc/group"

shadow_db() {
  [ "$IS_ROOT" = 1 ] && have getent && getent shadow 2>/dev/null
  [ -r /etc/shadow ] && cat /etc/shadow 2>/dev/null
}

UID_LIMITS=$(awk '$1 == "UID_MIN" && $2 ~ /^[0-9]+$/ { min = $2 } $1 == "UID_MAX" && $2 ~ /^[0-9]+$/ { max = $2 }
  END { print (min == "" ? 1000 : min) " " (max == "" ? 60000 : max) }' /etc/login.defs 2>/dev/null)
[ -n "$UID_LIMITS" ] || UID_LIMITS='1000 60000'
UID_MIN=\${UID_LIMITS% *}
UID_MAX=\${UID_LIMITS#* }

# Accounts worth asking sshd about: uid 0 and uids in [UID_MIN, UID_MAX]. "name:uid:home" lines.
CANDIDATES=$(printf '%s\n' "$PASSWD" | awk -F: -v min="$UID_MIN" -v max="$UID_MAX" \
  'NF >= 6 && !seen[$1]++ && ($3 + 0 == 0 || ($3 + 0 >= min && $3 + 0 <= max)) { print $1 ":" $3 ":" $6 }')

# ---- the sshd that serves the port clients use: its binary and its -f configuration --------------------
# Not only /etc/ssh/sshd_config: a box may run its SFTP sshd with another file (or several sshds). The listening
# process is found with ss, else through /proc (the socket inode of a LISTEN entry, then the fd that holds it).
if [ -z "$SSHD_CONFIG" ] && [ -n "$SERVE_PORT" ]; then
  PID=''
  have ss && PID=$(ss -ltnpH "sport = :$SERVE_PORT" 2>/dev/null | sed -n 's/.*pid=\([0-9][0-9]*\).*/\1/p' | sed -n 1p)
  if [ -z "$PID" ] && [ -r /proc/net/tcp ]; then
    HEXPORT=$(printf '%04X' "$SERVE_PORT")
    for inode in $(awk -v p="$HEXPORT" '$4 == "0A" { n = split($2, a, ":"); if (a[n] == p) print $10 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null); do
      for fd in /proc/[0-9]*/fd/*; do
        if [ "$(readlink "$fd" 2>/dev/null)" = "socket:[$inode]" ]; then PID=\${fd#/proc/}; PID=\${PID%%/*}; break 2; fi
      done
    done
  fi
  if [ -z "$PID" ]; then
    err "cannot tell which process serves port $SERVE_PORT (ss and /proc show no listener to uid $MY_UID): its sshd configuration is unknown"
  else
    EXE=$(readlink "/proc/$PID/exe" 2>/dev/null)
    case \${EXE##*/} in
      sshd*) ;;
      *) err "port $SERVE_PORT is served by \${EXE:-process $PID}, not OpenSSH sshd: accounts cannot be read from an sshd configuration" ;;
    esac
    # Its arguments, NUL-separated; sshd also rewrites them into one title line ("sshd: /usr/sbin/sshd -f FILE [listener] ...").
    SSHD_CONFIG=$(tr '\000' '\n' < "/proc/$PID/cmdline" 2>/dev/null |
      awk '{ if (prev == "-f") { print; exit } if ($0 ~ /^-f./) { print substr($0, 3); exit } for (i = 1; i < NF; i++) if ($i == "-f") { print $(i + 1); exit } prev = $0 }')
    case $SSHD_CONFIG in
      '') SSHD_CONFIG=/etc/ssh/sshd_config ;;
      /*) ;;
      *) SSHD_CONFIG=$(readlink "/proc/$PID/cwd" 2>/dev/null)/$SSHD_CONFIG ;;
    esac
    # The running binary (unless it was replaced since it started) answers sshd -T as the server does.
    [ -z "\${SSHD_BIN:-}" ] && [ -x "$EXE" ] && SSHD_BIN=$EXE
  fi
fi
[ -n "$SSHD_CONFIG" ] || SSHD_CONFIG=/etc/ssh/sshd_config

if [ -z "\${SSHD_BIN:-}" ]; then
  SSHD_BIN=$(command -v sshd 2>/dev/null)
  for b in /usr/sbin/sshd /usr/local/sbin/sshd; do [ -z "$SSHD_BIN" ] && [ -x "$b" ] && SSHD_BIN=$b; done
fi
[ -n "$SSHD_BIN" ] || err "sshd not found: effective settings must be derived from sshd_config"

# ---- header, accounts -----------------------------------------------------------------------------------
printf '{"format":"${BUNDLE_FORMAT}","version":${BUNDLE_VERSION}'
printf ',"collectedAt":%s' "$(json_str "$(date -u +%Y-%m-%dT%H:%M:%SZ)")"
printf ',"hostname":%s' "$(json_str "$(uname -n)")"
printf ',"uid":%s' "$MY_UID"
# Field 2 (a password hash on old systems) is never copied: it becomes "x"; its state goes to "shadow".
printf ',"passwd":'
printf '%s\n' "$PASSWD" | awk -F: 'BEGIN { OFS = ":" } NF > 1 { $2 = "x" } { print }' | json_lines
printf ',"group":'
printf '%s\n' "$GROUPS_DB" | awk -F: 'BEGIN { OFS = ":" } NF > 1 { $2 = "x" } { print }' | json_lines
# Only a state per user leaves this pipe, never the hash.
printf ',"shadow":'
{ shadow_db | sed 's/^/S:/'; printf '%s\n' "$PASSWD" | sed 's/^/P:/'; } | awk -F: "$JSON_LIB"'
function state(h) {
  if (h == "") return "nopassword"
  if (substr(h, 1, 1) == "!") return "locked"
  # crypt(3) hashes: $id$..., BSDi _..., or traditional DES (13 characters)
  if (h ~ /^\$[0-9a-z]+\$/ || h ~ /^_/ || (length(h) == 13 && h ~ /^[.\/0-9A-Za-z]+$/)) return "set"
  return "nopassword"
}
BEGIN { printf "[" }
$1 == "S" && NF >= 3 && !($2 in st) { st[$2] = state($3) }
$1 == "P" && NF >= 3 && !done[$2]++ {
  s = ($2 in st) ? st[$2] : ($3 != "x" ? state($3) : "unknown")
  printf "%s{\"user\":\"%s\",\"state\":\"%s\"}", (n++ ? "," : ""), j($2), s
}
END { printf "]" }'
printf ',"loginDefs":{"uidMin":%s,"uidMax":%s}' "$UID_MIN" "$UID_MAX"

# ---- sshd_config and the files it includes ---------------------------------------------------------------
include_args() {
  awk '{ sub(/^[ \t]+/, "") } tolower($1) == "include" { for (i = 2; i <= NF; i++) { if ($i ~ /^#/) break; a = $i; gsub(/"/, "", a); print a } }' "$1" 2>/dev/null
}
CONFIG_FILES=''
INCLUDED=''
if [ -r "$SSHD_CONFIG" ]; then
  CONFIG_FILES="$SSHD_CONFIG$NL"
  queue=$SSHD_CONFIG
  depth=0
  while [ -n "$queue" ] && [ "$depth" -lt 16 ]; do
    next=''
    OLD_IFS=$IFS; IFS=$NL; set -f
    for f in $queue; do
      for arg in $(include_args "$f"); do
        case $arg in /*) pattern=$arg ;; *) pattern=/etc/ssh/$arg ;; esac
        set +f
        for inc in $pattern; do
          [ -e "$inc" ] || continue
          case "$NL$CONFIG_FILES" in *"$NL$inc$NL"*) continue ;; esac
          CONFIG_FILES="$CONFIG_FILES$inc$NL"
          INCLUDED="$INCLUDED$inc$NL"
          next="$next$inc$NL"
        done
        set -f
      done
    done
    set +f; IFS=$OLD_IFS
    queue=$next
    depth=$((depth + 1))
  done
  printf ',"sshdConfig":{"path":%s,"text":%s,"includes":{' "$(json_str "$SSHD_CONFIG")" "$(json_file "$SSHD_CONFIG")"
  sep=''
  OLD_IFS=$IFS; IFS=$NL; set -f
  for inc in $INCLUDED; do
    if [ -r "$inc" ] && [ -f "$inc" ]; then
      printf '%s%s:%s' "$sep" "$(json_str "$inc")" "$(json_file "$inc")"
      sep=','
    else
      err "cannot read $inc (included by sshd_config)"
    fi
  done
  set +f; IFS=$OLD_IFS
  printf '}}'
else
  err "cannot read $SSHD_CONFIG"
  printf ',"sshdConfig":{"path":%s,"text":"","includes":{}}' "$(json_str "$SSHD_CONFIG")"
fi

# ---- sshd -T per candidate account --------------------------------------------------------------------
# sshd -T refuses a config with Match LocalPort/LocalAddress unless lport/laddr are given: use the first Port.
SSHD_PORT=$(printf '%s' "$CONFIG_FILES" | while IFS= read -r f; do
  awk '{ sub(/^[ \t]+/, "") } tolower($1) == "match" { exit } tolower($1) == "port" && $2 ~ /^[0-9]+$/ { print $2; exit }' "$f" 2>/dev/null
done | sed -n 1p)
[ -n "\${PID:-}" ] && SSHD_PORT=$SERVE_PORT
[ -n "$SSHD_PORT" ] || SSHD_PORT=22
SPEC_REST="host=localhost,addr=127.0.0.1,laddr=127.0.0.1,lport=$SSHD_PORT"
# AKF holds "user<TAB>authorizedkeysfile value" for the accounts sshd -T answered for.
TAB=$(printf '\t')
AKF=''
HOSTKEY_PATHS=''
printf ',"sshdT":{'
if [ -n "$SSHD_BIN" ]; then
  sep=''
  OLD_IFS=$IFS; IFS=$NL; set -f
  for c in $CANDIDATES; do
    u=\${c%%:*}
    if out=$("$SSHD_BIN" -T -f "$SSHD_CONFIG" -C "user=$u,$SPEC_REST" 2>/dev/null); then
      printf '%s%s:%s' "$sep" "$(json_str "$u")" "$(json_str "$out")"
      sep=','
      AKF="$AKF$u$TAB$(printf '%s\n' "$out" | awk '$1 == "authorizedkeysfile" { sub(/^authorizedkeysfile[ \t]*/, ""); print; exit }')$NL"
      [ -n "$HOSTKEY_PATHS" ] || HOSTKEY_PATHS=$(printf '%s\n' "$out" | awk '$1 == "hostkey" { sub(/^hostkey[ \t]*/, ""); print }')
    else
      msg=$("$SSHD_BIN" -T -f "$SSHD_CONFIG" -C "user=$u,$SPEC_REST" 2>&1 >/dev/null | tr -s '\r\n' '  ')
      err "sshd -T failed (for $u, not tried for the others): $msg"
      break
    fi
  done
  set +f; IFS=$OLD_IFS
fi
printf '}'

# Every AuthorizedKeysFile value in any config file, plus the defaults, collected for every user (with or without
# sshd -T): the reader decides which files are in effect for whom, and reports keys in the others as dead.
CONFIG_AKF=$({ printf '.ssh/authorized_keys\n.ssh/authorized_keys2\n'
  printf '%s' "$CONFIG_FILES" | while IFS= read -r f; do
    awk '{ sub(/^[ \t]+/, "") } tolower($1) == "authorizedkeysfile" { for (i = 2; i <= NF; i++) { if ($i ~ /^#/) break; if (tolower($i) != "none") print $i } }' "$f" 2>/dev/null
  done; } | awk '!seen[$0]++' | tr '\n' ' ')

# ---- authorized keys files ------------------------------------------------------------------------------
# Expands %% %u %h %U and makes relative paths relative to the home, as sshd does. Values come from ENVIRON so
# that backslashes are not interpreted.
EXPAND_AWK='
function expand(s,   out, i, n, c, t, h) {
  out = ""; n = length(s)
  for (i = 1; i <= n; i++) {
    c = substr(s, i, 1)
    if (c == "%" && i < n) {
      t = substr(s, ++i, 1)
      if (t == "%") out = out "%"; else if (t == "u") out = out ENVIRON["AK_USER"]; else if (t == "h") out = out ENVIRON["AK_HOME"]; else if (t == "U") out = out ENVIRON["AK_UID"]; else out = out "%" t
    } else out = out c
  }
  if (substr(out, 1, 1) != "/") { h = ENVIRON["AK_HOME"]; sub(/\/+$/, "", h); out = h "/" out }
  return out
}
{ for (i = 1; i <= NF; i++) if (tolower($i) != "none") print expand($i) }'

printf ',"authorizedKeys":{'
usep=''
OLD_IFS=$IFS; IFS=$NL; set -f
for c in $CANDIDATES; do
  u=\${c%%:*}; rest=\${c#*:}; uid=\${rest%%:*}; home=\${rest#*:}
  values=$(printf '%s' "$AKF" | awk -F"$TAB" -v u="$u" '$1 == u { print $2; exit }')
  # Also the files sshd does not read for this user (the defaults, other Match blocks): keys there are reported as dead.
  values="$values$NL$CONFIG_AKF"
  paths=$(printf '%s\n' "$values" | AK_USER=$u AK_HOME=$home AK_UID=$uid awk "$EXPAND_AWK" | awk '!seen[$0]++')
  entries=''
  for p in $paths; do
    if [ -f "$p" ] && [ -r "$p" ]; then
      entries="$entries\${entries:+,}{\"path\":$(json_str "$p"),\"text\":$(json_file "$p")}"
    elif [ -e "$p" ]; then
      entries="$entries\${entries:+,}{\"path\":$(json_str "$p"),\"error\":$(json_str "not readable by uid $MY_UID")}"
    else
      d=\${p%/*}
      if [ -n "$d" ] && [ -d "$d" ] && [ ! -x "$d" ]; then
        entries="$entries\${entries:+,}{\"path\":$(json_str "$p"),\"error\":$(json_str "cannot look into $d as uid $MY_UID")}"
      fi
    fi
  done
  if [ -n "$entries" ]; then
    printf '%s%s:[%s]' "$usep" "$(json_str "$u")" "$entries"
    usep=','
  fi
done
set +f; IFS=$OLD_IFS
printf '}'

# ---- host public keys (.pub next to each HostKey) -------------------------------------------------------
if [ -z "$HOSTKEY_PATHS" ]; then
  HOSTKEY_PATHS=$(printf '%s' "$CONFIG_FILES" | while IFS= read -r f; do
    awk '{ sub(/^[ \t]+/, "") } tolower($1) == "match" { exit } tolower($1) == "hostkey" && NF >= 2 { print $2 }' "$f" 2>/dev/null
  done)
fi
[ -n "$HOSTKEY_PATHS" ] || HOSTKEY_PATHS="/etc/ssh/ssh_host_rsa_key$NL/etc/ssh/ssh_host_ecdsa_key$NL/etc/ssh/ssh_host_ed25519_key"
printf ',"hostKeys":['
sep=''
OLD_IFS=$IFS; IFS=$NL; set -f
for k in $HOSTKEY_PATHS; do
  # Only ever the public half.
  if [ -f "$k.pub" ] && [ -r "$k.pub" ]; then
    printf '%s{"path":%s,"text":%s}' "$sep" "$(json_str "$k.pub")" "$(json_file "$k.pub")"
    sep=','
  fi
done
set +f; IFS=$OLD_IFS
printf ']'

printf ',"errors":'
printf '%s' "$ERRORS" | json_lines
printf '}\n'
`

/**
 * The collector script. Runs under dash, bash and busybox sh with POSIX awk, sed, tr, cat, id, date and uname
 * (getent when present). Prints one bundle (see bundle.ts) on stdout and nothing else; every problem goes into
 * the bundle's `errors`. It never prints a password hash (shadow is reduced to a state per account) nor a private
 * key (only `.pub` host keys are read; authorized keys files hold public keys). As non-root it still succeeds,
 * with password states 'unknown' and an error saying so. Bytes >= 0x80 are copied as they are, so the files it
 * reads are expected to be UTF-8 (a JSON reader replaces invalid sequences); NUL bytes are dropped.
 */
export function collectScript(opts: CollectScriptOptions = {}): string {
  const header = [
    '#!/bin/sh',
    `# sftp-cutover collector (bundle format ${BUNDLE_VERSION}). Run on the legacy SFTP box, as root for full results:`,
    '#   sh collect.sh [/path/to/sshd_config] > bundle.json',
    '# Prints one JSON document; never prints password hashes or private keys. Text is copied as it is (expected',
    '# to be UTF-8; bytes >= 0x80 pass through unchecked), NUL bytes are dropped.',
    `SSHD_CONFIG=${opts.sshdConfig ? shellQuote(opts.sshdConfig) : "''"}`,
    `SERVE_PORT=${opts.port ?? "''"}`,
    `SSHD_BIN=${opts.sshdBinary ? shellQuote(opts.sshdBinary) : "''"}`,
  ].join('\n')
  // The awk library is embedded in a single-quoted shell string: it must not contain a single quote.
  if (JSON_AWK_LIB.includes("'")) throw new Error('collect script: the awk library must not contain single quotes')
  // The body is a String.raw template: shell's ${...} is written \${...} there and unescaped here.
  return `${header}\n${SCRIPT_BODY.replaceAll('\\${', '${').replace('__JSON_AWK_LIB__', JSON_AWK_LIB)}`
}
