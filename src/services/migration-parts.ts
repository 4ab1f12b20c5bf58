import type {AwsClients} from '../adapters/aws.js'
import {InventoryStore} from '../adapters/inventory-store.js'
import {ManifestStore} from '../adapters/manifest-store.js'
import type {AskSecret} from '../adapters/ssh.js'
import type {SqliteStateStore} from '../adapters/state.js'
import {TransferStore} from '../adapters/transfer-store.js'
import {S3HomeFolders, SdkTransfer} from '../adapters/transfer-users.js'
import {accountsSshPort, type Config} from '../core/config.js'
import {ExitCode} from '../core/errors.js'
import {hostKeyImportable} from '../core/transfer-rules.js'
import {completeReadingFix} from '../core/account-reading.js'
import {type CarriedSyncOptions, carriedSyncOptions, describeSyncOptions} from '../core/sync-plan.js'
import {ftpUsersStatus} from '../core/users-plan.js'
import type {ProjectPaths} from '../base-command.js'
import type {MigrationParts, PreflightCheck} from './cutover-steps.js'
import {incompleteAccounts} from './inventory-guard.js'
import {writeMigrationReport} from './report.js'
import {drainLegacyBox} from './soft-cutover.js'
import {StepFailure} from './runbook.js'
import {runSync, type SyncOptions} from './sync.js'
import {planUsersImport} from './users.js'
import {runVerify} from './verify.js'
import {lastVerifyResult, recordVerifyResult} from './verify-record.js'

export interface PartsDeps {
  config: Config
  aws: AwsClients
  state: SqliteStateStore
  env: NodeJS.ProcessEnv
  askSecret?: AskSecret
  log: (msg: string, detail?: Record<string, unknown>) => void
  /** a line for the operator as long work goes on (the drain's passes and stragglers) */
  progress?: (line: string) => void
  paths: ProjectPaths
}

/**
 * The final delta's options: what is copied and how (include, exclude, symlinks, storage class, bandwidth,
 * concurrency) as the last complete sync ran, each replaced by the runbook step's value where it gives one.
 * Re-hashing (--checksum, --source-hash) and --delete are one-off actions, not carried over.
 */
function finalSyncOptions(state: SqliteStateStore, override: Partial<CarriedSyncOptions> = {}): {options: Omit<SyncOptions, 'dryRun'>; carried: CarriedSyncOptions; from: string} {
  const last = new ManifestStore(state).lastCompleteRun()
  const carried = carriedSyncOptions(last?.options, override)
  const given = Object.keys(override).filter((k) => override[k as keyof CarriedSyncOptions] !== undefined)
  const from = `${last ? `the options of sync run ${last.id}` : 'sync\'s defaults (no complete sync is recorded)'}${given.length ? `, with the runbook's ${given.join(', ')}` : ''}`
  return {options: {...carried, checksum: false, sourceHash: false, delete: false, maxDelete: 100}, carried, from}
}

async function identityChecks(deps: PartsDeps): Promise<PreflightCheck[]> {
  const serverId = deps.config.target.transferServerId
  if (!serverId) return [{id: 'users', name: 'users imported', ok: false, detail: 'target.transferServerId is not set'}]
  const plan = await planUsersImport(
    {
      config: deps.config,
      state: deps.state,
      transfer: new SdkTransfer(deps.aws.transfer(), serverId),
      homes: new S3HomeFolders(deps.aws.s3(), deps.config.target.bucket, deps.config.target.kmsKeyId),
      log: deps.log,
    },
    {allowNoKeys: false, prune: false},
  )
  const s = plan.summary
  const pending = s.create + s.update + s.keysToImport + s.keysToRemove
  const users: PreflightCheck = {
    id: 'users',
    name: 'users and keys imported',
    ok: pending === 0,
    detail: pending === 0 ? `${s.unchanged} user(s) up to date${s.skip ? `, ${s.skip} skipped for blockers` : ''}` : `${s.create} to create, ${s.update} to update, ${s.keysToImport} key(s) to import, ${s.keysToRemove} to remove: run sftp-cutover users import`,
  }
  const inventory = new InventoryStore(deps.state)
  const run = inventory.latestCompleteRun()
  const legacy = run ? inventory.hostKeys(run.id).filter((k) => hostKeyImportable(k.type, k.bits)) : []
  const imported = new Set(new TransferStore(deps.state).hostKeys(serverId).map((k) => k.fingerprint))
  const missing = legacy.filter((k) => !imported.has(k.fingerprint))
  const hostKeys: PreflightCheck = {
    id: 'hostkeys',
    name: 'host keys imported',
    ok: legacy.length > 0 && missing.length === 0,
    detail: legacy.length === 0 ? 'no legacy host keys in the inventory' : missing.length ? `not imported: ${missing.map((k) => `${k.type} ${k.fingerprint}`).join(', ')}: run sftp-cutover hostkeys import` : `${legacy.length} legacy host key(s) imported`,
  }
  // FTP users: their clients change protocol at the cutover, and cannot without a key.
  const ftp = ftpUsersStatus(plan.users)
  return [users, ...(ftp ? [{id: 'users', name: 'FTP users have an SSH key (their clients move to SFTP)', ...ftp}] : []), hostKeys]
}

