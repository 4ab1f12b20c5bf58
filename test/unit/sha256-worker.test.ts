// The resumable SHA-256 of large files, computed in a worker thread: the state saved after a part continues, in a
// new hasher (as a resumed run does), to the same digest node:crypto gives for the whole file.
import {createHash, randomBytes} from 'node:crypto'

import {ResumableSha256} from '../../src/adapters/sha256-worker.js'

describe('ResumableSha256', () => {
  const parts = [randomBytes(1 << 20), randomBytes(777_777), randomBytes(3)]
  const whole = createHash('sha256').update(Buffer.concat(parts)).digest('hex')

  it('gives the digest of every byte, and the state after each part', async () => {
    const h = await ResumableSha256.open()
    const states: Uint8Array[] = []
    for (const [i, p] of parts.entries()) {
      const r = await h.update(p, i === parts.length - 1)
      states.push(r.state)
      if (i < parts.length - 1) expect(r.sha256).toBeUndefined()
      else expect(r.sha256).toBe(whole)
    }
    h.close()
    expect(new Set(states.map((s) => Buffer.from(s).toString('hex'))).size).toBe(parts.length)
  })

  it('continues from a saved state in another hasher', async () => {
    const first = await ResumableSha256.open()
    const {state} = await first.update(parts[0])
    first.close()
    const resumed = await ResumableSha256.open(state)
    await resumed.update(parts[1])
    expect((await resumed.update(parts[2], true)).sha256).toBe(whole)
    resumed.close()
  })

  it('keeps files apart when their parts interleave, and copies a buffer when called (it may be reused at once)', async () => {
    const [a, b] = await Promise.all([ResumableSha256.open(), ResumableSha256.open()])
    const buf = Buffer.from(parts[0])
    const pa = a.update(buf, true)
    buf.fill(0)
    const pb = b.update(buf, true)
    expect((await pa).sha256).toBe(createHash('sha256').update(parts[0]).digest('hex'))
    expect((await pb).sha256).toBe(createHash('sha256').update(Buffer.alloc(parts[0].length)).digest('hex'))
    a.close()
    b.close()
  })

  it('reads a part on shared memory where it is (the part buffers sync reads into)', async () => {
    const h = await ResumableSha256.open()
    const shared = Buffer.from(new SharedArrayBuffer(parts[1].length))
    parts[1].copy(shared)
    expect((await h.update(shared, true)).sha256).toBe(createHash('sha256').update(parts[1]).digest('hex'))
    h.close()
  })

  it('says which state it could not load', async () => {
    await expect(ResumableSha256.open(Uint8Array.from([1, 2, 3]))).rejects.toThrow(/SHA-256 worker/)
  })
})
