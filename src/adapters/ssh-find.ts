import {errorMessage} from '../core/errors.js'
import {FindOutputParser, type FindRecord, findScript, ListingUnavailable, NOT_GNU_FIND, type TreeLister} from '../core/find-listing.js'
import type {SshSession} from './ssh.js'

/** Lists a tree with one GNU find per root over SSH exec, on a session that is already open (the accounts' session). */
export class SshFindLister implements TreeLister {
  constructor(private readonly session: SshSession) {}

  async list(root: Buffer, onRecord: (r: FindRecord) => void): Promise<{warnings: string[]}> {
    const parser = new FindOutputParser()
    let result
    try {
      result = await this.session.execStream('sh -s', {stdin: findScript(root), onStdout: (chunk) => parser.push(chunk).forEach(onRecord)})
    } catch (err) {
      if (!parser.started) throw new ListingUnavailable(`the login may not run commands (${errorMessage(err)})`)
      throw err
    }
    const stderr = result.stderr.toString('utf8').trim()
    if (result.code === NOT_GNU_FIND && !parser.started) throw new ListingUnavailable('find on the box is not GNU find (no -printf)')
    if (!parser.started) throw new ListingUnavailable(`the login may not run commands${stderr ? ` (${stderr.split('\n')[0]})` : ''}`)
    parser.end()
    if (result.code !== 0) return {warnings: [`find exited ${result.code ?? result.signal}${stderr ? `: ${stderr.split('\n').slice(0, 5).join('; ')}` : ''}`]}
    return {warnings: []}
  }
}
