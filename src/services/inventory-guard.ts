import {InventoryStore} from '../adapters/inventory-store.js'
import type {SqliteStateStore} from '../adapters/state.js'
import {completeReadingFix} from '../core/account-reading.js'
import {accountsSshPort, type Config} from '../core/config.js'
import {CliError, ExitCode} from '../core/errors.js'

/** Why the last complete inventory cannot be trusted to know every account, or undefined when it can. */
export function incompleteAccounts(state: SqliteStateStore): {runId: number; readings: string[]} | undefined {
  const run = new InventoryStore(state).latestCompleteRun()
  return run?.accountsIncomplete ? {runId: run.id, readings: run.accountsIncomplete} : undefined
}

/**
 * Deleting on the word of an inventory that read accounts only in part would delete what still exists on the box:
 * `what` (e.g. "users import --prune") is refused, exit 3, naming the readings that failed and how to fix them.
 */
export function refuseOnIncompleteAccounts(state: SqliteStateStore, what: string, source: Config['source']): void {
  const incomplete = incompleteAccounts(state)
  if (!incomplete) return
  throw new CliError(`${what} refused: the last inventory (run ${incomplete.runId}) read the accounts only in part: ${incomplete.readings.join('; ')}`, {
    exitCode: ExitCode.problems,
    code: 'INVENTORY_INCOMPLETE',
    suggestions: [completeReadingFix(accountsSshPort(source))],
  })
}
