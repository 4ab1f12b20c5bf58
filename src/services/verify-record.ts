import type {SqliteStateStore} from '../adapters/state.js'
import type {VerifyResult} from './verify.js'

const LAST_VERIFY = 'verify.last'

export interface LastVerify {
  at: string
  checked: number
  mismatches: number
  efs: boolean
  /** Per owner: files checked and those that mismatched (absent in results recorded before it was kept) */
  perOwner?: Record<string, {checked: number; mismatched: number}>
}

/** Remembers the outcome of a verify run: the cutover's preflight requires the last one to be clean. */
export function recordVerifyResult(state: SqliteStateStore, r: VerifyResult): void {
  state.setSetting(LAST_VERIFY, {at: new Date().toISOString(), checked: r.checked, mismatches: r.mismatches.length, efs: r.counts.efs !== undefined, perOwner: r.perOwner} satisfies LastVerify)
}

export function lastVerifyResult(state: SqliteStateStore): LastVerify | undefined {
  return state.getSetting<LastVerify>(LAST_VERIFY)
}
