import type {SourceProtocol} from './config.js'
import type {Finding} from './inventory-model.js'

/** What an FTP session found out about the box, for the findings only FTP has. */
export interface FtpProbe {
  protocol: SourceProtocol
  host: string
  /** FEAT's feature names, upper case */
  features: string[]
  /** a login as anonymous succeeded */
  anonymous: boolean
  /** the server refused TYPE I: only ASCII transfers, which rewrite line ends */
  asciiOnly: boolean
  /** files whose names are not UTF-8 (the file.name-not-utf8 findings) */
  nonUtf8Names: number
}

/** Findings specific to an FTP/FTPS source. Pure. */
export function ftpFindings(p: FtpProbe): Finding[] {
  const out: Finding[] = []
  const subject = `server:${p.host}`
  if (p.anonymous) {
    out.push({
      rule: 'ftp.anonymous',
      severity: 'warning',
      subject,
      reason: 'the FTP server accepts anonymous logins: whatever it serves is readable without an account; Transfer Family has no anonymous access',
      fix: 'Decide who still needs these files, give them users with SSH keys (users import), and tell the others the files are no longer public.',
    })
  }
  if (p.protocol === 'ftp') {
    out.push({
      rule: 'ftp.plain',
      severity: 'warning',
      subject,
      reason: `the box is read over plain FTP: the password and every file cross the network in clear${p.features.includes('AUTH') ? ' (the server offers AUTH TLS: source.protocol ftps would encrypt them)' : ' (the server does not offer TLS)'}`,
      fix: p.features.includes('AUTH') ? 'sftp-cutover config set source.protocol ftps, with source.tlsFingerprint (init shows it).' : 'Read the box from inside its network, or enable TLS on it; clients move to SFTP with keys on Transfer.',
    })
  }
  if (p.asciiOnly) {
    out.push({
      rule: 'ftp.ascii-only',
      severity: 'blocker',
      subject,
      reason: 'the FTP server refuses binary transfers (TYPE I): ASCII mode rewrites line ends, so the bytes read would not be the files\' bytes; sync refuses to read over it',
      fix: 'Enable binary (image) transfers on the server, or read the box another way (SFTP).',
    })
  }
  if (p.nonUtf8Names > 0) {
    out.push({
      rule: 'ftp.names-not-utf8',
      severity: 'warning',
      subject,
      reason: `the FTP server reported ${p.nonUtf8Names} name(s) in an encoding other than UTF-8${p.features.includes('UTF8') ? '' : ' (it does not offer UTF8 in FEAT: names are in the box\'s own encoding)'}; they were kept byte for byte (see the file.name-not-utf8 findings)`,
      fix: 'Rename them on the box in UTF-8 (convmv -f latin1 -t utf8 ...) before the cutover: Transfer and S3 need UTF-8 names.',
    })
  }
  if (!p.features.includes('MLST')) {
    out.push({
      rule: 'ftp.list-times',
      severity: 'info',
      subject,
      reason: 'the FTP server has no MLSD: directories are read with LIST, whose times are to the minute or the day, and owners and modes as LIST shows them; each file\'s exact mtime was asked with MDTM',
      fix: 'Nothing to do; expect directory mtimes in this inventory to be coarse.',
    })
  }
  return out
}
