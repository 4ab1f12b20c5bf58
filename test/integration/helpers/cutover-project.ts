import {join} from 'node:path'

import type {MigrationTarget} from '../../fixtures/aws-target.js'
import type {SshdPeer} from '../../peers/index.js'

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
