import {retry} from '../../src/core/retry.js'

describe('retry', () => {
  it('retries transient errors until success and stops at once on others', async () => {
    let calls = 0
    const value = await retry(
      async () => {
        calls++
        if (calls < 3) throw new Error('transient')
        return 'done'
      },
      {attempts: 5, baseMs: 1, isTransient: (e) => (e as Error).message === 'transient'},
    )
    expect(value).toBe('done')
    expect(calls).toBe(3)

    calls = 0
    await expect(
      retry(
        async () => {
          calls++
          throw new Error('fatal')
        },
        {attempts: 5, baseMs: 1, isTransient: (e) => (e as Error).message === 'transient'},
      ),
    ).rejects.toThrow('fatal')
    expect(calls).toBe(1)
  })

  it('gives up after the last attempt', async () => {
    let calls = 0
    await expect(retry(async () => {
      calls++
      throw new Error('transient')
    }, {attempts: 3, baseMs: 1, isTransient: () => true})).rejects.toThrow('transient')
    expect(calls).toBe(3)
  })

  it('does not count an attempt that made progress, and still gives up after the attempts that made none', async () => {
    let calls = 0
    let done = 0
    let before = 0
    const value = await retry(
      async () => {
        calls++
        before = done
        if (done < 5) {
          done++ // one part stored, then the connection drops
          throw new Error('transient')
        }
        return 'done'
      },
      {attempts: 2, baseMs: 1, isTransient: () => true, progressed: () => done > before},
    )
    expect(value).toBe('done')
    expect(calls).toBe(6)

    calls = 0
    await expect(
      retry(
        async () => {
          calls++
          throw new Error('transient')
        },
        {attempts: 2, baseMs: 1, isTransient: () => true, progressed: () => false},
      ),
    ).rejects.toThrow('transient')
    expect(calls).toBe(2)
  })
})
