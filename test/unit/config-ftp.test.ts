import {describeProblem, resolveConfig} from '../../src/core/config.js'

const base = {
  'source.host': 'legacy.example.com',
  'source.username': 'migrator',
  'target.region': 'eu-west-1',
  'target.bucket': 'acme-sftp',
}
const FP = 'c6:39:1d:cc:8c:fc:73:5c:d6:8b:db:cb:ae:04:17:d5:7d:5d:62:84:21:85:75:4c:82:e0:94:13:0b:87:2e:26'

const problems = (file: Record<string, unknown>) => {
  const r = resolveConfig({file})
  return r.ok ? [] : r.problems.map((p) => describeProblem(p))
}

describe('source.protocol', () => {
  it('defaults to sftp on port 22, and the port follows the protocol', () => {
    const sftp = resolveConfig({file: {...base, 'source.hostKeyFingerprint': 'SHA256:' + 'a'.repeat(43)}})
    if (!sftp.ok) throw new Error(JSON.stringify(sftp.problems))
    expect(sftp.config.source).toMatchObject({protocol: 'sftp', port: 22})
    const ports = (['ftp', 'ftps', 'ftps-implicit'] as const).map((protocol) => {
      const r = resolveConfig({file: {...base, 'source.protocol': protocol, ...(protocol === 'ftp' ? {} : {'source.tlsFingerprint': FP})}})
      if (!r.ok) throw new Error(JSON.stringify(r.problems))
      return r.config.source.port
    })
    expect(ports).toEqual([21, 21, 990])
    const given = resolveConfig({file: {...base, 'source.protocol': 'ftp', 'source.port': 2121}})
    expect(given.ok && given.config.source.port).toBe(2121)
  })

  it('needs no SSH host key for FTP, but a certificate pin or CA for FTPS; normalises the pin', () => {
    expect(problems({...base, 'source.protocol': 'ftp'})).toEqual([])
    expect(problems({...base, 'source.protocol': 'ftps'}).join('\n')).toMatch(/source\.tlsFingerprint .*needs source\.tlsFingerprint or source\.tlsCaFile: the server's certificate is always verified/)
    const r = resolveConfig({file: {...base, 'source.protocol': 'ftps', 'source.tlsFingerprint': FP.replace(/:/g, '')}})
    expect(r.ok && r.config.source.tlsFingerprint).toBe(FP.toUpperCase())
    expect(problems({...base, 'source.protocol': 'ftps', 'source.tlsFingerprint': 'SHA256:abc'}).join('\n')).toMatch(/must be the SHA-256 fingerprint of the certificate: 64 hex digits/)
    expect(problems({...base, 'source.protocol': 'ftps-implicit', 'source.tlsCaFile': '/etc/ssl/ca.pem'})).toEqual([])
  })

  it('refuses TLS settings where there is no TLS, and an unknown protocol with the allowed ones', () => {
    expect(problems({...base, 'source.protocol': 'ftp', 'source.tlsFingerprint': FP}).join('\n')).toMatch(/applies only to source\.protocol ftps or ftps-implicit/)
    expect(problems({...base, 'source.hostKeyFingerprint': 'SHA256:' + 'a'.repeat(43), 'source.tlsCaFile': '/ca.pem'}).join('\n')).toMatch(/applies only to source\.protocol ftps/)
    expect(problems({...base, 'source.protocol': 'scp'}).join('\n')).toMatch(/source\.protocol = "scp" \(sftp-cutover\.yaml\): must be one of sftp, ftp, ftps, ftps-implicit/)
  })

  it('still requires the host key for sftp', () => {
    expect(problems(base).join('\n')).toMatch(/needs source\.hostKeyFingerprint or source\.knownHostsFile/)
  })
})
