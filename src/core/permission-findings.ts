/**
 * What S3 and Transfer Family cannot carry about a file beyond its bytes: POSIX permissions they do not enforce
 * (mode 000, owner-only files in a tree the group shares, setuid/setgid bits), hard links (each name becomes an
 * independent object), and the homes' .ssh directories (the legacy login's keys, which sync leaves out by default).
 * Pure logic, no I/O.
 */
import {displayPath} from './findings.js'
import type {FileEntry, Finding} from './inventory-model.js'

/** A home's own .ssh directory (relative to the home): sync leaves it out unless --include-ssh-dirs. */
export const SSH_DIR = '.ssh'

const FIX = {
  unreadable: 'On Transfer, every user who can reach this home reads it: restrict the home (logical directory mapping, scope-down policy) or move the file out before migrating.',
  ownerOnly: 'On Transfer, every user who can reach this directory reads the file: move it to a place only its owner reaches (its own home or logical mapping) before migrating.',
  setuid: 'S3 objects have no modes: the bit is kept in the object metadata only. Nothing to do unless something executes the file from EFS.',
  hardLink: 'Each name becomes its own object: a change through one name no longer shows in the others. Keep one name (sync --exclude the others) or have the application write each.',
  sshDir: 'sync leaves it out (Transfer keys come from users import); pass sync --include-ssh-dirs to copy it anyway.',
} as const

/**
 * Findings for one listed entry. `groupShared`: its directory can be listed and entered by the group (mode g+rx);
 * `links`: its hard link count, when the server says (the long listing of SFTP v3).
 */
export function permissionFindings(e: FileEntry, ctx: {groupShared: boolean; links?: number}): Finding[] {
  const out: Finding[] = []
  const subject = `file:${e.owner}:${displayPath(e.path)}`
  const mode = e.mode & 0o7777
  const octal = mode.toString(8).padStart(4, '0')
  if (e.type === 'dir' && e.path.toString('latin1') === SSH_DIR) {
    out.push({rule: 'file.ssh-dir', severity: 'info', subject, reason: 'the home\'s .ssh directory (keys and settings of the legacy login)', fix: FIX.sshDir})
  }
  if (e.type !== 'file' && e.type !== 'dir') return out
  if ((mode & 0o777) === 0) {
    out.push({rule: 'file.mode-000', severity: 'warning', subject, reason: `mode ${octal}: no one but root may read it on the box; S3 and Transfer cannot keep it unreadable`, fix: FIX.unreadable})
  } else if (e.type === 'file' && (mode & 0o077) === 0 && ctx.groupShared) {
    out.push({rule: 'file.owner-only-in-shared-dir', severity: 'warning', subject, reason: `mode ${octal} (owner only) in a directory its group shares: S3 and Transfer do not enforce per-file permissions`, fix: FIX.ownerOnly})
  }
  if (e.type === 'file' && (mode & 0o6000) !== 0) {
    out.push({rule: 'file.setuid', severity: 'warning', subject, reason: `mode ${octal}: ${(mode & 0o4000) !== 0 ? 'setuid' : 'setgid'} bit`, fix: FIX.setuid})
  }
  if (e.type === 'file' && ctx.links !== undefined && ctx.links > 1) {
    out.push({rule: 'file.hard-link', severity: 'warning', subject, reason: `${ctx.links} hard links: each linked name is copied as a separate object`, fix: FIX.hardLink})
  }
  return out
}
