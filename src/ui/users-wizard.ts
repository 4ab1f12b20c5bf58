/**
 * The users import wizard (users import --interactive): who to import, new names for the names Transfer rejects,
 * which keys, then the plan to confirm. It asks through the Prompter, so tests script it; it prints on stderr.
 */
import {parseAuthorizedKeys} from '../core/ssh-keys.js'
import {keyDecision} from '../core/transfer-rules.js'
import {NO_KEY_RULES, type UserPlan} from '../core/users-plan.js'
import type {KeyFile, UsersPlan, UsersWizard, WizardChoices} from '../services/users.js'
import type {CheckboxChoice, Prompter} from './prompter.js'
import {renderUsersOverview, renderUsersPlan} from './users-plan.js'

/** Blockers the wizard can lift (by renaming, or by asking an FTP user's key); any other makes the user unselectable. */
const NAME_RULES = new Set(['user.name-invalid', 'user.rename-invalid', 'user.name-collision'])
const ASKS_KEY = 'user.ftp-needs-key'
const ENTERED = 'users import --interactive'

/** Why an entered key line cannot go to Transfer (the same rules as every key), or undefined when it can or is empty. */
function enteredKeyProblem(text: string): string | undefined {
  if (text.trim() === '') return undefined
  const keys = parseAuthorizedKeys(text.trim(), ENTERED)
  if (keys.length === 0) return 'not an OpenSSH public key (ssh-ed25519 AAAA... comment)'
  for (const k of keys) {
    const d = keyDecision(k)
    if (!d.import) return d.reason
  }
  return undefined
}

/** Asks several at once, or one confirm each when the prompter has no checkbox. */
async function pick<T extends string>(prompter: Prompter, message: string, choices: Array<CheckboxChoice<T>>): Promise<T[]> {
  if (prompter.checkbox) return prompter.checkbox({message, choices})
  const chosen: T[] = []
  for (const c of choices) {
    if (c.disabled) continue
    if (await prompter.confirm({message: `${message} ${c.name}?`, default: c.checked ?? false})) chosen.push(c.value)
  }
  return chosen
}

/** A name close to the legacy one that Transfer accepts: invalid characters become _, too short or "root" gets -sftp. */
export function suggestName(legacy: string, ok: (name: string) => boolean): string {
  let s = legacy.replace(/[^\w@.-]/g, '_')
  if (!/^\w/.test(s)) s = `u${s}`
  if (s.length < 3 || s === 'root') s = `${s}-sftp`
  s = s.slice(0, 100)
  for (let i = 2; !ok(s) && i < 100; i++) s = `${s.replace(/-\d+$/, '')}-${i}`
  return s
}

function unfixable(u: UserPlan): string | undefined {
  const blocker = u.reasons.find((r) => !NAME_RULES.has(r.rule) && r.rule !== ASKS_KEY && !(NO_KEY_RULES.has(r.rule) && u.keys.excluded.length > 0))
  if (!blocker) return undefined
  const text = `${blocker.rule}: ${blocker.reason}`
  return text.length > 90 ? `${text.slice(0, 87)}...` : text
}

export function createUsersWizard(prompter: Prompter, print: (text: string) => void): UsersWizard {
  return {
    async choose(plan, check): Promise<WizardChoices> {
      print(`Users in inventory #${plan.inventory.runId} of ${plan.inventory.host}:\n${renderUsersOverview(plan)}\n`)
      const only = await pick(
        prompter,
        'Which users should be imported?',
        plan.users.map((u) => {
          const disabled = unfixable(u)
          return {
            name: u.renamed ? `${u.legacyName} (as ${u.userName})` : u.legacyName,
            value: u.legacyName,
            checked: !disabled && u.selected,
            ...(disabled ? {disabled} : {}),
          }
        }),
      )

      const renames: Record<string, string> = {}
      const effective = () => ({...plan.renames, ...renames})
      for (const u of plan.users.filter((x) => only.includes(x.legacyName))) {
        const current = effective()[u.legacyName] ?? u.legacyName
        const problem = check.renameProblem(u.legacyName, current, effective())
        if (!problem) continue
        const valid = (name: string) => check.renameProblem(u.legacyName, name, effective()) === undefined
        const name = await prompter.input({
          message: `Transfer cannot use ${current} (${problem}). Name on Transfer for ${u.legacyName} (its files stay under home/${u.legacyName}/):`,
          default: suggestName(u.legacyName, valid),
          validate: (value) => check.renameProblem(u.legacyName, value.trim(), effective()) ?? true,
        })
        renames[u.legacyName] = name.trim()
      }

      // An FTP user has no key on the box: its clients move to SFTP with the one given here.
      const givenKeys: Record<string, KeyFile> = {}
      for (const u of plan.users.filter((x) => only.includes(x.legacyName) && x.reasons.some((r) => r.rule === ASKS_KEY))) {
        const line = await prompter.input({
          message: `${u.legacyName} logs in over FTP today and has no SSH key; its clients move to SFTP with the key given here. Its OpenSSH public key (empty: none, the user is skipped):`,
          validate: (value) => enteredKeyProblem(value) ?? true,
        })
        if (line.trim() !== '') givenKeys[u.legacyName] = {file: ENTERED, text: line.trim()}
      }

      const excludedKeys: Record<string, string[]> = {}
      for (const u of plan.users.filter((x) => only.includes(x.legacyName))) {
        const offered = [...u.keys.available.map((k) => ({k, checked: true})), ...u.keys.excluded.map((k) => ({k, checked: false}))]
        if (offered.length < 2 && u.keys.excluded.length === 0) continue
        const choices: Array<CheckboxChoice<string>> = [
          ...offered.map(({k, checked}) => ({name: `${k.type} ${k.fingerprint}${k.comment ? ` ${k.comment}` : ''} (${k.source})`, value: k.fingerprint, checked})),
          ...u.keys.refused.map((k) => ({name: `${k.type} ${k.fingerprint ?? ''} (${k.source})`, value: `refused:${k.source}`, disabled: k.finding.reason})),
        ]
        const chosen = new Set(await pick(prompter, `Keys to import for ${effective()[u.legacyName] ?? u.legacyName}:`, choices))
        excludedKeys[u.legacyName] = offered.map((o) => o.k.fingerprint).filter((fp) => !chosen.has(fp))
      }
      return {only, renames, excludedKeys, givenKeys}
    },

    async confirm(plan: UsersPlan): Promise<boolean> {
      print(`\n${renderUsersPlan(plan)}\n`)
      return prompter.confirm({message: `Apply this plan to ${plan.serverId}?`, default: false})
    },

    show(plan: UsersPlan): void {
      print(`\n${renderUsersPlan(plan)}\n`)
    },
  }
}
