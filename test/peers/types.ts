/** Plain data describing running peers: what global-setup writes as JSON and env.ts loads for tests. */
import type {MotoInfo} from './moto.js'
import type {SshdInfo} from './sshd.js'
import type {VersitygwInfo} from './versitygw.js'

export type {MotoInfo} from './moto.js'
export type {PeerUser, SampleEntry, SampleTree, SshdHostKey, SshdInfo, SshKeyType} from './sshd.js'
export type {VersitygwInfo} from './versitygw.js'

export interface PeersInfo {
  sshd: SshdInfo
  moto: MotoInfo
  versitygw: VersitygwInfo
  /** pid of the process that started (and will stop) the peers */
  ownerPid: number
  /** ISO time the peers were up */
  startedAt: string
}
