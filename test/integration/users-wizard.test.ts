/**
 * The users import wizard, driven through a scripted Prompter (the seam between the wizard and @inquirer/prompts)
 * against moto: choosing users, renaming a name Transfer rejects, choosing keys, confirming; cancelling at a
 * prompt and declining the plan change nothing; a prompter without checkbox falls back to one question per user.
 */
import {S3Client} from '@aws-sdk/client-s3'
import {DescribeUserCommand, type DescribedUser, TransferClient} from '@aws-sdk/client-transfer'
import {generateKeyPairSync} from 'node:crypto'

import {SqliteStateStore} from '../../src/adapters/state.js'
import {TransferStore} from '../../src/adapters/transfer-store.js'
import {S3HomeFolders, SdkTransfer} from '../../src/adapters/transfer-users.js'
import {parseHostPrivateKey} from '../../src/core/host-key-import.js'
import type {Account} from '../../src/core/inventory-model.js'
import {parseAuthorizedKeys} from '../../src/core/ssh-keys.js'
import {loadConfig} from '../../src/services/config.js'
import {runUsersImport, type UsersDeps} from '../../src/services/users.js'
import type {CheckboxChoice, Prompter} from '../../src/ui/prompter.js'
import {createUsersWizard} from '../../src/ui/users-wizard.js'
import {createMigrationTarget, type MigrationTarget} from '../fixtures/aws-target.js'
import {loadPeers, motoClientConfig} from '../peers/env.js'
import {recordInventory, writeProject} from './users-helpers.js'

type Answer = string | boolean | string[] | Error
interface Asked {
  kind: 'input' | 'confirm' | 'checkbox' | 'select' | 'secret'
  message: string
  choices?: Array<CheckboxChoice<string>>
  default?: unknown
  validate?: (value: string) => true | string
}

/** Answers each question from a script and records what was asked; a question without an answer fails the test. */
function scriptedPrompter(answers: Answer[], opts: {checkbox?: boolean} = {}): Prompter & {asked: Asked[]} {
  const asked: Asked[] = []
  const next = (q: Asked): Answer => {
    asked.push(q)
    if (answers.length === 0) throw new Error(`unexpected question: ${q.message}`)
    const a = answers.shift()!
    if (a instanceof Error) throw a
    return a
  }
  const prompter: Prompter & {asked: Asked[]} = {
    asked,
    input: async ({message, default: d, validate}) => {
      const value = String(next({kind: 'input', message, default: d, validate}))
      const verdict = validate?.(value)
      if (verdict !== undefined && verdict !== true) throw new Error(`the prompt would refuse ${value}: ${verdict}`)
      return value
    },
    secret: async ({message}) => String(next({kind: 'secret', message})),
    confirm: async ({message, default: d}) => Boolean(next({kind: 'confirm', message, default: d})),
    select: async ({message}) => next({kind: 'select', message}) as never,
  }
  if (opts.checkbox !== false) {
    prompter.checkbox = async <T extends string>({message, choices}: {message: string; choices: Array<CheckboxChoice<T>>}) => {
      const picked = next({kind: 'checkbox', message, choices: choices as Array<CheckboxChoice<string>>}) as string[]
      for (const p of picked) {
        const c = choices.find((x) => x.value === p)
        if (!c) throw new Error(`no choice ${p} in: ${message}`)
        if (c.disabled) throw new Error(`choice ${p} is disabled: ${message}`)
      }
      return picked as T[]
    }
  }
  return prompter
}

function publicKey(comment: string): string {
  const parsed = parseHostPrivateKey(generateKeyPairSync('ed25519').privateKey.export({type: 'pkcs8', format: 'pem'}).toString(), 'generated')
  if (!parsed.ok) throw new Error(parsed.message)
  return `${parsed.key.publicKey} ${comment}`
}

