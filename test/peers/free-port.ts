import {createServer} from 'node:net'

/**
 * Asks the kernel for a free TCP port on `host` (127.0.0.1 by default) by binding port 0 and closing.
 * Another process can take the port before the caller binds it; the peer starters retry on
 * "address in use".
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen({host, port: 0, exclusive: true}, () => {
      const address = server.address()
      if (address === null || typeof address === 'string') {
        server.close()
        reject(new Error(`could not read the port bound on ${host}`))
        return
      }
      const {port} = address
      server.close((error) => (error ? reject(error) : resolve(port)))
    })
  })
}
