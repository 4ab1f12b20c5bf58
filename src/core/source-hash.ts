/**
 * Source-side hashing over SSH exec: many files per command. Paths go NUL-separated on stdin and come back
 * byte-exact: `sha256sum -z` ends each line with NUL and does not escape names (a name may hold a newline).
 */

/** Reads NUL-separated absolute paths on stdin; prints "<hex>  <path>\0" per file it could read. */
export const SHA256SUM_COMMAND = 'LC_ALL=C xargs -0 sha256sum -z --'

export function sha256sumInput(paths: Buffer[]): Buffer {
  return Buffer.concat(paths.flatMap((p) => [p, Buffer.from([0])]))
}

/** path bytes (as latin1, one char per byte) -> hex digest. Lines that do not parse are ignored. */
export function parseSha256sumOutput(out: Buffer): Map<string, string> {
  const result = new Map<string, string>()
  let start = 0
  for (let i = 0; i < out.length; i++) {
    if (out[i] !== 0) continue
    const line = out.subarray(start, i)
    start = i + 1
    // "<64 hex> <space or *><path>"
    if (line.length < 67 || line[64] !== 0x20 || (line[65] !== 0x20 && line[65] !== 0x2a)) continue
    const hex = line.subarray(0, 64).toString('latin1')
    if (!/^[0-9a-f]{64}$/.test(hex)) continue
    result.set(line.subarray(66).toString('latin1'), hex)
  }
  return result
}