function synthetic(name: string, keyLines: string[]): Account {
  const home = `/srv/sftp/${name}`
  return {name, uid: 5000, gid: 5000, groups: [], home, shell: '/usr/sbin/nologin', sftpRoot: home, dataRoot: home, login: {password: false, key: true}, keys: parseAuthorizedKeys(keyLines.join('\n'), `${home}/.ssh/authorized_keys`), authorizedKeysFiles: [], sources: {}}
}

const {sshd} = loadPeers()
const multiKeys = [publicKey('multi@laptop'), publicKey('multi@phone')]
const fps = multiKeys.map((l) => parseAuthorizedKeys(l, 'x')[0].fingerprint!)
let target: MigrationTarget
let project: ReturnType<typeof writeProject>
const transfer = new TransferClient(motoClientConfig())
const s3 = new S3Client(motoClientConfig())

async function user(name: string): Promise<DescribedUser | undefined> {
  try {
    return (await transfer.send(new DescribeUserCommand({ServerId: target.serverId, UserName: name}))).User
  } catch {
    return undefined
  }
}

async function deps(state: SqliteStateStore): Promise<UsersDeps> {
  const config = await loadConfig(project.configFile)
  return {config, state, transfer: new SdkTransfer(transfer, target.serverId), homes: new S3HomeFolders(s3, target.bucket), log: () => {}}
}

async function wizardRun(prompter: Prompter, extra: {dryRun?: boolean} = {}) {
  const printed: string[] = []
  const state = new SqliteStateStore(project.stateDb)
  try {
    const result = await runUsersImport(await deps(state), {allowNoKeys: false, prune: false, dryRun: extra.dryRun ?? false, wizard: createUsersWizard(prompter, (t) => printed.push(t))})
    return {result, printed: printed.join('\n')}
  } finally {
    state.close()
  }
}

function auditCount(): number {
  const state = new SqliteStateStore(project.stateDb)
  try {
    return state.auditLog().length
  } finally {
    state.close()
  }
}

beforeAll(async () => {
  target = await createMigrationTarget()
  project = writeProject(sshd, target)
  recordInventory(project.stateDb, sshd, [synthetic('ab', [publicKey('ab@laptop')]), synthetic('multi', multiKeys)])
})

afterAll(() => {
  transfer.destroy()
  s3.destroy()
})

