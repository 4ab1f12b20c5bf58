import {parseRunbook} from '../../src/core/runbook.js'
import {carriedSyncOptions, describeSyncOptions, SYNC_DEFAULTS} from '../../src/core/sync-plan.js'

describe('the final delta\'s options', () => {
  const stored = {transfers: 3, connections: 2, symlinks: 'follow', include: ['reports/**'], exclude: ['**/*.tmp'], bwlimit: 1048576, storageClass: 'STANDARD_IA', checksum: true, delete: true, dryRun: false}

  it('are the last complete sync\'s (what is copied and how; not its one-off --checksum or --delete)', () => {
    expect(carriedSyncOptions(stored)).toEqual({transfers: 3, connections: 2, symlinks: 'follow', include: ['reports/**'], exclude: ['**/*.tmp'], bwlimit: 1048576, storageClass: 'STANDARD_IA', sshDirs: false})
  })

  it('are sync\'s defaults when no complete sync is recorded, or where a stored value is unusable', () => {
    expect(carriedSyncOptions(undefined)).toEqual(SYNC_DEFAULTS)
    expect(carriedSyncOptions({transfers: -1, storageClass: 'GLACIER', exclude: 'x'})).toEqual(SYNC_DEFAULTS)
  })

  it('take a runbook step\'s value for each option it names', () => {
    expect(carriedSyncOptions(stored, {storageClass: 'STANDARD', exclude: []})).toMatchObject({storageClass: 'STANDARD', exclude: [], include: ['reports/**'], transfers: 3})
  })

  it('print as the sync flags that reproduce them', () => {
    expect(describeSyncOptions(carriedSyncOptions(stored))).toBe("--transfers 3 --connections 2 --symlinks follow --storage-class STANDARD_IA --bwlimit 1048576 --include 'reports/**' --exclude '**/*.tmp'")
  })
})

describe('a runbook sync step', () => {
  it('accepts the carried options, a --bwlimit-style rate, and names what is wrong', () => {
    const ok = parseRunbook({steps: [{sync: {exclude: ['**/*.tmp'], storageClass: 'STANDARD_IA', bwlimit: '10M', transfers: 8}}]})
    expect(ok.ok && ok.runbook.steps[0].options).toEqual({exclude: ['**/*.tmp'], storageClass: 'STANDARD_IA', bwlimit: 10 * 1024 * 1024, transfers: 8})
    const bad = parseRunbook({steps: [{sync: {storageClass: 'GLACIER', bwlimit: 'fast', delete: true}}]})
    expect(bad.ok).toBe(false)
    expect(!bad.ok && bad.problems.map((p) => p.path).sort()).toEqual(['steps.0 (sync)', 'steps.0 (sync).bwlimit', 'steps.0 (sync).storageClass'])
  })
})
