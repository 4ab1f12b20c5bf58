import type {S3Client} from '@aws-sdk/client-s3'
import {Flags} from '@oclif/core'

import {createS3Client} from '../adapters/aws-s3.js'
import {awsFlags, awsOverrides} from '../aws-flags.js'
import {BaseCommand, lockFlags} from '../base-command.js'
import {ExitCode} from '../core/errors.js'
import {loadConfig} from '../services/config.js'
import {DEFAULT_SAMPLE, runVerify, type VerifyResult} from '../services/verify.js'
import {recordVerifyResult} from '../services/verify-record.js'
import {replicaProblems} from '../services/verify-replica.js'
import {interruptible} from '../ui/interrupt.js'
import {createProgress} from '../ui/progress.js'
import {renderVerifyResult} from '../ui/verify-report.js'

export default class Verify extends BaseCommand<typeof Verify> {
  static override summary = 'Check that S3 (and the EFS copy) holds exactly what sync read from the source, for every source file.'
  static override description = `Accounts for every eligible file of the last complete listing of the source (the last sync's, after --include/--exclude): verified, mismatched, or not copied (with the reason sync recorded); directories sync could not list are reported too. The summary reads "X of Y source files verified".
The bucket is listed under each home (1,000 keys per request, s3:ListBucket) and every copied file's object compared with what sync recorded: size, ETag and checksum type. What differs, and a random sample of the rest (--sample, default 100), is HEADed: its size, the full-object CRC32 S3 reports and the sha256 in its metadata (or, for a multipart upload, its sftp-cutover-sha256 tag) must equal what sync computed while streaming, and its encryption must be SSE-KMS with target.kmsKeyId (when set) or the bucket's default encryption. Objects under the homes that sync did not write are reported as extra (after the switch to Transfer, those written since are counted apart). When the listing is refused, every object is HEADed.
--deep HEADs every object, downloads it and re-hashes it (catches bytes changed behind S3's back) and compares its mode and owner tag with the source's. --source-hash re-hashes the source (batched sha256sum over SSH when the login may run commands, the FTP server's HASH command, else a read of the file) to catch files changed since they were copied. With efs.path or --efs-path, the Lambda's copies <efs-path>/<key> are checked too, and files there that the manifest does not know are listed as extra.
--replica also checks a random sample (--replica-sample, default 100; --replica-all for every one) of the synced files under the replication rule's prefix in the cross-region replica bucket (target.replicaBucket, else the destination of the bucket's replication rule): same size, CRC32 and sha256 as sync recorded, and the source's ETag where neither is SSE-KMS. Files the source still reports PENDING are counted as pending, not as problems.
Exits 0 when every source file is verified (and no replica object is missing or different), 3 on any mismatch or file not copied.`
  static override examples = ['<%= config.bin %> verify', '<%= config.bin %> verify --sample 1000', '<%= config.bin %> verify --deep --source-hash', '<%= config.bin %> verify --efs-path /mnt/efs --json', '<%= config.bin %> verify --replica --replica-sample 500']
  static override flags = {
    ...lockFlags,
    ...awsFlags,
    deep: Flags.boolean({summary: 'HEAD every object, download it and re-hash it.', default: false}),
    sample: Flags.integer({summary: 'Objects that match the listing HEADed anyway, picked at random.', default: DEFAULT_SAMPLE, min: 0}),
    'source-hash': Flags.boolean({summary: 'Re-hash the source files and compare with the recorded sha256.', default: false}),
    'source-hash-method': Flags.option({
      options: ['auto', 'exec', 'sftp'] as const,
      default: 'auto' as const,
      summary: 'exec: batched sha256sum over SSH; sftp: read the files; auto: exec when the login may run commands.',
    })(),
    'efs-path': Flags.string({summary: 'Mounted EFS directory the Lambda copies into (overrides efs.path).'}),
    concurrency: Flags.integer({summary: 'Objects checked at once.', default: 32, min: 1, max: 256}),
    connections: Flags.integer({summary: 'SSH connections for --source-hash over SFTP.', default: 4, min: 1, max: 32}),
    replica: Flags.boolean({summary: 'Also check a sample of the synced files in the cross-region replica bucket.'}),
    'replica-sample': Flags.integer({summary: 'How many synced files --replica checks, picked at random (default 100).', min: 1, dependsOn: ['replica'], exclusive: ['replica-all']}),
    'replica-all': Flags.boolean({summary: 'With --replica, check every synced file under the replicated prefix.', dependsOn: ['replica']}),
  }

  protected override changesProject(): boolean {
    return true
  }

  public async run(): Promise<VerifyResult> {
    const config = await loadConfig(this.paths.configFile, {...awsOverrides(this.flags), 'efs.path': this.flags['efs-path']})
    const s3 = createS3Client(config.target)
    let replicaS3: S3Client | undefined
    const prompter = this.prompter()
    const interrupt = interruptible('verify')
    const progress = createProgress(this.jsonEnabled() ? 'off' : process.stderr.isTTY ? 'tty' : 'plain')
    progress.phase('verifying the copies')
    try {
      const result = await runVerify(
        config,
        {
          deep: this.flags.deep,
          sample: this.flags.sample,
          sourceHash: this.flags['source-hash'],
          sourceHashMethod: this.flags['source-hash-method'],
          efsPath: config.efs.path,
          concurrency: this.flags.concurrency,
          connections: this.flags.connections,
          replica: this.flags.replica ? {sample: this.flags['replica-all'] ? undefined : (this.flags['replica-sample'] ?? 100), concurrency: this.flags.concurrency} : undefined,
        },
        {
          state: this.state,
          aws: {s3: () => s3},
          env: process.env,
          askSecret: prompter ? (message) => prompter.secret({message}) : undefined,
          log: (msg, detail) => this.logger.info(detail ?? {}, msg),
          progress: (done, total, mismatched) => progress.update({filesDone: done, filesTotal: total, bytesDone: 0, failed: mismatched, noun: 'files checked'}),
          signal: interrupt.signal,
          replicaS3: (region) => (replicaS3 ??= createS3Client({...config.target, region})),
        },
      )
      await progress.end(interrupt.signal.aborted ? 'interrupted: run sftp-cutover verify again' : 'finished', {warn: interrupt.signal.aborted})
      this.logger.info({checked: result.checked, ok: result.ok, counts: result.counts}, 'verify finished')
      // the cutover's preflight requires the last complete verify to be clean
      if (!interrupt.signal.aborted) recordVerifyResult(this.state, result)
      this.out(renderVerifyResult(result))
      if (interrupt.signal.aborted) process.exitCode = ExitCode.failure
      else if (result.mismatches.length > 0 || replicaProblems(result.replica) > 0) this.foundProblems()
      this.next(
        interrupt.signal.aborted
          ? 'verify'
          : result.mismatches.length > 0
            ? 'sync, then sftp-cutover verify'
            : replicaProblems(result.replica) > 0
              ? 'fix the replication (see the replica lines above), then sftp-cutover verify --replica'
              : 'cutover --dry-run',
      )
      return result
    } finally {
      await progress.end()
      interrupt.dispose()
      s3.destroy()
      replicaS3?.destroy()
    }
  }
}