describe('users import --interactive (scripted prompts)', () => {
  const {keyUser, chrootUser, passwordUser} = sshd.users

  it('picks users, renames the one Transfer rejects, picks keys, shows the plan and applies it once confirmed', async () => {
    const prompter = scriptedPrompter([[keyUser.name, 'ab', 'multi'], 'abby', [fps[0]], true])
    const {result, printed} = await wizardRun(prompter)

    const [pick, rename, keys, confirm] = prompter.asked
    expect(pick).toMatchObject({kind: 'checkbox', message: 'Which users should be imported?'})
    const choice = (v: string) => pick.choices!.find((c) => c.value === v)!
    expect(choice(passwordUser.name).disabled).toMatch(/^user\.password-only: logs in with a password/)
    expect(choice('ab')).toMatchObject({checked: true}) // a rename fixes it
    expect(choice('ab').disabled).toBeUndefined()
    expect(choice(chrootUser.name)).toMatchObject({checked: true})

    expect(rename).toMatchObject({kind: 'input', default: 'ab-sftp'})
    expect(rename.message).toMatch(/^Transfer cannot use ab \("ab" is shorter than 3 characters\)\. Name on Transfer for ab \(its files stay under home\/ab\/\):$/)
    expect(rename.validate!('x y')).toMatch(/not a valid Transfer user name/)
    expect(rename.validate!(keyUser.name)).toBe(`${keyUser.name} is already the Transfer name of ${keyUser.name}`)

    expect(keys).toMatchObject({kind: 'checkbox', message: 'Keys to import for multi:'})
    expect(keys.choices!.map((c) => [c.value, c.checked])).toEqual([
      [fps[0], true],
      [fps[1], true],
    ])
    expect(confirm).toMatchObject({kind: 'confirm', message: `Apply this plan to ${target.serverId}?`, default: false})
    expect(printed).toContain(`Users in inventory #`)
    expect(printed).toMatch(/^ {2}ab +blocked: user\.name-invalid/m)
    expect(printed).toMatch(/^CREATE +abby \(legacy ab\) {2}\+1 key$/m)
    expect(printed).toMatch(/^SKIP +\S+ {2}not selected$/m)

    expect(result.summary).toMatchObject({created: 3, failed: 0})
    expect((await user('abby'))!.HomeDirectoryMappings).toEqual([{Entry: '/srv/sftp/ab', Target: `/${target.bucket}/migrated/home/ab`, Type: 'DIRECTORY'}])
    expect((await user('multi'))!.SshPublicKeys!.map((k) => k.SshPublicKeyBody)).toEqual([multiKeys[0]])
    expect(await user(chrootUser.name)).toBeUndefined()

    const state = new SqliteStateStore(project.stateDb)
    const store = new TransferStore(state)
    expect(store.renames()).toEqual({ab: 'abby'})
    expect(store.excludedKeys()).toEqual({multi: [fps[1]]})
    expect(state.auditLog().map((a) => a.action)).toEqual(expect.arrayContaining(['users.rename', 'users.exclude-keys']))
    state.close()
  })

  it('remembers the rename and the excluded key; choosing the key again imports it', async () => {
    const prompter = scriptedPrompter([['multi'], fps, true])
    const {result} = await wizardRun(prompter)
    expect(prompter.asked.map((q) => q.kind)).toEqual(['checkbox', 'checkbox', 'confirm']) // no rename question for ab/abby
    expect(prompter.asked[0].choices!.find((c) => c.value === 'ab')).toMatchObject({name: 'ab (as abby)', checked: true})
    expect(prompter.asked[1].choices!.map((c) => [c.value, c.checked])).toEqual([
      [fps[0], true],
      [fps[1], false],
    ])
    expect(result.outcomes.find((o) => o.userName === 'multi')).toMatchObject({outcome: 'updated', keysImported: [fps[1]]})
    expect((await user('multi'))!.SshPublicKeys).toHaveLength(2)
  })

  it('cancelling at a prompt (Ctrl-C) changes nothing', async () => {
    const before = auditCount()
    const cancel = Object.assign(new Error('User force closed the prompt with SIGINT'), {name: 'ExitPromptError'})
    await expect(wizardRun(scriptedPrompter([cancel]))).rejects.toMatchObject({name: 'ExitPromptError'}) // at the first question
    await expect(wizardRun(scriptedPrompter([[chrootUser.name], cancel]))).rejects.toMatchObject({name: 'ExitPromptError'}) // at the confirmation
    expect(auditCount()).toBe(before)
    expect(await user(chrootUser.name)).toBeUndefined()
  })

  it('declining the plan changes nothing; without checkbox it asks one question per user', async () => {
    const before = auditCount()
    const enabled = [chrootUser.name, keyUser.name, 'ab', 'multi'].sort()
    const prompter = scriptedPrompter([...enabled.map((n) => n === chrootUser.name), false], {checkbox: false})
    await expect(wizardRun(prompter)).rejects.toMatchObject({code: 'CANCELLED', message: 'the plan was not confirmed: nothing was changed'})
    expect(prompter.asked.slice(0, -1).map((q) => q.message)).toEqual(
      expect.arrayContaining([`Which users should be imported? ${chrootUser.name}?`, 'Which users should be imported? ab (as abby)?']),
    )
    expect(prompter.asked).toHaveLength(enabled.length + 1)
    expect(auditCount()).toBe(before)
    expect(await user(chrootUser.name)).toBeUndefined()
  })

  it('a dry run shows the chosen plan without asking to confirm and changes nothing', async () => {
    const prompter = scriptedPrompter([[chrootUser.name]])
    const {result, printed} = await wizardRun(prompter, {dryRun: true})
    expect(result.dryRun).toBe(true)
    expect(printed).toMatch(new RegExp(`^CREATE +${chrootUser.name}`, 'm'))
    expect(await user(chrootUser.name)).toBeUndefined()
  })
})
