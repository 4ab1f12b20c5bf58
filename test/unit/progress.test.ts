import {describeProgress, estimateMs, rateMeter} from '../../src/ui/progress.js'

const MiB = 1024 * 1024

describe('progress line', () => {
  it('estimates from the file rate when small files dominate, not "ETA 0s" with files left', () => {
    // 174k empty files left: no bytes left, but at 400 files/s that is over 7 minutes
    const s = {filesDone: 26_000, filesTotal: 200_000, bytesDone: 100 * MiB, bytesTotal: 100 * MiB, failed: 0}
    const r = {bytesPerSecond: 2 * MiB, filesPerSecond: 400}
    expect(estimateMs(s, r)).toBe((174_000 / 400) * 1000)
    expect(describeProgress(s, r)).toBe('26000/200000 files, 100 MiB/100 MiB, 2.0 MiB/s, 400 files/s, ETA 7m15s')
  })

  it('estimates from the byte rate when large files dominate, and shows files/s beside MiB/s', () => {
    const s = {filesDone: 1, filesTotal: 3, bytesDone: 500 * MiB, bytesTotal: 1500 * MiB, failed: 0}
    const r = {bytesPerSecond: 50 * MiB, filesPerSecond: 0.1}
    expect(estimateMs(s, r)).toBe(20_000)
    expect(describeProgress(s, r)).toBe('1/3 files, 500 MiB/1.5 GiB, 50.0 MiB/s, 0.1 files/s, ETA 20s')
  })

  it('gives no ETA before anything is measured, and none for a walk whose total is unknown', () => {
    expect(estimateMs({filesDone: 0, filesTotal: 10, bytesDone: 0, bytesTotal: 10, failed: 0}, {bytesPerSecond: 0, filesPerSecond: 0})).toBeUndefined()
    // inside one large file no file has finished yet: the byte rate alone
    expect(estimateMs({filesDone: 0, filesTotal: 1, bytesDone: 8 * MiB, bytesTotal: 48 * MiB, failed: 0}, {bytesPerSecond: 4 * MiB, filesPerSecond: 0})).toBe(10_000)
    const walk = {filesDone: 12_345, bytesDone: 3 * 1024 * MiB, failed: 0, noun: 'entries listed'}
    expect(describeProgress(walk, {bytesPerSecond: 0, filesPerSecond: 812.4})).toBe('12345 entries listed, 3.0 GiB, 0 B/s, 812 entries/s')
  })

  it('verify: a count with its rate and ETA', () => {
    expect(describeProgress({filesDone: 300, filesTotal: 1000, bytesDone: 0, failed: 2, noun: 'files checked'}, {bytesPerSecond: 0, filesPerSecond: 70})).toBe(
      '300/1000 files checked, 70 files/s, ETA 10s, 2 failed',
    )
  })

  it('shows the bytes --checksum re-hashes have read, so the line moves while a large file is checked', () => {
    const s = {filesDone: 0, filesTotal: 1, bytesDone: 0, bytesTotal: 1500 * MiB, failed: 0, bytesHashing: 600 * MiB}
    expect(describeProgress(s, {bytesPerSecond: 0, filesPerSecond: 0})).toMatch(/re-hashing: 600 MiB read \(--checksum\)$/)
  })

  it('measures both rates over the last 10 seconds of updates', () => {
    let now = 0
    const rate = rateMeter(() => now)
    rate({filesDone: 0, bytesDone: 0, failed: 0})
    now = 4000
    expect(rate({filesDone: 100, bytesDone: 40 * MiB, failed: 0})).toEqual({filesPerSecond: 25, bytesPerSecond: 10 * MiB})
    now = 20_000
    rate({filesDone: 200, bytesDone: 80 * MiB, failed: 0})
    now = 24_000
    expect(rate({filesDone: 240, bytesDone: 80 * MiB, failed: 0})).toEqual({filesPerSecond: 10, bytesPerSecond: 0})
  })
})
