/**
 * Local stand-ins for the integration tests, the rehearsal and the benchmarks: OpenSSH sshd (the legacy
 * SFTP box), moto (AWS control plane) and versitygw (an S3 data plane that verifies checksums), all on
 * 127.0.0.1. Install them with `bash scripts/install-peers.sh`.
 */
import {type MotoPeer, startMoto} from './moto.js'
import {type SshdPeer, type StartSshdOptions, startSshd} from './sshd.js'
import type {PeersInfo} from './types.js'
import {type VersitygwPeer, startVersitygw} from './versitygw.js'

export {freePort} from './free-port.js'
export {resetMoto, startMoto, type MotoPeer} from './moto.js'
export {binaries, INSTALL_HINT, repoRoot, runDir} from './paths.js'
export {fingerprintOfBlob, fingerprintOfPublicKeyLine, keyTypeOfBlob} from './ssh-keys.js'
export {startSshd, sweepStaleSshdRuns, type SshdPeer, type StartSshdOptions} from './sshd.js'
export {startToxiproxy, type ShapedProxy, type ToxiproxyPeer} from './toxiproxy.js'
export {startVersitygw, sweepStaleVersitygwDirs, type VersitygwPeer} from './versitygw.js'
export type * from './types.js'

export interface Peers {
  sshd: SshdPeer
  moto: MotoPeer
  versitygw: VersitygwPeer
}

/**
 * Starts sshd, moto and versitygw side by side. If any fails, the ones that did start are stopped
 * (users removed) and the error names every failure.
 */
export async function startAllPeers(options: StartSshdOptions = {}): Promise<Peers> {
  const [sshd, moto, versitygw] = await Promise.allSettled([startSshd(options), startMoto(), startVersitygw()])
  if (sshd.status === 'fulfilled' && moto.status === 'fulfilled' && versitygw.status === 'fulfilled') {
    return {sshd: sshd.value, moto: moto.value, versitygw: versitygw.value}
  }
  const started = [sshd, moto, versitygw].flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
  await Promise.allSettled(started.map((peer) => peer.stop()))
  const failures = (
    [
      ['sshd', sshd],
      ['moto', moto],
      ['versitygw', versitygw],
    ] as const
  ).flatMap(([name, r]) => (r.status === 'rejected' ? [`${name}: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`] : []))
  throw new Error(`could not start the test peers:\n${failures.join('\n')}`)
}

/** Stops whatever peers are given (all of them even if one fails); throws afterwards if any failed. */
export async function stopAllPeers(peers: Partial<Peers> | undefined): Promise<void> {
  if (!peers) return
  const results = await Promise.allSettled([peers.sshd?.stop(), peers.moto?.stop(), peers.versitygw?.stop()])
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []))
  if (failures.length > 0) throw new Error(`stopping the test peers: ${failures.join('; ')}`)
}

/** The JSON-serialisable description of running peers (no functions). */
export function describePeers(peers: Peers): PeersInfo {
  const {stop: _sshdStop, ...sshd} = peers.sshd
  const {stop: _motoStop, reset: _motoReset, ...moto} = peers.moto
  const {stop: _vgwStop, ...versitygw} = peers.versitygw
  return {sshd, moto, versitygw, ownerPid: process.pid, startedAt: new Date().toISOString()}
}
