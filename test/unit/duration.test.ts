import {parseDuration} from '../../src/core/duration.js'

it('parseDuration reads seconds, s, m, h and combinations; rejects anything else', () => {
  expect([parseDuration('90'), parseDuration('90s'), parseDuration('5m'), parseDuration('1h30m'), parseDuration('1h0m5s')]).toEqual([90_000, 90_000, 300_000, 5_400_000, 3_605_000])
  expect([parseDuration(''), parseDuration('5 minutes'), parseDuration('-5s'), parseDuration('1.5h')]).toEqual([undefined, undefined, undefined, undefined])
})
