import {connect, type NetConnectOpts} from 'node:net'
import type {Readable} from 'node:stream'

/** Where clamd listens: a TCP port or a Unix socket. */
export type ClamdAddress = {host: string; port: number} | {path: string}

export type ClamdVerdict = {infected: false} | {infected: true; signature: string}

export class ClamdError extends Error {
  override name = 'ClamdError'
}

const options = (address: ClamdAddress): NetConnectOpts => ('path' in address ? {path: address.path} : address)

/**
 * Streams `body` to clamd with INSTREAM (chunks prefixed by their 4-byte big-endian length, a zero length ends
 * the stream) and returns its verdict. Any other answer (an ERROR such as the stream size limit, a dropped or
 * refused connection, a timeout) throws: an object is never reported clean unless clamd said "OK".
 */
export function scanStream(address: ClamdAddress, body: Readable, timeoutMs = 600_000): Promise<ClamdVerdict> {
  return new Promise((resolve, reject) => {
    const socket = connect(options(address))
    let reply = ''
    let settled = false
    const finish = (error: Error | undefined, verdict?: ClamdVerdict): void => {
      if (settled) return
      settled = true
      body.unpipe()
      socket.destroy()
      if (error) {
        body.destroy()
        reject(error)
      } else resolve(verdict as ClamdVerdict)
    }
    socket.setTimeout(timeoutMs, () => finish(new ClamdError(`clamd did not answer within ${timeoutMs} ms`)))
    socket.on('error', (error) => finish(new ClamdError(`clamd connection failed: ${error.message}`)))
    socket.on('data', (data: Buffer) => {
      reply += data.toString('utf8')
    })
    socket.on('close', () => {
      const answer = reply.replace(/\0$/, '').trim()
      const found = /^stream: (.+) FOUND$/.exec(answer)
      if (answer === 'stream: OK') finish(undefined, {infected: false})
      else if (found) finish(undefined, {infected: true, signature: found[1]})
      else finish(new ClamdError(answer ? `clamd answered "${answer}"` : 'clamd closed the connection without a verdict'))
    })
    socket.on('connect', () => {
      socket.write('zINSTREAM\0')
      body.on('data', (chunk: Buffer) => {
        const header = Buffer.alloc(4)
        header.writeUInt32BE(chunk.length, 0)
        socket.write(header)
        // Backpressure: clamd reads as fast as it scans.
        if (!socket.write(chunk)) {
          body.pause()
          socket.once('drain', () => body.resume())
        }
      })
      body.on('end', () => socket.write(Buffer.alloc(4)))
      body.on('error', (error) => finish(new ClamdError(`reading the object failed: ${error.message}`)))
    })
  })
}

/** True when clamd answers PING with PONG. */
export function ping(address: ClamdAddress, timeoutMs = 2_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(options(address))
    let reply = ''
    socket.setTimeout(timeoutMs, () => socket.destroy())
    socket.on('connect', () => socket.write('zPING\0'))
    socket.on('data', (data: Buffer) => {
      reply += data.toString('utf8')
    })
    socket.on('error', () => resolve(false))
    socket.on('close', () => resolve(reply.replace(/\0$/, '') === 'PONG'))
  })
}
