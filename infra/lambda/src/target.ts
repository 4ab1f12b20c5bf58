import path from 'node:path'

export class UnsafeKeyError extends Error {
  override name = 'UnsafeKeyError'
}

// Keys in S3 notifications are form-encoded: '+' is a space, everything else is percent-encoded UTF-8.
export function decodeEventKey(raw: string): string {
  return decodeURIComponent(raw.replace(/\+/g, ' '))
}

// Zero-byte "directory" objects (SFTP mkdir on an S3 backend) have no file to copy.
export function isDirectoryPlaceholder(key: string): boolean {
  return key.endsWith('/')
}

// <mount>/<key>, the layout `sftp-cutover verify --efs-path` checks. Keys that are absolute, climb with '..',
// or would be normalised onto another key's path ('.', empty segments) are refused.
export function targetPath(mountPath: string, key: string): string {
  if (key.startsWith('/')) throw new UnsafeKeyError('key is absolute')
  if (key.includes('\0')) throw new UnsafeKeyError('key contains a NUL character')
  const segments = key.split('/')
  if (segments.some((segment) => segment === '' || segment === '.' || segment === '..')) {
    throw new UnsafeKeyError("key has an empty, '.' or '..' path segment")
  }
  return path.join(mountPath, ...segments)
}
