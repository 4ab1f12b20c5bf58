import {ftpFindings, type FtpProbe} from '../../src/core/ftp-findings.js'

const probe = (p: Partial<FtpProbe>): FtpProbe => ({protocol: 'ftps', host: 'legacy', features: ['MLST', 'AUTH', 'UTF8'], anonymous: false, asciiOnly: false, nonUtf8Names: 0, ...p})
const rules = (p: Partial<FtpProbe>) => ftpFindings(probe(p)).map((f) => `${f.rule}:${f.severity}`)

describe('FTP findings', () => {
  it('a well-kept FTPS server with MLSD raises none', () => {
    expect(rules({})).toEqual([])
  })

  it('anonymous access, plain FTP, ASCII-only, non-UTF-8 names and LIST-only servers each have a finding', () => {
    expect(rules({anonymous: true})).toEqual(['ftp.anonymous:warning'])
    expect(rules({protocol: 'ftp'})).toEqual(['ftp.plain:warning'])
    expect(rules({asciiOnly: true})).toEqual(['ftp.ascii-only:blocker'])
    expect(rules({nonUtf8Names: 3})).toEqual(['ftp.names-not-utf8:warning'])
    expect(rules({features: ['AUTH']})).toEqual(['ftp.list-times:info'])
  })

  it('says whether the plain server could do TLS, and whether it claims UTF-8', () => {
    const [withTls] = ftpFindings(probe({protocol: 'ftp'}))
    expect(withTls.reason).toMatch(/offers AUTH TLS: source\.protocol ftps would encrypt them/)
    expect(withTls.fix).toMatch(/^sftp-cutover config set source\.protocol ftps/)
    const [without] = ftpFindings(probe({protocol: 'ftp', features: ['MLST']}))
    expect(without.reason).toMatch(/does not offer TLS/)
    const [names] = ftpFindings(probe({nonUtf8Names: 1, features: ['MLST']}))
    expect(names.reason).toMatch(/1 name\(s\) .* does not offer UTF8 in FEAT/)
  })
})
