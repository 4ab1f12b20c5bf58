/**
 * SHA-256 with a state that can be saved after every part (so a resumed upload never reads finished parts again),
 * computed off the main thread.
 *
 * Why a worker: a hash whose state can be exported is hash-wasm's (WebAssembly, no SHA-NI: 3.7 s a GiB on the test
 * machine, against 0.6 s for node:crypto's, whose state cannot be exported; bench/sync.ts prints both). On the main
 * thread each 8 MiB part stopped reading and uploading for about 30 ms; in a worker it runs beside them.
 */
import {availableParallelism} from 'node:os'
import {createRequire} from 'node:module'
import {Worker} from 'node:worker_threads'

const require = createRequire(import.meta.url)

// CommonJS, run with eval: the same code whether sync runs from dist/ or from the TypeScript sources.
const WORKER_SOURCE = `
const {parentPort, workerData} = require('node:worker_threads')
const {createSHA256} = require(workerData.hashWasm)
const hashers = new Map()
let chain = Promise.resolve()
parentPort.on('message', (m) => {
  chain = chain.then(async () => {
    try {
      if (m.op === 'open') {
        const h = await createSHA256()
        if (m.state) h.load(m.state)
        else h.init()
        hashers.set(m.id, h)
        parentPort.postMessage({seq: m.seq})
      } else if (m.op === 'update') {
        const h = hashers.get(m.id)
        h.update(m.data)
        const state = h.save()
        const digest = m.last ? h.digest('hex') : undefined
        parentPort.postMessage({seq: m.seq, state, digest}, [state.buffer])
      } else {
        hashers.delete(m.id)
      }
    } catch (err) {
      parentPort.postMessage({seq: m.seq, error: String(err && err.message || err)})
    }
  })
})
`

interface Reply {
  seq: number
  state?: Uint8Array
  digest?: string
  error?: string
}

/** One worker thread; the files' hashes it holds are updated in the order the parts are sent. */
class HashThread {
  private readonly worker: Worker
  private readonly pending = new Map<number, {resolve: (r: Reply) => void; reject: (e: Error) => void}>()
  private seq = 0
  private failure?: Error

  constructor() {
    this.worker = new Worker(WORKER_SOURCE, {eval: true, workerData: {hashWasm: require.resolve('hash-wasm')}})
    this.worker.unref()
    this.worker.on('message', (r: Reply) => {
      const p = this.pending.get(r.seq)
      if (!p) return
      this.pending.delete(r.seq)
      this.idleCheck()
      if (r.error) p.reject(new Error(`SHA-256 worker: ${r.error}`))
      else p.resolve(r)
    })
    this.worker.on('error', (err) => this.fail(err))
    this.worker.on('exit', (code) => this.fail(new Error(`SHA-256 worker exited (${code})`)))
  }

  get load(): number {
    return this.pending.size
  }

  /** Sends a message; the reply settles the promise. The worker keeps the process alive only while it owes replies. */
  call(message: Record<string, unknown>): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure)
    const seq = ++this.seq
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(seq, {resolve, reject})
      this.worker.ref()
      this.worker.postMessage({...message, seq})
    })
  }

  /** A message that needs no reply. */
  post(message: Record<string, unknown>): void {
    if (!this.failure) this.worker.postMessage({...message, seq: 0})
  }

  private idleCheck(): void {
    if (this.pending.size === 0) this.worker.unref()
  }

  private fail(err: Error): void {
    this.failure ??= err
    for (const p of this.pending.values()) p.reject(this.failure)
    this.pending.clear()
    this.worker.unref()
  }
}

const threads: HashThread[] = []
let nextId = 0

/** The thread with the least work queued, up to one per core but one (the main thread has the link and S3). */
function thread(): HashThread {
  if (threads.length < Math.max(1, availableParallelism() - 1)) threads.push(new HashThread())
  return threads.reduce((a, b) => (b.load < a.load ? b : a))
}

/** A file's SHA-256, continued from a saved state or started; `update` returns the state after the bytes given. */
export class ResumableSha256 {
  private constructor(
    private readonly thread: HashThread,
    private readonly id: number,
  ) {}

  static async open(state?: Uint8Array): Promise<ResumableSha256> {
    const t = thread()
    const id = ++nextId
    await t.call({op: 'open', id, state})
    return new ResumableSha256(t, id)
  }

  /**
   * Hashes the bytes; with `last`, gives the digest too. Bytes on a SharedArrayBuffer are read where they are: they
   * must not change until the promise settles. Others are copied by this call, and the buffer may be reused at once.
   */
  async update(data: Uint8Array, last = false): Promise<{state: Uint8Array; sha256?: string}> {
    const r = await this.thread.call({op: 'update', id: this.id, data, last})
    return {state: r.state!, sha256: r.digest}
  }

  close(): void {
    this.thread.post({op: 'close', id: this.id})
  }
}
