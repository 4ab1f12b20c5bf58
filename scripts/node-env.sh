# Sourced by the project's scripts: puts the pinned Node.js first on PATH, installing it on first use into .node/
# (project-local; the machine's own Node is left alone). The binary comes from the npm registry's node-<os>-<arch>
# package, the one the `node` package itself installs; `npm pack` checks it against the registry's integrity hash.
# The machine's npm runs the download under whatever Node it has; from then on npm, npx and every script run on
# this Node (npm's shebang finds `node` on PATH).
SFTP_CUTOVER_NODE_VERSION=24.21.0

sftp_cutover_node_env() {
  local root node_dir os arch pkg tmp have
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  node_dir="$root/.node"
  have="$("$node_dir/bin/node" --version 2>/dev/null || true)"
  if [ "$have" != "v$SFTP_CUTOVER_NODE_VERSION" ]; then
    os="$(uname -s | tr '[:upper:]' '[:lower:]')"
    case "$(uname -m)" in
      x86_64) arch=x64 ;;
      aarch64 | arm64) arch=arm64 ;;
      *) echo "node-env: no Node.js package for $(uname -m)" >&2; return 1 ;;
    esac
    pkg="node-$os-$arch@$SFTP_CUTOVER_NODE_VERSION"
    command -v npm >/dev/null || { echo "node-env: npm is needed once to fetch $pkg (any Node.js with npm will do)" >&2; return 1; }
    echo "node-env: installing Node.js $SFTP_CUTOVER_NODE_VERSION ($pkg from the npm registry) into $node_dir" >&2
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "$pkg" >/dev/null) || { rm -rf "$tmp"; echo "node-env: npm pack $pkg failed" >&2; return 1; }
    rm -rf "$node_dir.partial"
    mkdir -p "$node_dir.partial"
    tar -xzf "$tmp"/node-*.tgz -C "$node_dir.partial" --strip-components=1 package/bin package/LICENSE
    rm -rf "$tmp" "$node_dir"
    mv "$node_dir.partial" "$node_dir"
    have="$("$node_dir/bin/node" --version)"
    [ "$have" = "v$SFTP_CUTOVER_NODE_VERSION" ] || { echo "node-env: $node_dir/bin/node is $have" >&2; return 1; }
  fi
  export PATH="$node_dir/bin:$PATH"
}

sftp_cutover_node_env