/** The cutover acts on the inventory: it must have read every account (not skippable). */
function accountsCheck(deps: PartsDeps): PreflightCheck {
  const incomplete = incompleteAccounts(deps.state)
  return {
    id: 'inventory',
    name: 'accounts fully read',
    ok: !incomplete,
    detail: incomplete
      ? `the last inventory (run ${incomplete.runId}) read the accounts only in part: ${incomplete.readings.join('; ')}. ${completeReadingFix(accountsSshPort(deps.config.source))}`
      : 'the last inventory read every account',
  }
}

/** The cutover steps' view of sync, verify, users and the report, bound to this project. */
export function migrationParts(deps: PartsDeps): MigrationParts {
  const syncDeps = {state: deps.state, aws: deps.aws, env: deps.env, askSecret: deps.askSecret, log: deps.log}
  return {
    async pendingSync() {
      const r = await runSync(deps.config, {...finalSyncOptions(deps.state).options, dryRun: true}, syncDeps)
      return {pending: r.counts.toCopy, failed: r.counts.failed, detail: r.counts.toCopy === 0 ? `${r.counts.unchanged} file(s) in sync` : `${r.counts.toCopy} file(s) not yet synced: run sftp-cutover sync`}
    },
    drain: (quietMs, dryRun) => drainLegacyBox(deps, finalSyncOptions(deps.state, {}).options, quietMs, dryRun),
    async finalSync(override, dryRun) {
      const {options, carried, from} = finalSyncOptions(deps.state, override)
      const r = await runSync(deps.config, {...options, dryRun}, syncDeps)
      const summary = `${dryRun ? 'would copy' : 'copied'} ${r.counts.toCopy} file(s), ${r.bytes.toCopy} bytes; ${r.counts.unchanged} unchanged; options (${from}): ${describeSyncOptions(carried)}`
      if (!dryRun && r.counts.conflicts > 0) {
        throw new StepFailure(`the final sync found ${r.counts.conflicts} path(s) changed both on the legacy box and through Transfer since the switch: S3's objects kept, the box's versions written beside them as <name>.from-legacy-<time>`, {
          exitCode: ExitCode.problems,
          details: r,
          suggestions: ['Resolve each conflict (sftp-cutover report lists them), then resume: the next sync does not repeat them.'],
        })
      }
      if (!dryRun && (r.counts.failed > 0 || r.counts.changedDuringRead > 0 || r.interrupted)) {
        throw new StepFailure(`the final sync left ${r.counts.failed} failed and ${r.counts.changedDuringRead} changed-during-read file(s)${r.interrupted ? ' (interrupted)' : ''}`, {
          exitCode: ExitCode.problems,
          details: r,
          suggestions: ['Is the legacy box frozen? Check the freeze command; sftp-cutover sync shows the failures.'],
        })
      }
      return {summary, details: r.counts}
    },
    async verify(opts, dryRun) {
      if (dryRun) return {summary: `would verify S3${opts.efs && deps.config.efs.path ? ' and the EFS path' : ''}${opts.sourceHash ? ' and re-hash the source' : ''}`}
      const r = await runVerify(
        deps.config,
        {sourceHash: opts.sourceHash, sourceHashMethod: 'auto', deep: false, efsPath: opts.efs ? deps.config.efs.path : undefined, concurrency: 32, connections: 4},
        syncDeps,
      )
      recordVerifyResult(deps.state, r)
      if (r.mismatches.length > 0) {
        throw new StepFailure(`verify found ${r.mismatches.length} mismatch(es): ${r.mismatches.slice(0, 5).map((m) => `${m.where} ${m.problem} ${m.owner}/${m.path}`).join('; ')}`, {
          exitCode: ExitCode.problems,
          details: r.mismatches.slice(0, 100),
          suggestions: ['Run sftp-cutover sync again, then sftp-cutover verify; the DNS record was not switched.'],
        })
      }
      return {summary: `${r.files.verified} of ${r.files.total} source files verified, no mismatch`, details: r.counts}
    },
    identityChecks: () => identityChecks(deps),
    accountsCheck: () => accountsCheck(deps),
    lastVerify() {
      const last = lastVerifyResult(deps.state)
      if (!last) return {id: 'verify', name: 'last verify clean', ok: false, detail: 'no verify has run: run sftp-cutover verify'}
      return {id: 'verify', name: 'last verify clean', ok: last.mismatches === 0, detail: `${last.at}: ${last.checked} checked, ${last.mismatches} mismatch(es)`}
    },
    async writeReport(dryRun) {
      if (dryRun) return {summary: `would write the migration report to ${deps.paths.reportsDir}`}
      const r = await writeMigrationReport(deps.state, deps.config, deps.paths.reportsDir)
      return {summary: `report written: ${r.files.md}`, details: r.files}
    },
  }
}
