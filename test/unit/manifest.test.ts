/**
 * oclif.manifest.json is committed (oclif reads it instead of loading every command). It must match the commands:
 * regenerate it from the built dist/ in a scratch copy and compare.
 */
import {execFileSync} from 'node:child_process'
import {copyFileSync, cpSync, mkdtempSync, readFileSync, symlinkSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

const ROOT = join(import.meta.dirname, '..', '..')

it('oclif.manifest.json is up to date with the commands (npm run build && npm run manifest)', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'sct-manifest-'))
  copyFileSync(join(ROOT, 'package.json'), join(scratch, 'package.json'))
  cpSync(join(ROOT, 'dist'), join(scratch, 'dist'), {recursive: true})
  symlinkSync(join(ROOT, 'node_modules'), join(scratch, 'node_modules'))
  execFileSync(join(ROOT, 'node_modules', '.bin', 'oclif'), ['manifest', scratch], {cwd: scratch, stdio: 'pipe', env: {...process.env, OCLIF_SKIP_UPDATE_CHECK: '1'}})
  const fresh = JSON.parse(readFileSync(join(scratch, 'oclif.manifest.json'), 'utf8'))
  const committed = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8'))
  expect(Object.keys(fresh.commands).length).toBeGreaterThan(0)
  expect(committed.commands).toEqual(fresh.commands)
})
