import {connect} from 'node:net'

/** Opens and closes a TCP connection: does anything listen there? */
export function probeTcp(host: string, port: number, timeoutMs = 5000): Promise<{ok: true; ms: number} | {ok: false; reason: string}> {
  const started = Date.now()
  return new Promise((resolve) => {
    const socket = connect({host, port})
    const done = (result: {ok: true; ms: number} | {ok: false; reason: string}) => {
      socket.destroy()
      resolve(result)
    }
    socket.setTimeout(timeoutMs, () => done({ok: false, reason: `no answer within ${timeoutMs} ms`}))
    socket.once('connect', () => done({ok: true, ms: Date.now() - started}))
    socket.once('error', (err: NodeJS.ErrnoException) => done({ok: false, reason: err.code ?? err.message}))
  })
}
