import {Flags} from '@oclif/core'

import {createS3Client} from '../adapters/aws-s3.js'
import {awsFlags, awsOverrides} from '../aws-flags.js'
import {BaseCommand, lockFlags} from '../base-command.js'
import {ExitCode, usageError} from '../core/errors.js'
import {parseDuration} from '../core/duration.js'
import {parseByteSize, STORAGE_CLASSES, SYNC_DEFAULTS} from '../core/sync-plan.js'
import {loadConfig} from '../services/config.js'
import {runSync, type SyncDeps, type SyncOptions, type SyncResult} from '../services/sync.js'
import {quietLine, syncUntilQuiet, type UntilQuietResult} from '../services/sync-until-quiet.js'
import {createProgress} from '../ui/progress.js'
import {quietSummary, renderSyncResult} from '../ui/sync-report.js'
import {interruptible} from '../ui/interrupt.js'

export default class Sync extends BaseCommand<typeof Sync> {
  static override summary = 'Copy the legacy box to S3, verified as it streams; a re-run copies only what changed.'
  static override description = `Each user's files go to s3://<bucket>/<prefix>/home/<user>/<path> (empty directories as "dir/" objects). Users and their directories come from source.roots, or else from the last complete inventory.
Every file is hashed while it streams (SHA-256 into the object's metadata with mtime; a CRC-32 that S3 checks as the full-object checksum); mode, uid and gid go into the object's sftp-cutover-posix tag. A file that changes while it is read is not recorded and is copied on the next run. The manifest in the state database makes a re-run list the source once and send nothing to S3 for unchanged files; a file whose mode or owner changed (size and mtime the same) gets that tag rewritten (no new object version, no ObjectCreated event; other tags kept), without being read again.
Files over 8 MiB are read once, in order, and uploaded in parallel parts of 8 MiB or more, the SHA-256 computed as the parts are read (it goes into the object's sftp-cutover-sha256 tag); an interrupted upload resumes from the parts S3 holds and reads only the others from the box. bytes.read in the --json result counts the bytes read from the box. Memory stays within about 128 MiB of buffers whatever the number of files.
Files deleted at the source are reported; they are deleted from S3 only with --delete, and never more than --max-delete.
Ctrl-C stops starting new files, lets what is in flight finish and records it; run sync again to continue.
Names the inventory blocks are not copied and are reported with the reason: not UTF-8, a path over 1,024 bytes as a key, an empty, "." or ".." component, and control characters (CR, LF, tab, other C0 bytes; --allow-control-chars copies those).
Once the record has been switched to Transfer (cutover), an object is replaced or deleted only while it is the version sync wrote (one HEAD per file about to be written, then a conditional write): a path that changed both on the box and in S3 keeps S3's object, gets the box's version beside it as <name>.from-legacy-<mtime> and is listed as a conflict (exit 3).
Exits 0 when everything was copied, 3 when files failed, conflicted after the switch, changed while read, or could not be copied (names, size, unreadable directories), 1 when interrupted.`
  static override examples = [
    '<%= config.bin %> sync --dry-run',
    '<%= config.bin %> sync',
    '<%= config.bin %> sync --exclude "**/*.tmp" --bwlimit 50M',
    '<%= config.bin %> sync --delete --max-delete 500',
  ]
  static override flags = {
    ...lockFlags,
    ...awsFlags,
    transfers: Flags.integer({
      summary: 'Files copied at once.',
      description: 'Each small file costs round trips to the box (open, read); over a link with latency many at once hide them. Large files share the memory budget, whatever the number.',
      default: SYNC_DEFAULTS.transfers,
      min: 1,
      max: 256,
    }),
    connections: Flags.integer({summary: 'SSH connections to the source (one SFTP channel each).', default: SYNC_DEFAULTS.connections, min: 1, max: 32}),
    symlinks: Flags.option({options: ['skip', 'follow'] as const, default: 'skip' as const, summary: 'skip: report symbolic links; follow: copy what they point to.'})(),
    checksum: Flags.boolean({
      summary: 'Also re-hash files whose size and mtime did not change, and copy those whose SHA-256 differs.',
      description: 'A --checksum run that is interrupted (Ctrl-C, kill, failure) is continued by the next --checksum run: files re-hashed or copied since the pass began are not hashed again.',
      default: false,
    }),
    'source-hash': Flags.boolean({
      summary: 'After copying, hash the copied files on the source with sha256sum (over SSH exec) and compare with what was read.',
      description:
        'An independent check of the SFTP read: sha256sum runs on the box, 200 files per command, and the bytes do not cross the wire again. A file whose digest differs is reported (exit 3) and copied again by the next run. The login must be allowed to run commands; the run refuses to start otherwise (verify --source-hash can re-read over SFTP instead).',
      default: false,
    }),
    delete: Flags.boolean({summary: 'Delete from S3 the objects whose file is gone from the source.', default: false}),
    'max-delete': Flags.integer({summary: 'With --delete, refuse to delete anything when more objects than this would go.', default: 100, min: 0}),
    include: Flags.string({summary: 'Only copy paths matching this glob (relative to the user\'s home; repeatable), e.g. "reports/**".', multiple: true}),
    exclude: Flags.string({summary: 'Do not copy paths matching this glob (repeatable), e.g. "**/*.tmp".', multiple: true}),
    'include-ssh-dirs': Flags.boolean({summary: 'Also copy the homes\' .ssh directories (left out by default: the legacy login\'s keys; Transfer keys come from users import).', default: false}),
    bwlimit: Flags.string({summary: 'Limit reading from the source to this many bytes per second, e.g. 10M (K, M, G are powers of 1024).'}),
    'allow-control-chars': Flags.boolean({
      summary: 'Also copy files whose names hold control characters (CR, LF, tab, other C0 bytes), which the inventory blocks.',
      description: 'Without it such files are skipped and reported with the reason (exit 3): S3 can hold the names, but SFTP clients can hardly type them and many tools break on them. Renaming them on the box is the better fix.',
      default: false,
    }),
    'dry-run': Flags.boolean({summary: 'Show what would be copied and deleted (counts and bytes); change nothing.', default: false}),
    'until-quiet': Flags.string({
      summary: 'Repeat the delta until no file has changed for this long (e.g. 90s, 5m, 1h): the soft cutover drains the box this way.',
      description: 'After each pass a line says how long the box has been quiet and what came in last. It returns when a pass that starts at least this long after the last change finds nothing to copy. A file that keeps failing counts as a change, so the run does not end while one does; Ctrl-C stops it.',
    }),
    'storage-class': Flags.option({
      options: STORAGE_CLASSES,
      default: 'STANDARD' as const,
      summary: 'S3 storage class of the objects (classes Transfer Family can read directly).',
    })(),
  }

