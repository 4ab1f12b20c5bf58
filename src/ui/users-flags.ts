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

export function usersOptions(flags: {only?: string[]; rename?: string[]; 'allow-no-keys': boolean; 'home-mode'?: HomeMode; prune: boolean}): UsersOptions {
  return {
    only: flags.only && flags.only.length > 0 ? flags.only.map((s) => s.trim()).filter(Boolean) : undefined,
    renames: parseRenames(flags.rename),
    allowNoKeys: flags['allow-no-keys'],
    homeMode: flags['home-mode'],
    prune: flags.prune,
  }
}
