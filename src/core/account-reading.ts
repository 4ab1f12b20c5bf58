/**
 * Whether an inventory read the box's accounts completely. A run that read them only in part (sshd's configuration
 * unreadable or not the one serving the port, sshd -T failing, passwd or key files unreadable) must not make
 * accounts or keys look removed, nor let anything delete on its word. Pure logic, no I/O.
 */

/** Notes (the collector's errors as bundle.ts words them) that mean accounts or keys may be missing from the run. */
const INCOMPLETE = [
  /^collector: cannot read /,
  /^collector: sshd -T failed/,
  /^collector: sshd not found/,
  /^collector: cannot tell which process serves port/,
  /^collector: port \d+ is served by /,
  /^passwd: cannot read line/,
  /: (not readable by uid \d+|cannot look into .* as uid \d+)$/,
]

/** The readings that failed, from how accounts were read and the notes of that reading; empty when complete. */
export function incompleteReadings(source: 'online' | 'bundle' | 'csv' | 'ftp-users-file' | 'none', notes: string[]): string[] {
  if (source === 'none') return [notes[0] ?? 'accounts were not read']
  if (source === 'csv' || source === 'ftp-users-file') return []
  return notes.filter((n) => INCOMPLETE.some((re) => re.test(n)))
}

/** What to do about an incomplete reading, for findings and refusals. */
export function completeReadingFix(port: number): string {
  return (
    'Fix the reading named above, then run the inventory again: as root, or as sftp-cutover inventory --sshd-config FILE ' +
    `with the configuration of the sshd serving port ${port} (\`sshd -T -f FILE\` must accept it), or offline as ` +
    'sftp-cutover inventory --from-bundle FILE or sftp-cutover inventory --users-csv FILE.'
  )
}
