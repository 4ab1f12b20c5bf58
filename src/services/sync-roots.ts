import {basename} from 'node:path'

import {InventoryStore} from '../adapters/inventory-store.js'
import type {SqliteStateStore} from '../adapters/state.js'
import type {Config} from '../core/config.js'
import {usageError} from '../core/errors.js'

/** A directory on the box whose contents go to s3://<bucket>/<prefix>/home/<owner>/. */
export interface SyncRoot {
  owner: string
  path: Buffer
}

/**
 * Which directories sync and verify work on: source.roots when configured (owner = the root's basename, as
 * inventory names them), otherwise each account's data root from the last complete inventory. An inventory that
 * found no accounts walked the login's own directory: so does sync, under the login's name.
 */
export async function resolveRoots(config: Config, state: SqliteStateStore, loginHome: () => Promise<Buffer>): Promise<{roots: SyncRoot[]; from: 'config' | 'inventory'}> {
  let roots: SyncRoot[]
  let from: 'config' | 'inventory'
  if (config.source.roots.length > 0) {
    roots = config.source.roots.map((r) => ({owner: basename(r) || 'root', path: Buffer.from(r)}))
    from = 'config'
  } else {
    const store = new InventoryStore(state)
    const run = store.latestCompleteRun()
    if (!run) {
      throw usageError('there is no complete inventory to take the users and their directories from', ['Run sftp-cutover inventory first, or list the directories to copy in source.roots.'], 'NO_INVENTORY')
    }
    const accounts = store.accounts(run.id)
    roots = accounts.length > 0 ? accounts.map((a) => ({owner: a.name, path: Buffer.from(a.dataRoot)})) : [{owner: config.source.username, path: await loginHome()}]
    from = 'inventory'
  }
  const seen = new Set<string>()
  for (const r of roots) {
    if (!r.owner || r.owner.includes('/')) throw usageError(`the root ${r.path.toString()} has no usable owner name`, ['List directories with distinct, non-empty names in source.roots.'])
    if (seen.has(r.owner)) throw usageError(`two roots map to the same owner "${r.owner}" (s3://.../home/${r.owner}/)`, ['Give each root in source.roots a distinct last path component.'])
    seen.add(r.owner)
  }
  return {roots, from}
}