  protected override changesProject(): boolean {
    return !this.flags['dry-run']
  }

  public async run(): Promise<SyncResult & {untilQuiet?: Omit<UntilQuietResult, 'last'>}> {
    const bwlimit = this.flags.bwlimit === undefined ? undefined : parseByteSize(this.flags.bwlimit)
    if (this.flags.bwlimit !== undefined && bwlimit === undefined) {
      throw usageError(`--bwlimit ${this.flags.bwlimit} is not a rate`, ['Pass bytes per second, e.g. --bwlimit 10M (10 MiB/s), 512K or 1G.'])
    }
    const quietMs = this.flags['until-quiet'] === undefined ? undefined : parseDuration(this.flags['until-quiet'])
    if (this.flags['until-quiet'] !== undefined && !quietMs) throw usageError(`--until-quiet ${this.flags['until-quiet']} is not a duration`, ['Pass e.g. --until-quiet 90s, 5m or 1h.'])
    if (quietMs && this.flags['dry-run']) throw usageError('--until-quiet repeats real passes; it cannot be combined with --dry-run', ['Drop one of them.'])
    const config = await loadConfig(this.paths.configFile, awsOverrides(this.flags))
    const s3 = createS3Client(config.target)
    const prompter = this.prompter()
    const progress = createProgress(this.jsonEnabled() ? 'off' : process.stderr.isTTY ? 'tty' : 'plain')
    const interrupt = interruptible('sync')
    try {
      const options: SyncOptions = {
        transfers: this.flags.transfers,
        connections: this.flags.connections,
        symlinks: this.flags.symlinks,
        checksum: this.flags.checksum,
        sourceHash: this.flags['source-hash'],
        delete: this.flags.delete,
        maxDelete: this.flags['max-delete'],
        include: this.flags.include ?? [],
        exclude: this.flags.exclude ?? [],
        sshDirs: this.flags['include-ssh-dirs'],
        bwlimit,
        dryRun: this.flags['dry-run'],
        storageClass: this.flags['storage-class'],
        allowControlChars: this.flags['allow-control-chars'],
      }
      const deps: SyncDeps = {
        state: this.state,
        aws: {s3: () => s3},
        env: process.env,
        askSecret: prompter ? (message) => prompter.secret({message}) : undefined,
        log: (msg, detail) => this.logger.info(detail ?? {}, msg),
        events: {phase: (_phase, detail) => progress.phase(detail), progress: (p) => progress.update(p)},
        signal: interrupt.signal,
      }
      const quiet = quietMs ? await syncUntilQuiet(config, options, {quietMs, onPass: (p) => void process.stderr.write(`${quietLine(p)}\n`)}, deps) : undefined
      const result: SyncResult & {untilQuiet?: Omit<UntilQuietResult, 'last'>} = quiet ? {...quiet.last, untilQuiet: {passes: quiet.passes, quietForMs: quiet.quietForMs, copied: quiet.copied, conflicts: quiet.conflicts, lastChange: quiet.lastChange}} : await runSync(config, options, deps)
      await progress.end(result.interrupted ? 'interrupted: run sftp-cutover sync again to continue' : 'finished', {warn: result.interrupted})
      this.logger.info({counts: result.counts, bytes: result.bytes, durationMs: result.durationMs}, 'sync finished')
      if (!result.dryRun) {
        this.state.audit({action: 'sync.run', target: `s3://${result.bucket}`, after: {runId: result.runId, counts: result.counts}, outcome: result.counts.failed > 0 ? 'failed' : 'ok'})
      }
      this.out(renderSyncResult(result))
      if (quiet) this.out(quietSummary(quiet))
      if (result.interrupted) process.exitCode = ExitCode.failure
      else if (result.problems.length > 0 || (quiet?.conflicts ?? 0) > 0) this.foundProblems()
      this.next(result.interrupted || result.problems.length > 0 || result.dryRun ? 'sync' : 'verify')
      return result
    } finally {
      await progress.end()
      interrupt.dispose()
      s3.destroy()
    }
  }
}
