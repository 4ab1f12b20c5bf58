import {lineTime, parseSshdLine, parseTransferEvent, summarize} from '../../src/core/stragglers.js'

const now = new Date('2026-11-29T20:00:00Z')

describe('sshd log lines', () => {
  it('reads logins and refused attempts in the formats OpenSSH writes them', () => {
    expect(parseSshdLine('2026-11-29T19:40:01.123456+00:00 box sshd[811]: Accepted publickey for alice from 10.0.0.5 port 51234 ssh2: ED25519 SHA256:abc', now)).toEqual({
      at: new Date('2026-11-29T19:40:01.123456Z'),
      user: 'alice',
      address: '10.0.0.5',
      outcome: 'login',
    })
    expect(parseSshdLine('Nov 29 19:41:00 box sshd[812]: Failed password for invalid user bob from 10.0.0.6 port 4022 ssh2', now)).toMatchObject({user: 'bob', address: '10.0.0.6', outcome: 'failed', at: new Date('2026-11-29T19:41:00Z')})
    expect(parseSshdLine('Nov 29 19:42:00 box sshd[813]: Invalid user eve from 10.0.0.7 port 4023', now)).toMatchObject({user: 'eve', outcome: 'failed'})
    expect(parseSshdLine('Nov 29 19:43:00 box sshd[814]: Connection closed by authenticating user carol 10.0.0.8 port 4024 [preauth]', now)).toMatchObject({user: 'carol', address: '10.0.0.8', outcome: 'failed'})
    expect(parseSshdLine('Nov 29 19:43:00 box sshd[814]: Received disconnect from 10.0.0.8 port 4024:11: bye', now)).toBeUndefined()
    expect(parseSshdLine('2026-11-29T19:44:00+01:00 box sshd-session[815]: Accepted publickey for frank from 10.0.0.10 port 4025 ssh2', now)).toMatchObject({user: 'frank', at: new Date('2026-11-29T18:44:00Z')})
    // sshd -E writes no time
    expect(parseSshdLine('Accepted password for dave from 10.0.0.9 port 1 ssh2', now)).toEqual({at: undefined, user: 'dave', address: '10.0.0.9', outcome: 'login'})
  })

  it('places a classic syslog time in the year before when it would be in the future', () => {
    expect(lineTime('Dec 31 23:59:59 box sshd[1]: x', new Date('2027-01-01T00:00:10Z'))).toEqual(new Date('2026-12-31T23:59:59Z'))
  })
})

describe('Transfer Family JSON log events', () => {
  it('counts CONNECTED and AUTH_FAILURE, with the user and source address', () => {
    const at = new Date('2026-11-29T19:50:00Z')
    expect(parseTransferEvent(JSON.stringify({'activity-type': 'CONNECTED', user: 'alice', 'source-ip': '10.1.2.3'}), at)).toEqual({at, user: 'alice', address: '10.1.2.3', outcome: 'login'})
    expect(parseTransferEvent(JSON.stringify({'activity-type': 'AUTH_FAILURE', 'resource-arn': 'arn:aws:transfer:us-east-1:1:user/s-1/bob', 'source-ip': '10.9.9.9'}), at)).toMatchObject({user: 'bob', outcome: 'failed'})
    expect(parseTransferEvent(JSON.stringify({'activity-type': 'CONNECTED', 'source-ip': '10.1.2.3'}), at, 'carol.abcdef')).toMatchObject({user: 'carol'})
    expect(parseTransferEvent(JSON.stringify({'activity-type': 'OPEN', user: 'alice'}), at)).toBeUndefined()
    expect(parseTransferEvent('not json', at)).toBeUndefined()
  })
})

describe('summarize', () => {
  it('counts per user and address from the switch on, latest first; undated lines apart', () => {
    const since = new Date('2026-11-29T19:30:00Z')
    const r = summarize(
      [
        {at: new Date('2026-11-29T19:00:00Z'), user: 'old', address: 'a', outcome: 'login'},
        {at: new Date('2026-11-29T19:31:00Z'), user: 'alice', address: 'a', outcome: 'login'},
        {at: new Date('2026-11-29T19:35:00Z'), user: 'alice', address: 'a', outcome: 'failed'},
        {at: new Date('2026-11-29T19:40:00Z'), user: 'bob', address: 'b', outcome: 'login'},
        {user: 'dave', address: 'd', outcome: 'login'},
      ],
      since,
    )
    expect(r).toEqual({
      rows: [
        {user: 'bob', address: 'b', logins: 1, failures: 0, first: '2026-11-29T19:40:00.000Z', last: '2026-11-29T19:40:00.000Z'},
        {user: 'alice', address: 'a', logins: 1, failures: 1, first: '2026-11-29T19:31:00.000Z', last: '2026-11-29T19:35:00.000Z'},
      ],
      undated: 1,
    })
  })
})
