import {Flags} from '@oclif/core'

import {usageError} from '../core/errors.js'
import type {HomeMode} from '../core/users-plan.js'
import type {UsersOptions} from '../services/users.js'

/** Flags shared by users plan and users import. */
export const usersFlags = {
  only: Flags.string({summary: 'Only these users (legacy or Transfer names), comma-separated.', delimiter: ',', multiple: true}),
  rename: Flags.string({
    summary: 'Import a legacy user under another Transfer name: LEGACY=NEW (repeatable). Remembered once applied; its files stay under home/LEGACY/.',
    multiple: true,
  }),
  'allow-no-keys': Flags.boolean({summary: 'Also create users that have no usable SSH key (they cannot log in until one is added).', default: false}),
  'home-mode': Flags.option({
    options: ['logical', 'path'] as const,
    summary: 'logical (default): the legacy paths through logical home directories; path: /<bucket>/<prefix>/home/<user> with a scope-down session policy. Remembered once applied.',
  })(),
  'import-dead-keys': Flags.string({
    summary: 'Also import the keys of these users that sshd ignores today (wrong file or format, expired, ...), comma-separated. An accepted risk: remembered once applied and listed in the migration report.',
    delimiter: ',',
    multiple: true,
  }),
  'accept-key-options': Flags.string({
    summary: 'Import the keys of these users without the authorized_keys options that restrict them (from=, command=, expiry-time=, restrict, ...), comma-separated. An accepted risk: remembered once applied and listed in the migration report.',
    delimiter: ',',
    multiple: true,
  }),
  'keys-dir': Flags.string({
    summary: 'SSH public keys of FTP users (who have none on the box): DIR/<user>.pub, one or more keys each. Remembered once imported.',
    description: 'Transfer\'s service-managed users are SFTP-only with SSH keys, so each FTP user of the inventory needs one; its clients then move to SFTP with it. A file replaces the keys given for that user before.',
  }),
  prune: Flags.boolean({summary: 'Delete users on the Transfer server that the inventory does not know (never without this flag).', default: false, exclusive: ['only']}),
}

export function parseRenames(values: string[] | undefined): Record<string, string> | undefined {
  if (!values || values.length === 0) return undefined
  const out: Record<string, string> = {}
  for (const v of values) {
    const m = /^([^=]+)=(.+)$/.exec(v.trim())
    if (!m) throw usageError(`--rename ${v}: expected LEGACY=NEW`, ['Example: --rename "j doe=jdoe".'])
    out[m[1].trim()] = m[2].trim()
  }
  return out
}

const names = (values: string[] | undefined) => (values && values.length > 0 ? values.map((s) => s.trim()).filter(Boolean) : undefined)

export function usersOptions(flags: {
  only?: string[]
  rename?: string[]
  'allow-no-keys': boolean
  'home-mode'?: HomeMode
  'import-dead-keys'?: string[]
  'accept-key-options'?: string[]
  'keys-dir'?: string
  prune: boolean
}): UsersOptions {
  return {
    only: names(flags.only),
    importDeadKeys: names(flags['import-dead-keys']),
    acceptKeyOptions: names(flags['accept-key-options']),
    renames: parseRenames(flags.rename),
    allowNoKeys: flags['allow-no-keys'],
    homeMode: flags['home-mode'],
    prune: flags.prune,
    keysDir: flags['keys-dir'],
  }
}
