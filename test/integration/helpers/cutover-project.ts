import {join} from 'node:path'

import {SqliteStateStore} from '../../../src/adapters/state.js'
import {TransferStore} from '../../../src/adapters/transfer-store.js'

import type {MigrationTarget} from '../../fixtures/aws-target.js'
import type {SshdPeer} from '../../peers/index.js'
import type {CliRun} from './cli.js'

/**
 * `init` arguments of a project ready for the cutover night against the peers: the sshd peer as the legacy box (its
 * admin logs in), moto as Transfer, S3 and Route 53, the key user as the smoke test's canary, and a freeze that
 * leaves a `frozen` file in the peer's directory.
 */
export function cutoverInitArgs(peer: SshdPeer, target: MigrationTarget): string[] {
  const admin = peer.users.adminUser
  const key = peer.users.keyUser
  return [
    'init', '--no-prompt',
    '--source-host', peer.host, '--source-port', String(peer.port), '--source-username', admin.name, '--source-identity-file', admin.privateKeyPath!,
    '--source-known-hosts-file', peer.knownHostsFile,
    '--target-region', target.region, '--target-endpoint', target.endpoint, '--target-bucket', target.bucket,
    '--target-transfer-server-id', target.serverId, '--target-user-role-arn', target.roleArn,
    '--dns-hosted-zone-id', target.hostedZoneId, '--dns-record-name', target.recordName,
    '--cutover-canary-user', key.name, '--cutover-canary-identity-file', key.privateKeyPath!,
    '--cutover-endpoint-host', peer.host, '--cutover-endpoint-port', String(peer.port),
    '--cutover-freeze-command', `touch ${join(peer.dir, 'frozen')}`, '--cutover-unfreeze-command', `rm -f ${join(peer.dir, 'frozen')}`,
  ]
}

/**
 * Runs the weeks before the night in the project at `dir`: inventory, users import, sync and verify (each exit 0, or 3
 * for what the sample tree cannot carry over), then records the legacy host keys as `hostkeys import` does after
 * ImportHostKey, which moto lacks.
 */
export async function prepareForCutover(cli: (args: string[]) => Promise<CliRun>, peer: SshdPeer, target: MigrationTarget, dir: string): Promise<void> {
  for (const step of [['inventory', '--sshd-config', peer.configFile], ['users', 'import'], ['sync'], ['verify']]) {
    const r = await cli(step)
    expect({step: step[0], code: r.code === 3 ? 0 : r.code}).toEqual({step: step[0], code: 0})
  }
  const state = new SqliteStateStore(join(dir, '.sftp-cutover', 'state.db'))
  try {
    peer.hostKeys.forEach((k, i) => new TransferStore(state).recordHostKey(target.serverId, {hostKeyId: `hostkey-${i}`, type: k.type, fingerprint: k.fingerprint}))
  } finally {
    state.close()
  }
}
