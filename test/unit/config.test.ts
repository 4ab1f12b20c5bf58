import {describeProblem, envVarFor, flagFor, resolveConfig, valuesFromEnv} from '../../src/core/config.js'

const valid = {
  'source.host': 'legacy.example.com',
  'source.username': 'migrator',
  'source.identityFile': '/keys/id',
  'source.hostKeyFingerprint': 'SHA256:' + 'a'.repeat(43),
  'target.region': 'eu-west-1',
  'target.bucket': 'acme-sftp',
}

describe('configuration', () => {
  it('names keys the same way everywhere', () => {
    expect(envVarFor('source.identityFile')).toBe('SFTP_CUTOVER_SOURCE_IDENTITY_FILE')
    expect(envVarFor('dns.hostedZoneId')).toBe('SFTP_CUTOVER_DNS_HOSTED_ZONE_ID')
    expect(flagFor('target.s3Endpoint')).toBe('target-s3-endpoint')
    expect(flagFor('source.hostKeyFingerprint')).toBe('source-host-key-fingerprint')
  })

  it('applies defaults and precedence flags > env > file', () => {
    const r = resolveConfig({
      file: {...valid, 'source.port': 2200, 'target.prefix': 'from-file/'},
      env: valuesFromEnv({SFTP_CUTOVER_SOURCE_PORT: '2222', SFTP_CUTOVER_TARGET_PREFIX: 'from-env'}),
      flags: {'source.port': 22022},
    })
    if (!r.ok) throw new Error(JSON.stringify(r.problems))
    expect(r.config.source.port).toBe(22022)
    expect(r.origins['source.port']).toBe('flag')
    expect(r.config.target.prefix).toBe('from-env')
    expect(r.config.source.useAgent).toBe(false)
    expect(r.config.source.roots).toEqual([])
  })

  it('reads lists and booleans from the environment', () => {
    const env = valuesFromEnv({SFTP_CUTOVER_SOURCE_ROOTS: '/data/a, /data/b', SFTP_CUTOVER_SOURCE_USE_AGENT: 'yes'})
    expect(env).toEqual({'source.roots': ['/data/a', '/data/b'], 'source.useAgent': true})
  })

  it.each([
    ['source.port', 70000, /from 1 to 65535/],
    ['target.bucket', 'My_Bucket', /valid S3 bucket name/],
    ['source.hostKeyFingerprint', 'abc', /SHA256: followed by 43 base64/],
    ['target.region', 'Europe', /AWS region code/],
    ['target.transferServerId', 's-123', /17 hex digits/],
    ['target.userRoleArn', 'arn:aws:iam::12:role/x', /IAM role ARN/],
    ['dns.hostedZoneId', 'zone-1', /hosted zone id/],
    ['source.passwordEnv', 'hunter2!', /NAME of an environment variable/],
    ['source.roots', ['relative/path'], /absolute path/],
  ])('rejects %s = %p naming the key, value and what is allowed', (key, value, allowed) => {
    const r = resolveConfig({file: {...valid, [key]: value}})
    expect(r.ok).toBe(false)
    if (r.ok) return
    const p = r.problems.find((x) => x.key.startsWith(key))
    expect(p).toBeDefined()
    const text = describeProblem(p!)
    expect(text).toContain(key)
    expect(text).toContain(JSON.stringify(Array.isArray(value) ? value[0] : value))
    expect(text).toMatch(allowed)
    expect(text).toContain('sftp-cutover.yaml')
  })

  it('expands ~ and ${VAR} in every local path setting, as OpenSSH does for IdentityFile', () => {
    const expand = {home: '/home/op', env: {KEYS: '/srv/keys'}}
    const r = resolveConfig({
      file: {...valid, 'source.identityFile': '~/.ssh/id_ed25519', 'source.knownHostsFile': '${KEYS}/known_hosts', 'cutover.canaryIdentityFile': '~', 'efs.path': '/mnt/${KEYS}'},
      expand,
    })
    if (!r.ok) throw new Error(JSON.stringify(r.problems))
    expect([r.config.source.identityFile, r.config.source.knownHostsFile, r.config.cutover.canaryIdentityFile, r.config.efs.path]).toEqual([
      '/home/op/.ssh/id_ed25519',
      '/srv/keys/known_hosts',
      '/home/op',
      '/mnt//srv/keys',
    ])
    // a name that is not a local path is left alone
    const roots = resolveConfig({file: {...valid, 'source.roots': ['/data/~x']}, expand})
    expect(roots.ok && roots.config.source.roots).toEqual(['/data/~x'])
    const unset = resolveConfig({file: {...valid, 'source.identityFile': '${NOPE}/id'}, expand})
    expect(unset.ok).toBe(false)
    if (!unset.ok) expect(describeProblem(unset.problems[0])).toBe('source.identityFile = "${NOPE}/id" (sftp-cutover.yaml): names the environment variable NOPE, which is not set')
    const other = resolveConfig({file: {...valid, 'source.identityFile': '~bob/id'}, expand})
    expect(!other.ok && other.problems[0].message).toMatch(/not ~user/)
  })

  it('accepts a quoted whole number for a number setting, with the same range check', () => {
    const r = resolveConfig({file: {...valid, 'source.port': '42757', 'cutover.efsWaitSeconds': ' 30 '}})
    if (!r.ok) throw new Error(JSON.stringify(r.problems))
    expect([r.config.source.port, r.config.cutover.efsWaitSeconds]).toEqual([42757, 30])
    const big = resolveConfig({file: {...valid, 'source.port': '70000'}})
    expect(!big.ok && describeProblem(big.problems[0])).toBe('source.port = 70000 (sftp-cutover.yaml): must be from 1 to 65535')
    const text = resolveConfig({file: {...valid, 'source.port': '22a'}})
    expect(!text.ok && text.problems[0].message).toMatch(/expected number/i)
  })

  it('says where a bad value came from', () => {
    const r = resolveConfig({file: valid, env: valuesFromEnv({SFTP_CUTOVER_SOURCE_PORT: 'twenty-two'})})
    expect(r.ok).toBe(false)
    if (!r.ok) expect(describeProblem(r.problems[0])).toMatch(/^source\.port = "twenty-two" \(SFTP_CUTOVER_SOURCE_PORT\)/)
  })

  it('requires a host key and names unknown keys with the allowed ones', () => {
    const {['source.hostKeyFingerprint']: _drop, ...noHostKey} = valid
    const r = resolveConfig({file: {...noHostKey, 'source.hots': 'x'}})
    expect(r.ok).toBe(false)
    if (r.ok) return
    const messages = r.problems.map((p) => describeProblem(p)).join('\n')
    expect(messages).toMatch(/source\.hots.*unknown key; allowed keys in source: source\.host, source\.port/)
    expect(messages).toMatch(/source\.hostKeyFingerprint or source\.knownHostsFile/)
  })

  it('normalises the prefix and zone id', () => {
    const r = resolveConfig({file: {...valid, 'target.prefix': 'sftp/prod/', 'dns.hostedZoneId': '/hostedzone/Z123ABC'}})
    if (!r.ok) throw new Error(JSON.stringify(r.problems))
    expect(r.config.target.prefix).toBe('sftp/prod')
    expect(r.config.dns.hostedZoneId).toBe('Z123ABC')
  })
})
